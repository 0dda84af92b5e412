"""The system-browser client (system_browser.py) with the app under test in-process: a mounted
Django test client, redirects followed, and a form posted with its CSRF token, as the app-flow
tests will use it against the app's own pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from .system_browser import SystemBrowser

pytestmark = [pytest.mark.django_db, pytest.mark.test_infrastructure]


def test_a_mounted_test_client_follows_redirects_and_posts_forms_with_their_csrf_token(
        django_user_model: Any) -> None:
    django_user_model.objects.create_superuser("root", "root@example.com", "root-password-1")
    browser = SystemBrowser()
    browser.mount("http://testserver", Client(enforce_csrf_checks=True))
    page = browser.follow("http://testserver/admin/")
    assert page.url.startswith("http://testserver/admin/login/")
    assert "csrfmiddlewaretoken" in page.form("login-form").fields

    page = browser.submit(page, {"username": "root", "password": "root-password-1"}, form_id="login-form",
                          stop_at="http://testserver/admin/")
    assert page.location == "http://testserver/admin/"

    without_token = SystemBrowser()
    without_token.mount("http://testserver", Client(enforce_csrf_checks=True))
    login = without_token.follow("http://testserver/admin/login/")
    form = login.form("login-form")
    refused = without_token.request("POST", form.action, {"username": "root", "password": "root-password-1"})
    assert refused.status == 403
