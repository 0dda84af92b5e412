"""The delivery object (issue 16, item 2): one ``Delivery`` enum, and the ``for_*`` questions
that hand views a ``TokenDelivery`` to guard, read and answer with, without HTTP round trips."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from rest_framework.test import APIRequestFactory

from django_dualauth import delivery
from django_dualauth.delivery import BearerDelivery, CookieDelivery, Credential
from django_dualauth.exceptions import CSRFFailed, DeliveryNotAllowed
from django_dualauth.models import AuthSession
from django_dualauth.types import Delivery

factory = APIRequestFactory()
CROSS_SITE = {"HTTP_ORIGIN": "https://evil.example"}


def test_one_definition_of_the_names() -> None:
    assert [d.value for d in Delivery] == ["cookie", "bearer"]
    assert [value for value, _ in AuthSession._meta.get_field("delivery").choices] == [d.value for d in Delivery]
    assert delivery.COOKIE is Delivery.COOKIE and delivery.BEARER is Delivery.BEARER
    assert {delivery.get_delivery(d).name for d in Delivery} == set(Delivery)
    assert delivery.get_delivery("cookie") is delivery.get_delivery(Delivery.COOKIE)  # a stored value


def test_for_request_follows_the_header_within_the_policy(settings: Any) -> None:
    assert isinstance(delivery.for_request(factory.post("/x")), CookieDelivery)
    assert isinstance(delivery.for_request(factory.post("/x", HTTP_X_AUTH_STRATEGY="bearer")), BearerDelivery)
    settings.DUALAUTH_DELIVERY_POLICY = "cookie"
    with pytest.raises(DeliveryNotAllowed):
        delivery.for_request(factory.post("/x", HTTP_X_AUTH_STRATEGY="bearer"))
    settings.DUALAUTH_DELIVERY_POLICY = "bearer"
    assert isinstance(delivery.for_request(factory.post("/x")), BearerDelivery)


def test_for_headers_ignores_the_policy(settings: Any) -> None:
    settings.DUALAUTH_DELIVERY_POLICY = "cookie"
    assert isinstance(delivery.for_headers(factory.post("/x", HTTP_X_AUTH_STRATEGY="bearer")), BearerDelivery)
    settings.DUALAUTH_DELIVERY_POLICY = "bearer"
    assert isinstance(delivery.for_headers(factory.post("/x")), CookieDelivery)


@pytest.mark.parametrize("name", list(Delivery))
def test_for_session_and_for_credential_use_the_recorded_name(name: Delivery) -> None:
    assert delivery.for_session(SimpleNamespace(delivery=name.value)).name is name
    assert delivery.for_credential(Credential("raw", name)).name is name


def test_for_ended_session_clears_cookies_only_for_their_holder() -> None:
    holder = factory.post("/x", HTTP_COOKIE=f"{delivery.refresh_cookie_name()}=r")
    assert isinstance(delivery.for_ended_session(holder), CookieDelivery)
    assert isinstance(delivery.for_ended_session(factory.post("/x")), BearerDelivery)


def test_only_the_cookie_delivery_guards() -> None:
    forged = factory.post("/x", {}, format="json", **CROSS_SITE)
    with pytest.raises(CSRFFailed):
        delivery.get_delivery(Delivery.COOKIE).guard(forged)
    assert delivery.get_delivery(Delivery.BEARER).guard(forged) is None
    delivery.get_delivery(Delivery.COOKIE).guard(factory.get("/x", **CROSS_SITE))  # safe method


def test_only_the_cookie_delivery_sees_a_held_refresh_token() -> None:
    request = factory.post("/x", HTTP_COOKIE=f"{delivery.refresh_cookie_name()}=held")
    assert delivery.get_delivery(Delivery.COOKIE).held_refresh_token(request) == "held"
    assert delivery.get_delivery(Delivery.BEARER).held_refresh_token(request) is None
    planted = factory.post("/x", HTTP_COOKIE=f"{delivery.refresh_cookie_name()}=a; {delivery.refresh_cookie_name()}=b")
    assert delivery.get_delivery(Delivery.COOKIE).held_refresh_token(planted) is None


@pytest.mark.parametrize(("meta", "expected"), [
    ({}, None),
    ({"HTTP_AUTHORIZATION": "Bearer tok"}, ("access", "tok", Delivery.BEARER)),
    ({"HTTP_AUTHORIZATION": "Bearer tok", "HTTP_COOKIE": "{refresh}=r"}, ("access", "tok", Delivery.BEARER)),
    ({"HTTP_COOKIE": "{access}=a; {refresh}=r"}, ("refresh", "r", Delivery.COOKIE)),
    ({"HTTP_COOKIE": "{access}=a"}, ("access", "a", Delivery.COOKIE)),
    ({"HTTP_AUTHORIZATION": "Basic eA==", "HTTP_COOKIE": "{access}=a"}, None),
])
def test_logout_credential_prefers_bearer_then_refresh(meta: dict[str, str], expected: Any) -> None:
    names = {"access": delivery.access_cookie_name(), "refresh": delivery.refresh_cookie_name()}
    request = factory.post("/x", **{k: v.format(**names) for k, v in meta.items()})
    found = delivery.logout_credential(request, {})
    assert (None if found is None else (found[0], found[1].raw, found[1].via)) == expected


def test_a_bearer_body_refresh_token_names_the_session_at_logout() -> None:
    found = delivery.logout_credential(factory.post("/x"), {"refreshToken": "body"})
    assert found is not None and found[0] == "refresh" and found[1] == Credential("body", Delivery.BEARER)
