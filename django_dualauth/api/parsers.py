"""A JSON parser that answers bad bodies with a 4xx instead of a 500."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.parsers import BaseParser

from ..conf import dualauth_settings
from ..exceptions import BadRequest, PayloadTooLarge

__all__ = ["StrictJSONParser"]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(BaseParser):
    """RFC 8259 JSON objects only, within ``DUALAUTH_MAX_BODY_SIZE``.

    Size is enforced before and while reading (413); ``NaN``/``Infinity``, invalid UTF-8,
    deep nesting (``RecursionError``) and non-object documents get 400.
    """

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        limit = dualauth_settings.MAX_BODY_SIZE
        request = (parser_context or {}).get("request")
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise BadRequest("Invalid Content-Length") from None
            if declared > limit:
                raise PayloadTooLarge()
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge()
        try:
            data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BadRequest("Malformed JSON body") from None
        if not isinstance(data, dict):
            raise BadRequest("JSON body must be an object")
        return data
