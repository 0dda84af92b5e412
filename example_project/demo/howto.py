"""Printed by `make demo`: how to try both flows with curl."""

HOWTO = r"""
django-dualauth demo on http://127.0.0.1:8000  (demo user: demo@example.com / demo-password-123,
admin: http://127.0.0.1:8000/admin/  admin / demo-password-123)

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
"""


def main() -> None:
    print(HOWTO)
