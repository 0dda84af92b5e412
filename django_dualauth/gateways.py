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

__all__ = ["SMSGateway", "GatewayError", "ConsoleGateway", "OutboxGateway", "SMSMessage", "TwilioGateway"]


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
