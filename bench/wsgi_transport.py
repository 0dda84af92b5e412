"""Calls Django's WSGIHandler directly, timing only the application call."""

from __future__ import annotations

import io
import sys
import time

from .contenders import Req, Resp


class WSGITransport:
    host = "testserver"

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.app = WSGIHandler()

    def send(self, req: Req) -> Resp:
        environ = {
            "REQUEST_METHOD": req.method,
            "PATH_INFO": req.path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": self.host,
            "HTTP_USER_AGENT": "dualauth-bench/1.0",
            "CONTENT_LENGTH": str(len(req.body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(req.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in req.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        captured: dict[str, object] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
            captured["status"], captured["headers"] = status, headers

        t0 = time.perf_counter_ns()
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        elapsed = time.perf_counter_ns() - t0
        return Resp(int(str(captured["status"]).split()[0]), list(captured["headers"]), body, elapsed)  # type: ignore[arg-type]
