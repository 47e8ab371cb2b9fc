"""A counting JSON-RPC proxy: forwards every HTTP POST to a node and counts what passed.

Used by the RPC benchmark and the RPC budget test to measure how much a worker asks of its node:
HTTP requests (what a public endpoint rate-limits) and JSON-RPC calls by method (a batch is one
request carrying several calls).

    with RpcProxy("http://127.0.0.1:8545") as proxy:
        ... point the worker at proxy.uri ...
        snapshot = proxy.counts()
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.lock = threading.Lock()
        self.requests = 0
        self.calls: Counter[str] = Counter()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # NOTE: a worker that stops mid-request closes its connection: not the proxy's error


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        items = decoded if isinstance(decoded, list) else [decoded]
        methods = [i.get("method", "?") if isinstance(i, dict) else "?" for i in items]
        with self.server.lock:
            self.server.requests += 1
            self.server.calls.update(methods)
        request = urllib.request.Request(
            self.server.upstream, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, content = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, content = exc.code, exc.read()
        except OSError as exc:
            status, content = 502, json.dumps({"error": str(exc)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class RpcProxy:
    """Counts the HTTP requests and JSON-RPC calls sent through it to `upstream`.

    Args:
        upstream: The node's HTTP JSON-RPC URL.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def uri(self) -> str:
        """The proxy's URL (the worker's node)."""
        assert self._server is not None, "start the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        """Listens on a free local port."""
        self._server = _Server(self.upstream)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.2})  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Stops listening (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def counts(self) -> tuple[int, Counter[str]]:
        """(HTTP requests, JSON-RPC calls by method) so far."""
        assert self._server is not None, "start the proxy first"
        with self._server.lock:
            return self._server.requests, Counter(self._server.calls)

    def __enter__(self) -> RpcProxy:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()
