"""The contenders as request recipes, independent of the transport (in-process WSGI or HTTP).

Nothing here imports Django: the load generator (a separate process) uses the same recipes.
A contender's *state* is a plain dict (cookies, tokens) that survives JSON, so chains can be
handed from the orchestrator to the load generator and back.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

PASSWORD = "bench-Password-0123456789!"
JSON_CT = "application/json"


def user_email(i: int) -> str:
    return f"bench{i}@example.com"


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Resp:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    elapsed_ns: int = 0

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def update_cookies(jar: dict[str, str], resp: Resp) -> None:
    for name, value in resp.headers:
        if name.lower() != "set-cookie":
            continue
        first, _, attrs = value.partition(";")
        key, _, val = first.partition("=")
        key, val = key.strip(), val.strip().strip('"')
        if not val or "max-age=0" in attrs.lower():
            jar.pop(key, None)
        else:
            jar[key] = val


def cookie_header(jar: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


class Contender:
    name = ""
    prefix = ""
    label = ""
    can_login = True
    can_refresh = False
    needs_redis = False  # served only where the shared cache is Redis (parts 2-5)

    def new_state(self, host: str, user: int = 0) -> dict[str, Any]:
        return {"host": host, "user": user, "cookies": {}}

    def login_request(self, st: dict[str, Any]) -> Req:
        raise NotImplementedError

    def on_login(self, st: dict[str, Any], resp: Resp) -> None:
        update_cookies(st["cookies"], resp)

    def get_request(self, st: dict[str, Any]) -> Req:
        raise NotImplementedError

    def refresh_request(self, st: dict[str, Any]) -> Req:
        raise NotImplementedError

    def on_refresh(self, st: dict[str, Any], resp: Resp) -> None:
        update_cookies(st["cookies"], resp)


class Bare(Contender):
    name, prefix, label = "bare", "/bare", "bare DRF view (floor)"
    can_login = False

    def get_request(self, st: dict[str, Any]) -> Req:
        return Req("GET", "/bare/api/me", {})


class Session(Contender):
    name, prefix, label = "session", "/session", "DRF SessionAuthentication"

    def login_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", "/session/login", {"Content-Type": JSON_CT},
                   _json({"username": user_email(st["user"]), "password": PASSWORD}))

    def get_request(self, st: dict[str, Any]) -> Req:
        return Req("GET", "/session/api/me", cookie_header(st["cookies"]))


class SimpleJWT(Contender):
    name, prefix, label = "simplejwt", "/simplejwt", "simplejwt (rotate + blacklist)"
    can_refresh = True

    def login_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", "/simplejwt/login", {"Content-Type": JSON_CT},
                   _json({"username": user_email(st["user"]), "password": PASSWORD}))

    def on_login(self, st: dict[str, Any], resp: Resp) -> None:
        data = resp.json()
        st["access"], st["refresh"] = data["access"], data["refresh"]

    def get_request(self, st: dict[str, Any]) -> Req:
        return Req("GET", "/simplejwt/api/me", {"Authorization": f"Bearer {st['access']}"})

    def refresh_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", "/simplejwt/refresh", {"Content-Type": JSON_CT},
                   _json({"refresh": st["refresh"]}))

    on_refresh = on_login


class Knox(Contender):
    name, prefix, label = "knox", "/knox", "django-rest-knox"

    def login_request(self, st: dict[str, Any]) -> Req:
        basic = base64.b64encode(f"{user_email(st['user'])}:{PASSWORD}".encode()).decode()
        return Req("POST", "/knox/login", {"Authorization": f"Basic {basic}"})

    def on_login(self, st: dict[str, Any], resp: Resp) -> None:
        st["access"] = resp.json()["token"]

    def get_request(self, st: dict[str, Any]) -> Req:
        return Req("GET", "/knox/api/me", {"Authorization": f"Token {st['access']}"})


class DjRestAuth(Contender):
    name, prefix, label = "djrestauth", "/djrestauth", "dj-rest-auth (JWT cookies)"
    can_refresh = True

    def login_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", "/djrestauth/login", {"Content-Type": JSON_CT, **cookie_header(st["cookies"])},
                   _json({"email": user_email(st["user"]), "password": PASSWORD}))

    def get_request(self, st: dict[str, Any]) -> Req:
        return Req("GET", "/djrestauth/api/me", cookie_header(st["cookies"]))

    def refresh_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", "/djrestauth/refresh",
                   {"Content-Type": JSON_CT, **cookie_header(st["cookies"])}, b"{}")


def _csrf_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


class DualAuthCookie(Contender):
    name, prefix, label = "dualauth-cookie", "/dualauth-cookie", "django-dualauth cookie (db check)"
    can_refresh = True

    def new_state(self, host: str, user: int = 0) -> dict[str, Any]:
        st = super().new_state(host, user)
        st["cookies"]["csrf-token"] = _csrf_secret()  # as the browser holds after GET csrf
        return st

    def _unsafe_headers(self, st: dict[str, Any]) -> dict[str, str]:
        return {"Origin": f"http://{st['host']}", "X-CSRF-Token": st["cookies"].get("csrf-token", ""),
                **cookie_header(st["cookies"])}

    def login_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", f"{self.prefix}/auth/login", {"Content-Type": JSON_CT, **self._unsafe_headers(st)},
                   _json({"email": user_email(st["user"]), "password": PASSWORD}))

    def get_request(self, st: dict[str, Any]) -> Req:
        return Req("GET", f"{self.prefix}/api/me", cookie_header(st["cookies"]))

    def refresh_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", f"{self.prefix}/auth/refresh", self._unsafe_headers(st))


class DualAuthBearer(Contender):
    name, prefix, label = "dualauth-bearer", "/dualauth-bearer", "django-dualauth bearer (db check)"
    can_refresh = True

    def login_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", f"{self.prefix}/auth/login", {"Content-Type": JSON_CT, "X-Auth-Strategy": "bearer"},
                   _json({"email": user_email(st["user"]), "password": PASSWORD}))

    def on_login(self, st: dict[str, Any], resp: Resp) -> None:
        data = resp.json()
        st["access"], st["refresh"] = data["accessToken"], data["refreshToken"]

    def get_request(self, st: dict[str, Any]) -> Req:
        return Req("GET", f"{self.prefix}/api/me", {"Authorization": f"Bearer {st['access']}"})

    def refresh_request(self, st: dict[str, Any]) -> Req:
        return Req("POST", f"{self.prefix}/auth/refresh", {"Content-Type": JSON_CT, "X-Auth-Strategy": "bearer"},
                   _json({"refreshToken": st["refresh"]}))

    on_refresh = on_login


class DualAuthCache(DualAuthBearer):
    name, prefix, label = "dualauth-cache", "/dualauth-cache", "django-dualauth bearer (cache check, push off)"


class DualAuthPush(DualAuthBearer):
    name, prefix, label = "dualauth-push", "/dualauth-push", "django-dualauth bearer (cache check + push)"
    needs_redis = True


ALL_CONTENDERS: list[Contender] = [Bare(), Session(), SimpleJWT(), Knox(), DjRestAuth(),
                                   DualAuthCookie(), DualAuthBearer(), DualAuthCache(), DualAuthPush()]
BY_NAME = {c.name: c for c in ALL_CONTENDERS}


def contenders_for(db: str) -> list[Contender]:
    """Those this database's settings serve (push needs the Redis of the PostgreSQL settings)."""
    return [c for c in ALL_CONTENDERS if db == "postgres" or not c.needs_redis]
