"""A keep-alive HTTP/1.1 client transport (http.client) for the real-server parts."""

from __future__ import annotations

import http.client
import time

from .contenders import Req, Resp


class HTTPTransport:
    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host = f"{host}:{port}"
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def send(self, req: Req) -> Resp:
        headers = {"User-Agent": "dualauth-bench/1.0", **req.headers}
        if req.method == "POST":
            headers.setdefault("Content-Length", str(len(req.body)))
        t0 = time.perf_counter_ns()
        try:
            self.conn.request(req.method, req.path, body=req.body or None, headers=headers)
            resp = self.conn.getresponse()
            body = resp.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            raise
        elapsed = time.perf_counter_ns() - t0
        return Resp(resp.status, resp.getheaders(), body, elapsed)

    def close(self) -> None:
        self.conn.close()
