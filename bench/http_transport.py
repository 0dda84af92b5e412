"""HTTP/1.1 client transports for the real-server parts.

``HTTPTransport`` (http.client) logs in and drives the concurrency probe. ``RawHTTPTransport``
is the load generator's: on a two-core machine the client shares the CPU with the server, and
http.client (its header parsing goes through the e-mail package) cost 0.4-1 ms of CPU per request,
as much as a third of what the bare view costs the server. The raw one writes pre-joined bytes
and parses only the status, ``Content-Length``, ``Connection`` and ``Set-Cookie``.
"""

from __future__ import annotations

import http.client
import socket
import time

from .contenders import Req, Resp

USER_AGENT = "dualauth-bench/1.0"


class HTTPTransport:
    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host = f"{host}:{port}"
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def send(self, req: Req) -> Resp:
        headers = {"User-Agent": USER_AGENT, **req.headers}
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


class RawHTTPTransport:
    """Keep-alive when the server allows it (gunicorn's sync workers close after each response)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.addr, self.timeout = (host, port), timeout
        self.host = f"{host}:{port}"
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.addr, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def send(self, req: Req) -> Resp:
        lines = [f"{req.method} {req.path} HTTP/1.1", f"Host: {self.host}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{k}: {v}" for k, v in req.headers.items()]
        if req.method == "POST" and "Content-Length" not in req.headers:
            lines.append(f"Content-Length: {len(req.body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body
        t0 = time.perf_counter_ns()
        try:
            if self.sock is None:
                self.sock = self._connect()
            sock = self.sock
            sock.sendall(data)
            buf = bytearray()
            while (end := buf.find(b"\r\n\r\n")) < 0:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed before the response headers")
                buf += chunk
            head = bytes(buf[:end]).decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            headers: list[tuple[str, str]] = []
            length, close = -1, False
            for line in head[1:]:
                name, _, value = line.partition(":")
                value = value.strip()
                lname = name.lower()
                if lname == "content-length":
                    length = int(value)
                elif lname == "connection":
                    close = value.lower() == "close"
                elif lname != "set-cookie":
                    continue  # the recipes read only Set-Cookie (and the JSON body)
                headers.append((name, value))
            body = buf[end + 4:]
            while len(body) < length or length < 0:
                chunk = sock.recv(65536)
                if not chunk:
                    if length < 0:
                        break  # body delimited by the close
                    raise ConnectionError("connection closed inside the body")
                body += chunk
        except OSError:
            self.close()
            raise
        elapsed = time.perf_counter_ns() - t0
        if close:
            self.close()
        return Resp(status, headers, bytes(body), elapsed)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
