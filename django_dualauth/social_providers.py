"""The sign-in providers of ``DUALAUTH_SOCIAL_PROVIDERS``, parsed into one immutable record each.

Pure: no settings, no network. ``conf.py`` builds the records once per process
(``conf.Snapshot.social_providers``) and ``checks.py`` reports what :func:`parse_providers`
refuses. A provider is a *name* (the URL segment, ``oauth/<name>/...``) and a *kind*:

- ``google``: issuers ``https://accounts.google.com`` and ``accounts.google.com`` (Google
  documents both), keys at ``https://www.googleapis.com/oauth2/v3/certs``, RS256;
- ``apple``: issuer ``https://appleid.apple.com``, keys at ``https://appleid.apple.com/auth/keys``,
  RS256; the id_token carries SHA-256 of the nonce (Apple's SDK convention, ``nonce_hashed``);
- ``oidc``: any OpenID Connect provider: ``issuer`` is required, its keys are found through its
  discovery document unless ``jwks_uri`` is given;
- ``github``: OAuth only (no id_token), configured for the redirect flow of the next step; the
  native exchange refuses it.

``redirect_uri`` turns the redirect flow on (``oauth/<name>`` and its callback): the callback's
URL exactly as registered with the provider, never derived from the request's ``Host``.

Every endpoint (``issuer``, ``jwks_uri``, ``discovery_url``, and the redirect flow's
``authorization_endpoint``, ``token_endpoint``, ``userinfo_endpoint``) may be overridden, which is
how the tests point providers at loopback.

Apple's client authentication is a *client secret JWT* signed ES256 by the team's key
(``team_id``, ``key_id``, ``private_key``: a PEM, a secret loaded from the environment or a
file). With it the server exchanges the app's ``authorizationCode`` for Apple's refresh token
(kept encrypted, revoked at ``revoke_endpoint`` when the account or the link goes) and serves
Apple's web redirect flow (``response_mode=form_post``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["KINDS", "ID_TOKEN_KINDS", "ProviderConfig", "ProviderConfigError", "parse_providers",
           "return_url_problem"]

GOOGLE, APPLE, OIDC, GITHUB = "google", "apple", "oidc", "github"
KINDS = (GOOGLE, APPLE, OIDC, GITHUB)
#: The kinds whose sign-in proof is an OpenID Connect id_token (the native exchange).
ID_TOKEN_KINDS = frozenset({GOOGLE, APPLE, OIDC})
#: Asymmetric algorithms a provider may be pinned to: a shared-secret algorithm (HS256) would let
#: anyone holding the published key forge tokens, and ``none`` signs nothing.
ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                                "EdDSA"})

_DEFAULTS: dict[str, dict[str, Any]] = {
    GOOGLE: {"issuers": ("https://accounts.google.com", "accounts.google.com"),
             "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
             "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
             "token_endpoint": "https://oauth2.googleapis.com/token", "scopes": ("openid", "email", "profile")},
    APPLE: {"issuers": ("https://appleid.apple.com",), "jwks_uri": "https://appleid.apple.com/auth/keys",
            "authorization_endpoint": "https://appleid.apple.com/auth/authorize",
            "token_endpoint": "https://appleid.apple.com/auth/token", "scopes": ("name", "email"),
            "revoke_endpoint": "https://appleid.apple.com/auth/revoke", "nonce_hashed": True},
    OIDC: {"scopes": ("openid", "email", "profile")},
    GITHUB: {"authorization_endpoint": "https://github.com/login/oauth/authorize",
             "token_endpoint": "https://github.com/login/oauth/access_token",
             "userinfo_endpoint": "https://api.github.com/user", "scopes": ("read:user", "user:email")},
}

_KNOWN_KEYS = frozenset({
    "kind", "client_ids", "client_secret", "issuer", "issuers", "jwks_uri", "discovery_url", "algorithms",
    "link_verified_email", "nonce_hashed", "authorization_endpoint", "token_endpoint", "userinfo_endpoint",
    "scopes", "timeout", "display_name", "redirect_uri", "team_id", "key_id", "private_key", "revoke_endpoint",
})
#: Apple's client-secret options: all three or none (system check E019 reports a partial set).
APPLE_KEY_OPTIONS = ("team_id", "key_id", "private_key")


MAX_RETURN_URL_LENGTH = 2048


def return_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be an allowlisted return URL, or None (for the system check)."""
    if not isinstance(url, str) or not url or len(url) > MAX_RETURN_URL_LENGTH or not url.isprintable() \
            or " " in url or "\\" in url:
        return "not a printable URL without spaces or backslashes"
    split = urlsplit(url)
    if not split.scheme or not split.netloc:
        return "not an absolute URL (scheme://host...)"
    if "@" in split.netloc:
        return "has userinfo (user@host)"
    if split.fragment or "#" in url:
        return "has a fragment"
    return None


class ProviderConfigError(ValueError):
    """``DUALAUTH_SOCIAL_PROVIDERS`` holds a provider that cannot work; the message says why."""


@dataclass(frozen=True)
class ProviderConfig:
    """One configured provider.

    ``client_ids`` are the accepted audiences (web, iOS bundle id or Apple Services ID, Android):
    an id_token's ``aud`` must be one of them, and so must ``azp`` where the token has one. The
    first is the one the redirect flow presents. ``link_verified_email`` lets a sign-in whose
    provider-verified address matches an existing account link to it (off: ``409
    OAUTH_ACCOUNT_CONFLICT``). ``nonce_hashed``: the id_token's ``nonce`` is the hex SHA-256 of
    the nonce the server issued (Apple).
    """

    name: str
    kind: str
    client_ids: tuple[str, ...]
    client_secret: str = ""
    issuers: tuple[str, ...] = ()
    jwks_uri: str = ""
    discovery_url: str = ""
    algorithms: tuple[str, ...] = ("RS256",)
    link_verified_email: bool = False
    nonce_hashed: bool = False
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    userinfo_endpoint: str = ""
    scopes: tuple[str, ...] = ()
    timeout: float = 5.0
    display_name: str = ""
    redirect_uri: str = ""
    team_id: str = ""
    key_id: str = ""
    private_key: str = ""
    revoke_endpoint: str = ""

    @property
    def has_client_key(self) -> bool:
        """Apple: the team's key that signs the client secret JWT is configured (all three parts)."""
        return self.kind == APPLE and bool(self.team_id and self.key_id and self.private_key)

    @property
    def redirect_flow(self) -> bool:
        """Whether the browser and app redirect flow serves this provider: its ``redirect_uri``
        (the callback exactly as registered with the provider) is set, and for Apple the key that
        signs its client secret (Apple has no static secret)."""
        return bool(self.redirect_uri) and (self.kind != APPLE or self.has_client_key)

    @property
    def form_post(self) -> bool:
        """The provider answers the redirect flow by a cross-site POST (Apple's
        ``response_mode=form_post``, which Apple requires when ``name`` or ``email`` is asked)."""
        return self.kind == APPLE

    @property
    def pkce(self) -> bool:
        """Whether the redirect flow sends PKCE (Apple documents none; the nonce and the state do its work)."""
        return self.kind != APPLE

    @property
    def uses_id_tokens(self) -> bool:
        return self.kind in ID_TOKEN_KINDS

    @property
    def title(self) -> str:
        return self.display_name or self.name.capitalize()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ProviderConfigError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _one(name: str, raw: Any) -> ProviderConfig:
    if not isinstance(raw, Mapping):
        raise ProviderConfigError(f"provider {name!r} must be a dict")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ProviderConfigError(f"provider {name!r} has unknown keys {unknown}")
    kind = raw.get("kind", name)
    if kind not in KINDS:
        raise ProviderConfigError(f"provider {name!r}: kind must be one of {list(KINDS)}, not {kind!r}")
    values: dict[str, Any] = dict(_DEFAULTS[kind])
    client_ids = _strings(raw.get("client_ids", ()), f"provider {name!r}: client_ids")
    if not client_ids:
        raise ProviderConfigError(f"provider {name!r} needs at least one client id (client_ids)")
    if "issuer" in raw or "issuers" in raw:
        values["issuers"] = _strings(raw.get("issuers", raw.get("issuer")), f"provider {name!r}: issuer(s)")
    if kind == OIDC and not values.get("issuers"):
        raise ProviderConfigError(f"provider {name!r}: an oidc provider needs its issuer")
    for key in ("jwks_uri", "discovery_url", "authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                "client_secret", "display_name", "redirect_uri", "team_id", "key_id", "private_key",
                "revoke_endpoint"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise ProviderConfigError(f"provider {name!r}: {key} must be a string")
            values[key] = raw[key]
    if kind == OIDC and not values.get("jwks_uri") and not values.get("discovery_url"):
        values["discovery_url"] = values["issuers"][0].rstrip("/") + "/.well-known/openid-configuration"
    redirect_uri = values.get("redirect_uri", "")
    if redirect_uri and (not redirect_uri.startswith(("https://", "http://")) or "#" in redirect_uri):
        raise ProviderConfigError(f"provider {name!r}: redirect_uri must be an absolute http(s) URL, no fragment")
    if kind != APPLE and any(raw.get(key) for key in (*APPLE_KEY_OPTIONS, "revoke_endpoint")):
        raise ProviderConfigError(f"provider {name!r}: team_id, key_id, private_key and revoke_endpoint are "
                                  "Apple's options")
    if kind == GITHUB and not values.get("client_secret"):
        raise ProviderConfigError(f"provider {name!r}: github needs its client_secret")
    if "algorithms" in raw:
        algorithms = _strings(raw["algorithms"], f"provider {name!r}: algorithms")
        bad = sorted(set(algorithms) - ALLOWED_ALGORITHMS)
        if bad:
            raise ProviderConfigError(f"provider {name!r}: algorithms {bad} are not allowed (asymmetric only: "
                                      f"{sorted(ALLOWED_ALGORITHMS)})")
        values["algorithms"] = algorithms
    if "scopes" in raw:
        values["scopes"] = _strings(raw["scopes"], f"provider {name!r}: scopes")
    for key in ("link_verified_email", "nonce_hashed"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ProviderConfigError(f"provider {name!r}: {key} must be True or False")
            values[key] = raw[key]
    if "timeout" in raw:
        timeout = raw["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
            raise ProviderConfigError(f"provider {name!r}: timeout must be seconds in (0, 30]")
        values["timeout"] = float(timeout)
    return ProviderConfig(name=name, kind=kind, client_ids=client_ids, **values)


def parse_providers(raw: Any) -> dict[str, ProviderConfig]:
    """``DUALAUTH_SOCIAL_PROVIDERS`` (name -> options) as records; raises
    :class:`ProviderConfigError` for the first provider that cannot work."""
    if not isinstance(raw, Mapping):
        raise ProviderConfigError("DUALAUTH_SOCIAL_PROVIDERS must be a dict of name -> options")
    providers = {}
    for name, options in raw.items():
        if not isinstance(name, str) or not name.isascii() or not name.replace("-", "").replace("_", "").isalnum() \
                or name != name.lower() or len(name) > 32:
            raise ProviderConfigError(f"provider name {name!r} must be lower-case letters, digits, - or _ "
                                      "(at most 32): it is a URL segment")
        if name == "email":  # link-request's name for a linked mailbox (docs/social-login.md)
            raise ProviderConfigError('provider name "email" is reserved')
        providers[name] = _one(name, options)
    return providers
