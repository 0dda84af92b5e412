"""Printed by `make demo`: the demo page's address, then how to try both flows with curl, against the port it
serves on."""

import sys

HOWTO = r"""
Demo page: http://127.0.0.1:8000/  (sign in, two-factor, sessions; its mails print on this console)

django-dualauth demo on http://127.0.0.1:8000  (demo user: demo@example.com / demo-password-123,
admin: http://127.0.0.1:8000/admin/  admin / demo-password-123)

API reference (OpenAPI 3): http://127.0.0.1:8000/auth/openapi/docs  (Swagger UI; Redoc at
/auth/openapi/redoc; the schema at /auth/openapi/schema.json and /auth/openapi/schema.yaml)

Mobile (bearer) flow -- tokens in the JSON body:
  curl -s -X POST http://127.0.0.1:8000/auth/login -H 'Content-Type: application/json' \
       -H 'X-Auth-Strategy: bearer' -d '{"email":"demo@example.com","password":"demo-password-123"}'
  curl -s http://127.0.0.1:8000/auth/me -H "Authorization: Bearer <accessToken>"
  curl -s -X POST http://127.0.0.1:8000/auth/refresh -H 'Content-Type: application/json' \
       -H 'X-Auth-Strategy: bearer' -d '{"refreshToken":"<refreshToken>"}'
  curl -s -X POST http://127.0.0.1:8000/auth/logout -H "Authorization: Bearer <accessToken>"

Web (cookie) flow -- HttpOnly cookies, CSRF token and Origin required on POST:
  J=/tmp/dualauth-jar; O='Origin: http://127.0.0.1:8000'
  curl -s -c $J http://127.0.0.1:8000/auth/csrf
  T=$(awk '$6=="csrf-token"{print $7}' $J)
  curl -s -b $J -c $J -X POST http://127.0.0.1:8000/auth/login -H "$O" -H "X-CSRF-Token: $T" \
       -H 'Content-Type: application/json' -d '{"email":"demo@example.com","password":"demo-password-123"}'
  T=$(awk '$6=="csrf-token"{print $7}' $J)   # login rotates the CSRF token: read it again
  curl -s -b $J http://127.0.0.1:8000/auth/me
  curl -s -b $J -c $J -X POST http://127.0.0.1:8000/auth/refresh -H "$O" -H "X-CSRF-Token: $T"
  curl -s -b $J -c $J -X POST http://127.0.0.1:8000/auth/logout -H "$O" -H "X-CSRF-Token: $T"

Magic link (bearer) -- the mail, with the link, is printed on the server console:
  curl -s -X POST http://127.0.0.1:8000/auth/magic-link/send -H 'Content-Type: application/json' \
       -H 'X-Auth-Strategy: bearer' -d '{"email":"demo@example.com"}'
  curl -s -X POST http://127.0.0.1:8000/auth/magic-link/verify -H 'Content-Type: application/json' \
       -H 'X-Auth-Strategy: bearer' -d '{"token":"<token= value from the link>"}'

SMS (bearer) -- the demo user has no phone yet: add one with the access token from a login;
each code is printed on the server console ("[django-dualauth SMS to +1...] 123456 is ..."):
  curl -s -X POST http://127.0.0.1:8000/auth/sms/phone -H 'Content-Type: application/json' \
       -H "Authorization: Bearer <accessToken>" -d '{"phoneNumber":"+14155550123"}'
  curl -s -X POST http://127.0.0.1:8000/auth/sms/phone/verify -H 'Content-Type: application/json' \
       -H "Authorization: Bearer <accessToken>" -d '{"code":"<code>"}'
  # then log in by SMS (a new code at most once a minute per phone):
  curl -s -X POST http://127.0.0.1:8000/auth/sms/send -H 'Content-Type: application/json' \
       -H 'X-Auth-Strategy: bearer' -d '{"email":"demo@example.com"}'
  curl -s -X POST http://127.0.0.1:8000/auth/sms/verify -H 'Content-Type: application/json' \
       -H 'X-Auth-Strategy: bearer' -d '{"email":"demo@example.com","code":"<code>"}'

Staff API (docs/admin.md) -- sign in as the admin (admin@example.com) with bearer, then:
  curl -s 'http://127.0.0.1:8000/admin/api/users?limit=20&offset=0' -H "Authorization: Bearer <accessToken>"
  curl -s 'http://127.0.0.1:8000/admin/api/sessions?state=active' -H "Authorization: Bearer <accessToken>"
  curl -s -X POST http://127.0.0.1:8000/admin/api/users/<id>/deactivate -H 'Content-Type: application/json' \
       -H "Authorization: Bearer <accessToken>" -d '{"reason":"why, for the History"}'

Forgot password -- the mail, with the reset link, is printed on the server console; every session ends:
  curl -s -X POST http://127.0.0.1:8000/auth/forgot-password -H 'Content-Type: application/json' \
       -d '{"email":"demo@example.com"}'
  curl -s -X POST http://127.0.0.1:8000/auth/reset-password -H 'Content-Type: application/json' \
       -d '{"token":"<token= value from the link>","password":"<a new password>"}'
"""


def howto(port: int = 8000) -> str:
    """The examples for a demo served on 127.0.0.1:``port``."""
    return HOWTO.replace("127.0.0.1:8000", f"127.0.0.1:{port}")


def main(argv: list[str] | None = None) -> None:
    """``python -m example_project.demo.howto [PORT]``."""
    args = sys.argv[1:] if argv is None else argv
    print(howto(int(args[0]) if args else 8000))


if __name__ == "__main__":
    main()
