"""``GET .well-known/jwks.json``: the public keys that verify our access tokens (RFC 7517), for
resource servers that check them without our database (docs/jwks.md).

On only while ``DUALAUTH_JWT_KEYS`` holds an asymmetric key (the JWK set is built from those
alone: an HMAC secret is never published); otherwise the app's JSON 404. Public and the same for
every caller: no authentication, no CSRF check, no cookie planted, no query; cacheable for
``DUALAUTH_JWKS_MAX_AGE``, with an ``ETag`` so a revalidation costs a 304.

``Content-Type: application/json``, not RFC 7517's ``application/jwk-set+json``: what OpenID
Connect providers serve and what every JWKS client accepts (some check for exactly it).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from rest_framework.request import Request

from ..conf import JwkSet, snapshot
from .base import FeatureView

__all__ = ["JwksView"]


class JwksView(FeatureView):
    plants_csrf_cookie = False  # a shared cache must not hand one browser's cookie to another

    def enabled(self) -> bool:
        return snapshot().jwk_set is not None

    def get(self, request: Request) -> HttpResponse:
        jwks = self._jwk_set()
        response = HttpResponse(jwks.body, content_type="application/json")
        response["ETag"] = jwks.etag
        # If-None-Match (a list, weak tags, "*") as Django's conditional GET reads it: a 304
        # that keeps ETag and Cache-Control, or the 200 itself.
        return get_conditional_response(request._request, etag=jwks.etag, response=response) or response

    def _jwk_set(self) -> JwkSet:
        jwks = snapshot().jwk_set
        assert jwks is not None  # enabled() said so in initial()
        return jwks

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code in (200, 304):
            # Replaces the base view's no-store: this body holds no secret and changes only with the keys.
            response["Cache-Control"] = self._jwk_set().cache_control
            del response["Pragma"]
        return response
