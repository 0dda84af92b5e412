"""SMS gateways, chosen by ``DUALAUTH_SMS_GATEWAY`` (a dotted path) and built with
``DUALAUTH_SMS_GATEWAY_OPTIONS`` as keyword arguments.

A gateway has one job: ``send(to, body)`` delivers ``body`` to the E.164 number ``to`` or
raises :class:`GatewayError`. It is called off the request path (``messaging``), so a slow
provider never delays a response nor reveals whether an account exists.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import jwt

__all__ = ["SMSGateway", "GatewayError", "ConsoleGateway", "OutboxGateway", "SMSMessage", "TwilioGateway",
           "ProviderKeys", "ProviderUnreachable", "UnknownSigningKey", "fetch_json", "CodeExchangeRefused",
           "exchange_code", "revoke_token"]


class GatewayError(Exception):
    """The provider refused or could not be reached. Never carries the message body."""


class SMSGateway(ABC):
    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def send(self, to: str, body: str) -> None:
        """Deliver ``body`` to ``to`` (E.164) or raise :class:`GatewayError`."""


class ConsoleGateway(SMSGateway):
    """Development only: writes the message to standard output (system check W005 warns
    when it is configured with ``DEBUG = False``)."""

    def send(self, to: str, body: str) -> None:
        sys.stdout.write(f"[django-dualauth SMS to {to}] {body}\n")
        sys.stdout.flush()


@dataclass(frozen=True)
class SMSMessage:
    to: str
    body: str


class OutboxGateway(SMSGateway):
    """For tests: keeps messages in :attr:`outbox` (class-level, like Django's ``mail.outbox``)."""

    outbox: ClassVar[list[SMSMessage]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def send(self, to: str, body: str) -> None:
        with self._lock:
            self.outbox.append(SMSMessage(to, body))


class TwilioGateway(SMSGateway):
    """Twilio's Messages REST API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

    Options: ``account_sid``, ``auth_token``, ``from_number`` (or ``messaging_service_sid``),
    ``base_url`` (default ``https://api.twilio.com``; point it at a fake in tests),
    ``timeout`` seconds (default 10).
    """

    def send(self, to: str, body: str) -> None:
        o = self.options
        sid, token = o["account_sid"], o["auth_token"]
        base = str(o.get("base_url", "https://api.twilio.com")).rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{urllib.parse.quote(sid)}/Messages.json"
        form = {"To": to, "Body": body}
        if o.get("messaging_service_sid"):
            form["MessagingServiceSid"] = o["messaging_service_sid"]
        else:
            form["From"] = o["from_number"]
        credentials = base64.b64encode(f"{sid}:{token}".encode()).decode("ascii")
        request = urllib.request.Request(  # noqa: S310 - the scheme comes from settings, not users
            url, data=urllib.parse.urlencode(form).encode(), method="POST",
            headers={"Authorization": f"Basic {credentials}",
                     "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=float(o.get("timeout", 10))) as response:  # noqa: S310
                status = response.status
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise GatewayError(f"Twilio answered {exc.code}: {_twilio_error(exc.read())}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise GatewayError(f"Twilio unreachable: {type(exc).__name__}") from None
        if not 200 <= status < 300:
            raise GatewayError(f"Twilio answered {status}: {_twilio_error(payload)}")


def _twilio_error(payload: bytes) -> str:
    try:
        data = json.loads(payload or b"{}")
    except ValueError:
        return "unreadable error"
    return f"code {data.get('code')}" if isinstance(data, dict) else "unreadable error"


# --- sign-in providers: discovery documents and signing keys ------------------------------------

class ProviderUnreachable(GatewayError):
    """A sign-in provider's discovery document or key set could not be fetched or read (a 503 to
    the client, with ``Retry-After``: the provider is down, not the token wrong)."""


class UnknownSigningKey(Exception):
    """No key of the provider's key set has this ``kid``, even after the one refetch allowed."""


class CodeExchangeRefused(GatewayError):
    """The provider's token endpoint refused the authorization code (a 4xx, or GitHub's 200 with
    an ``error`` field): a used, expired or foreign code, or a wrong PKCE verifier. Carries the
    provider's ``error`` code only, never the code."""


def fetch_json(url: str, *, timeout: float, bearer: str = "") -> dict[str, Any] | list[Any]:
    """GET ``url`` (http or https, no redirects followed) and return its JSON object (or array),
    or raise :class:`ProviderUnreachable`. Used for OpenID Connect discovery documents and, with
    an access token as ``bearer``, GitHub's user API."""
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ProviderUnreachable("only http(s) URLs are fetched")
    headers = {"Accept": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as response:
            data = json.loads(response.read(1024 * 1024))
    except urllib.error.HTTPError as exc:
        raise ProviderUnreachable(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise ProviderUnreachable(f"{url} unreachable or unreadable: {type(exc).__name__}") from None
    if not isinstance(data, dict | list):
        raise ProviderUnreachable(f"{url} did not answer JSON")
    return data


def exchange_code(token_endpoint: str, form: dict[str, str], *, timeout: float) -> dict[str, Any]:
    """POST an authorization-code grant (RFC 6749 §4.1.3, the client authenticated by
    ``client_secret_post``) and return the token response. Raises :class:`CodeExchangeRefused`
    when the provider refuses the grant, :class:`ProviderUnreachable` when it cannot be reached,
    times out (``timeout`` seconds), answers 5xx or no JSON object. No redirect is followed."""
    if urllib.parse.urlparse(token_endpoint).scheme not in ("http", "https"):
        raise ProviderUnreachable("only http(s) URLs are fetched")
    request = urllib.request.Request(  # noqa: S310 - the URL comes from settings
        token_endpoint, data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as response:
            status, payload = response.status, response.read(1024 * 1024)
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read(64 * 1024)
        exc.close()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ProviderUnreachable(f"the token endpoint is unreachable: {type(exc).__name__}") from None
    try:
        data = json.loads(payload or b"{}")
    except ValueError:
        data = None
    if 500 <= status or not isinstance(data, dict):
        raise ProviderUnreachable(f"the token endpoint answered {status}")
    if status >= 300 or "error" in data:  # GitHub answers its errors with 200
        error = data.get("error")
        raise CodeExchangeRefused(error if isinstance(error, str) else f"status {status}")
    return data


def revoke_token(revoke_endpoint: str, form: dict[str, str], *, timeout: float) -> None:
    """POST a token revocation (RFC 7009; Apple's ``auth/revoke``): returns on a 2xx. Raises
    :class:`CodeExchangeRefused` when the provider refuses it (a 4xx: carrying its ``error``
    code only) and :class:`ProviderUnreachable` when it cannot be reached, times out or answers
    5xx. No redirect is followed; the form (which holds the token) is never in a message."""
    if urllib.parse.urlparse(revoke_endpoint).scheme not in ("http", "https"):
        raise ProviderUnreachable("only http(s) URLs are fetched")
    request = urllib.request.Request(  # noqa: S310 - the URL comes from settings
        revoke_endpoint, data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as response:
            status, payload = response.status, b""
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read(64 * 1024)
        exc.close()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ProviderUnreachable(f"the revocation endpoint is unreachable: {type(exc).__name__}") from None
    if 200 <= status < 300:
        return
    if status >= 500 or status < 400:
        raise ProviderUnreachable(f"the revocation endpoint answered {status}")
    try:
        data = json.loads(payload or b"{}")
    except ValueError:
        data = {}
    error = data.get("error") if isinstance(data, dict) else None
    raise CodeExchangeRefused(error[:60] if isinstance(error, str) else f"status {status}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class ProviderKeys:
    """The signing keys of one provider, through PyJWT's :class:`jwt.PyJWKClient`.

    The key set is fetched once and kept ``lifespan`` seconds; a ``kid`` it lacks triggers one
    refetch (a key rotation), at most one per ``cooldown`` seconds (so tokens with made-up
    ``kid`` values cannot make us hammer the provider). In steady state a sign-in makes no
    network call. With ``discovery_url`` the key set's address is read from the provider's
    discovery document on first use, whose ``issuer`` must be ``issuer`` (OpenID Connect
    Discovery §4.3). One instance per provider per process: ``conf.Snapshot.social_providers``.
    Thread-safe (``PyJWKClient`` locks its own cache).
    """

    def __init__(self, *, jwks_uri: str, discovery_url: str, issuer: str, timeout: float, lifespan: float,
                 cooldown: float) -> None:
        self.jwks_uri, self.discovery_url, self.issuer = jwks_uri, discovery_url, issuer
        self.timeout, self.lifespan, self.cooldown = timeout, lifespan, cooldown
        self._client: Any = None
        self._document: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def discovery_document(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once per process (its ``issuer`` checked);
        ``{}`` for a provider configured without one. Raises :class:`ProviderUnreachable`."""
        if not self.discovery_url:
            return {}
        with self._lock:
            return self._discovery_locked()

    def _discovery_locked(self) -> dict[str, Any]:
        if self._document is None:
            document = fetch_json(self.discovery_url, timeout=self.timeout)
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise ProviderUnreachable("the discovery document names another issuer")
            self._document = document
        return self._document

    def _jwk_client(self) -> Any:
        with self._lock:
            if self._client is None:
                uri = self.jwks_uri
                if not uri:
                    document = self._discovery_locked()
                    found = document.get("jwks_uri")
                    if not isinstance(found, str) or urllib.parse.urlparse(found).scheme not in ("http", "https"):
                        raise ProviderUnreachable("the discovery document has no usable jwks_uri")
                    uri = found
                self._client = jwt.PyJWKClient(uri, cache_jwk_set=True, lifespan=self.lifespan,
                                               timeout=self.timeout, cooldown_duration=self.cooldown)
            return self._client

    def key_for(self, kid: str) -> Any:
        """The :class:`jwt.PyJWK` with this ``kid``; raises :class:`UnknownSigningKey` or
        :class:`ProviderUnreachable`."""
        client = self._jwk_client()
        try:
            return client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError:
            raise ProviderUnreachable("the provider's key set could not be fetched") from None
        except (jwt.PyJWKSetError, ValueError) as exc:  # ValueError: a body that is not JSON
            raise ProviderUnreachable(f"the provider's key set is unreadable: {type(exc).__name__}") from None
        except jwt.PyJWKClientError as exc:
            if "Unable to find a signing key" in str(exc):
                raise UnknownSigningKey(kid) from None
            raise ProviderUnreachable(f"the provider's key set is unusable: {exc}") from None
