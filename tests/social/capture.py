"""A loopback redirect target: a threaded HTTP server on 127.0.0.1 that records every request
and answers a small HTML page, so a browser redirected to it lands somewhere real.

    with LoopbackCapture() as capture:
        redirect_uri = capture.url("/callback")
        ... the browser is sent to the provider, which redirects to redirect_uri ...
        hit = capture.wait()        # the first request: hit.path, hit.query["code"]
"""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

__all__ = ["Hit", "LoopbackCapture"]


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    query: dict[str, str]
    url: str


class LoopbackCapture:
    """Records requests to ``http://127.0.0.1:<port>``; :meth:`wait` blocks for the next one."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        capture = self
        self.hits: list[Hit] = []
        self._taken: set[int] = set()
        self._arrived = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                split = urllib.parse.urlsplit(self.path)
                hit = Hit("GET", split.path, dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
                          capture.base_url + self.path)
                body = b"<!DOCTYPE html><html><head><title>captured</title></head><body><p id='captured'>" \
                       b"redirect captured</p></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with capture._arrived:
                    capture.hits.append(hit)
                    capture._arrived.notify_all()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/callback") -> str:
        return self.base_url + path

    def wait(self, timeout: float = 30.0, *, path: str | None = None) -> Hit:
        """The first request (to ``path``, if given) not yet returned by ``wait``."""
        def ready() -> int | None:
            for index, hit in enumerate(self.hits):
                if (path is None or hit.path == path) and index not in self._taken:
                    return index
            return None

        with self._arrived:
            if not self._arrived.wait_for(lambda: ready() is not None, timeout=timeout):
                raise AssertionError(f"no request to {path or self.base_url} within {timeout} s; got {self.hits}")
            index = ready()
            assert index is not None
            self._taken.add(index)
            return self.hits[index]

    def __enter__(self) -> LoopbackCapture:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
