"""The refusals kept on purpose where node-auth's behaviour is a hole, each with a stable code
that names what the client must send (docs/node-auth-compatibility.md).

None of them is a 401: node-auth's clients refresh and retry on a 401, and a refresh cannot
supply a missing proof.
"""

from __future__ import annotations

from ..exceptions import EmailRequired, ReauthenticationRequired

__all__ = ["require_proof", "require_email"]


def _fields(data: object) -> frozenset[str]:
    # A body that is no JSON object is the parser's 400; an empty body parses to an empty QueryDict.
    keys = getattr(data, "keys", None)
    return frozenset(str(k) for k in keys()) if callable(keys) else frozenset()


def require_proof(data: object, accepted: tuple[str, ...]) -> None:
    """403 ``REAUTHENTICATION_REQUIRED`` naming ``accepted`` when the body carries none of those
    fields. A proof that is present but malformed or wrong is answered as before (400 or 403
    ``REAUTHENTICATION_FAILED``)."""
    if not _fields(data) & set(accepted):
        raise ReauthenticationRequired(accepted)


def require_email(data: object) -> None:
    """400 ``EMAIL_REQUIRED`` for node-auth's SMS sign-in by ``userId`` without ``email``."""
    fields = _fields(data)
    if "userId" in fields and "email" not in fields:
        raise EmailRequired()
