"""``crypto.looks_like_secret``: the shape check every secret passes before a digest or query.

It is also a ``TypeGuard[str]``: the services call ``digests(raw, ...)`` on ``raw: object``
right after it, so a non-``str`` reaching them would be a type error (``make test`` runs mypy)
and, at run time, a ``TypeError`` (a 500). These tests pin the run-time half.
"""

from __future__ import annotations

import pytest

from django_dualauth.crypto import looks_like_secret, new_secret


def test_a_fresh_secret_passes() -> None:
    assert looks_like_secret(new_secret())


@pytest.mark.parametrize("raw", [None, 42, 4.2, True, b"A" * 43, ["A" * 43], {"token": "A" * 43}, object()],
                         ids=["none", "int", "float", "bool", "bytes", "list", "dict", "object"])
def test_anything_but_a_str_fails(raw: object) -> None:
    assert not looks_like_secret(raw)


@pytest.mark.parametrize("raw", ["", "A" * 31, "A" * 129, "A" * 42 + "=", "A" * 42 + " ", " " + "A" * 42,
                                 "A" * 42 + "\n", "A" * 42 + "é", "A" * 20 + "." + "A" * 20],
                         ids=["empty", "short", "long", "padding", "trailing-space", "leading-space",
                              "trailing-newline", "non-ascii", "dot"])
def test_a_str_of_the_wrong_shape_fails(raw: str) -> None:
    assert not looks_like_secret(raw)


@pytest.mark.parametrize("length", [32, 128])
def test_the_length_bounds_are_inclusive(length: int) -> None:
    assert looks_like_secret("A" * length)
