"""A Python port of node-auth's official Flutter package, for replaying its calls against us.

The package is ``nik2208/awesome-node-auth-flutter``; this port was written from these stored
versions of its files (commit, then file):

=========  ==================================================================================
1cd2f0a4   ``lib/src/platform/base_auth_client.dart`` (every client method; the newest stored,
           the first with ``cleanupSessions``)
5fc2175a   ``lib/src/http/auth_http_client.dart`` (headers, token capture, refresh and retry),
           ``lib/src/platform/web_auth_client.dart``
89787c47   ``lib/src/platform/native_auth_client.dart``, ``lib/src/auth_user.dart``,
           ``lib/src/models/session_info.dart``, ``lib/src/models/ui_config.dart``
91d29453   ``lib/src/models/auth_result.dart``, ``lib/src/auth_options.dart``,
           ``lib/src/http/token_storage.dart``, ``lib/src/http/csrf_handler_web.dart``
f4e2ba20   ``lib/src/http/csrf_cookie_parser.dart``
5d40dbb2   ``lib/src/auth_events.dart``
=========  ==================================================================================

What differs from Dart, and why it does not change what the server sees:

- Dart's methods are ``async``; these are synchronous. The startup ``checkSession`` that Dart
  fires without awaiting runs to its end inside the constructor here.
- The single-flight refresh (Dart: one ``Completer`` shared by concurrent callers) is kept with a
  lock and a ``Future`` shared between threads.
- Dart's ``List.cast<String>()`` is lazy and fails when the app reads a wrong element; the port
  checks the elements when the model is built.
- The package's ``http.Client`` is a :class:`transport.Transport`: Django's test client in the
  process (so mail and SMS outboxes are readable) or ``urllib`` against a real server. The web
  flavour's transport behaves as the browser does (cookie jar, ``Origin``, ``Sec-Fetch-Site``).

Names follow the package in snake_case: ``checkSession`` is :meth:`BaseAuthClient.check_session`.
"""

from .client import (
    AuthEvent,
    AuthEventType,
    AuthOptions,
    BaseAuthClient,
    InMemoryTokenStorage,
    NativeAuthClient,
    WebAuthClient,
    create_native_client,
    create_web_client,
)
from .http_client import AuthHttpClient, Request
from .models import AuthResult, AuthUser, DartTypeError, LoginResult, SessionInfo, TotpSetupData, UiConfig
from .transport import DjangoTransport, Exchange, Response, Transport, UrllibTransport

__all__ = [
    "AuthEvent", "AuthEventType", "AuthHttpClient", "AuthOptions", "AuthResult", "AuthUser", "BaseAuthClient",
    "DartTypeError", "DjangoTransport", "Exchange", "InMemoryTokenStorage", "LoginResult", "NativeAuthClient",
    "Request", "Response", "SessionInfo", "TotpSetupData", "Transport", "UiConfig", "UrllibTransport",
    "WebAuthClient", "create_native_client", "create_web_client",
]
