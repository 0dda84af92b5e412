from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


def test_login_me_refresh_logout(auth_client, user):
    r = auth_client.login()
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["success"] is True
    if auth_client.is_cookie:
        assert "refreshToken" not in body and "accessToken" not in body
    else:
        assert body["accessToken"] and body["refreshToken"]
    me = auth_client.me()
    assert me.status_code == 200, me.content
    assert me.json()["email"] == user.email
    r2 = auth_client.refresh()
    assert r2.status_code == 200, r2.content
    assert auth_client.me().status_code == 200
    out = auth_client.logout()
    assert out.status_code == 200, out.content
    again = auth_client.refresh()
    assert again.status_code == 401, again.content
