"""drf-spectacular's hooks of the schema the include serves: :func:`package_endpoints` keeps the
package's endpoints only, :func:`session_links` adds the OpenAPI links between them."""

from __future__ import annotations

from typing import Any

from ..api import account, profile, tokens, twofactor
from ..api import login as login_views
from .extensions import described

__all__ = ["package_endpoints", "session_links", "LINKS"]


def package_endpoints(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """The endpoints of ``django_dualauth.urls``, wherever the project mounts them (and of the
    project's subclasses of its views). ``PREPROCESSING_HOOKS`` entry of the schema :mod:`.urls` serves."""
    return [endpoint for endpoint in endpoints if described(getattr(endpoint[3], "cls", type(None)))]


_BEARER_REFRESH = {"refreshToken": "$response.body#/refreshToken"}
_SESSION = "Bearer delivery: the body's `refreshToken`; cookie delivery: the cookies this answer set."

#: The links of each success answer: (view, method, status) → {link name: (target view, target
#: method, the link's ``parameters`` / ``requestBody`` / ``description``)}. A session answer leads to
#: what its tokens open; a 2FA challenge to its second step; the session list to ending one of them.
LINKS: dict[tuple[type[Any], str, int], dict[str, tuple[type[Any], str, dict[str, Any]]]] = {}
_AFTER_SESSION: dict[str, tuple[type[Any], str, dict[str, Any]]] = {
    "me": (profile.MeView, "get", {"description": "The account the new access token opens."}),
    "sessions": (account.SessionListView, "get", {"description": "The sessions, the new one among them."}),
    "refresh": (tokens.RefreshView, "post", {"requestBody": _BEARER_REFRESH,
                                             "description": f"Rotate the new session. {_SESSION}"}),
    "logout": (tokens.LogoutView, "post", {"requestBody": _BEARER_REFRESH,
                                           "description": f"End the new session. {_SESSION}"}),
}
for _producer in (tokens.RefreshView, twofactor.TwoFactorVerifyView):
    LINKS[(_producer, "post", 200)] = _AFTER_SESSION
LINKS[(login_views.LoginView, "post", 200)] = {
    **_AFTER_SESSION,
    "twoFactorVerify": (twofactor.TwoFactorVerifyView, "post", {
        "requestBody": {"tempToken": "$response.body#/tempToken"},
        "description": "A second factor is due (`requiresTwoFactor`): its second step."}),
}
LINKS[(account.SessionListView, "get", 200)] = {
    "endSession": (account.SessionDetailView, "delete", {
        "parameters": {"handle": "$response.body#/sessions/0/handle"},
        "description": "End the first session of the list."}),
}


def session_links(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Add :data:`LINKS` to the answers of ``result`` whose producer and target are both in it
    (a feature that is off takes its links along). ``POSTPROCESSING_HOOKS`` entry of the schema
    :mod:`.urls` serves."""
    operation_ids: dict[tuple[type[Any], str], str] = {}
    for path, _, method, callback in generator.endpoints:
        operation = result["paths"].get(path, {}).get(method.lower())
        view = getattr(callback, "cls", None)
        if operation is not None and view is not None:
            operation_ids[(_linked_view(view), method.lower())] = operation["operationId"]
    by_id = {op["operationId"]: op for item in result["paths"].values() for op in item.values()}
    for (producer, method, status), links in LINKS.items():
        source = operation_ids.get((producer, method))
        if source is None:
            continue
        answer = by_id[source]["responses"][str(status)]
        for name, (target, target_method, fields) in links.items():
            target_id = operation_ids.get((target, target_method))
            if target_id is not None:
                answer.setdefault("links", {})[name] = {"operationId": target_id, **fields}
    return result


def _linked_view(view: type[Any]) -> type[Any]:
    """The view of :data:`LINKS` that ``view`` is (a project's subclass: its package base), or ``view``."""
    return next((cls for cls in view.__mro__ if cls in _LINKED_VIEWS), view)


_LINKED_VIEWS = {view for key in LINKS for view in (key[0], *(target for target, _, _ in LINKS[key].values()))}
