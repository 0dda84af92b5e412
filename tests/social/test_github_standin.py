"""The GitHub stand-in (github_standin.py) behaves as GitHub documents its OAuth web flow and
user API, so a sign-in that works against it follows GitHub's rules."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from .github_standin import GitHubApp, GitHubEmail, GitHubStandIn, GitHubUser
from .oidc_provider import Pkce
from .system_browser import SystemBrowser

pytestmark = pytest.mark.test_infrastructure


def _authorize(github: GitHubStandIn, app: GitHubApp, **params: str) -> dict[str, str]:
    query = urllib.parse.urlencode({"client_id": app.client_id, "state": "st-1", **params})
    page = SystemBrowser().follow(f"{github.authorize_url}?{query}", stop_at=app.callback_url.split("/callback")[0])
    assert page.status == 302, (page.status, page.text[:300])
    return page.query()


def _token(github: GitHubStandIn, fields: dict[str, str], accept: str | None = "application/json") -> tuple[str, Any]:
    headers = {"Accept": accept} if accept else {}
    request = urllib.request.Request(github.token_url, data=urllib.parse.urlencode(fields).encode(),
                                     method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200  # GitHub answers errors with 200 too
        body = answer.read().decode()
        kind = answer.headers["Content-Type"]
    return kind, json.loads(body) if kind.startswith("application/json") else dict(urllib.parse.parse_qsl(body))


def _api(github: GitHubStandIn, path: str, token: str | None, scheme: str = "Bearer") -> tuple[int, Any]:
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    request = urllib.request.Request(github.api_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def _fields(app: GitHubApp, code: str, **extra: str) -> dict[str, str]:
    return {"client_id": app.client_id, "client_secret": app.client_secret, "code": code, **extra}


def test_authorize_code_token_user_and_emails(github: GitHubStandIn, loopback_capture: Any) -> None:
    app = github.register_app(loopback_capture.url("/callback"), user=GitHubUser(login="hubot", id=42, email=None),
                              emails=[GitHubEmail("hubot@private.example", primary=True, verified=True),
                                      GitHubEmail("old@hubot.example", verified=False)])
    pkce = Pkce.new()
    query = _authorize(github, app, redirect_uri=app.callback_url, scope="read:user user:email",
                       code_challenge=pkce.challenge, code_challenge_method="S256")
    assert query["state"] == "st-1"
    kind, body = _token(github, _fields(app, query["code"], redirect_uri=app.callback_url,
                                        code_verifier=pkce.verifier))
    assert kind.startswith("application/json")
    assert body["token_type"] == "bearer" and body["scope"] == "read:user,user:email"
    token = body["access_token"]

    assert _api(github, "/user", token) == (200, {**GitHubUser(login="hubot", id=42, email=None).as_json(
        github.base_url)})
    status, emails = _api(github, "/user/emails", token, scheme="token")
    assert status == 200
    assert [(e["email"], e["primary"], e["verified"]) for e in emails] == [
        ("hubot@private.example", True, True), ("old@hubot.example", False, False)]


def test_a_code_is_single_use_and_bound_to_its_app(github: GitHubStandIn, github_app: GitHubApp) -> None:
    code = _authorize(github, github_app)["code"]
    other = github.register_app(github_app.callback_url)
    assert _token(github, _fields(other, code))[1]["error"] == "bad_verification_code"
    code = _authorize(github, github_app)["code"]
    assert "access_token" in _token(github, _fields(github_app, code))[1]
    assert _token(github, _fields(github_app, code))[1]["error"] == "bad_verification_code"


def test_a_wrong_client_secret_is_refused(github: GitHubStandIn, github_app: GitHubApp) -> None:
    code = _authorize(github, github_app)["code"]
    body = _token(github, {**_fields(github_app, code), "client_secret": "wrong"})[1]
    assert body["error"] == "incorrect_client_credentials"
    assert "access_token" not in body


def test_without_accept_json_the_answer_is_form_encoded(github: GitHubStandIn, github_app: GitHubApp) -> None:
    code = _authorize(github, github_app, scope="user:email")["code"]
    kind, body = _token(github, _fields(github_app, code), accept=None)
    assert kind.startswith("application/x-www-form-urlencoded")
    assert body["token_type"] == "bearer" and body["access_token"].startswith("gho_")


def test_pkce_verifier_is_checked(github: GitHubStandIn, github_app: GitHubApp) -> None:
    pkce = Pkce.new()
    code = _authorize(github, github_app, code_challenge=pkce.challenge, code_challenge_method="S256")["code"]
    assert _token(github, _fields(github_app, code, code_verifier=Pkce.new().verifier))[1]["error"] == \
        "bad_verification_code"
    plain = _authorize(github, github_app, code_challenge="x" * 43, code_challenge_method="plain")
    assert plain["error"] == "invalid_request" and "code" not in plain


@pytest.mark.parametrize(("redirect", "allowed"), [
    ("{cb}", True), ("{cb}/sub", True), ("http://127.0.0.1:1/callback", True),  # loopback: any port
    ("{base}/elsewhere", False), ("{base}/callbackx", False), ("http://localhost:1/callback", False)])
def test_redirect_uri_rules(github: GitHubStandIn, github_app: GitHubApp, redirect: str, allowed: bool) -> None:
    base = github_app.callback_url.rsplit("/", 1)[0]
    uri = redirect.format(cb=github_app.callback_url, base=base)
    query = urllib.parse.urlencode({"client_id": github_app.client_id, "redirect_uri": uri, "state": "s"})
    page = SystemBrowser().follow(f"{github.authorize_url}?{query}", stop_at=lambda url: True)
    target = page.location or ""
    if allowed:
        assert target.startswith(uri + "?") and "code" in page.query()
    else:
        assert target.startswith(github_app.callback_url + "?")
        assert page.query()["error"] == "redirect_uri_mismatch" and "code" not in page.query()


def test_denied_authorization(github: GitHubStandIn, github_app: GitHubApp) -> None:
    github_app.deny = True
    query = _authorize(github, github_app)
    assert query["error"] == "access_denied" and query["state"] == "st-1"


def test_the_api_refuses_missing_or_bad_tokens_and_emails_need_their_scope(
        github: GitHubStandIn, github_app: GitHubApp) -> None:
    assert _api(github, "/user", None)[0] == 401
    assert _api(github, "/user", "gho_nope")[1]["message"] == "Bad credentials"
    code = _authorize(github, github_app, scope="read:user")["code"]
    token = _token(github, _fields(github_app, code))[1]["access_token"]
    assert _api(github, "/user", token)[0] == 200
    assert _api(github, "/user/emails", token)[0] == 404
