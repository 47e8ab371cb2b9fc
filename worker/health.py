"""Liveness of the worker and the HTTP endpoint that serves `/metrics` and `/health`.

`Health` collects heartbeats, current problems and details of the worker's components (the node
reports chain, source, windows, balance and enrolment); `MetricsServer` serves from a background
thread:

- `/metrics`: the Prometheus text of a `worker.metrics.Metrics`, with the health of every
  component as gauges (`worker_health_ok{component=...}`, `worker_ready`, `worker_live`);
- `/health` and `/health/ready`: readiness, the whole report (200 ready, 503 not, with the reason
  of every component that is not ok);
- `/health/live`: liveness, 200 while the components registered as liveness (the chain loop)
  beat within their `max_age`, 503 once one is stuck (restart the process).
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from worker.errors import MetricsPortError
from worker.metrics import Metrics

log = logging.getLogger(__name__)


class Health:
    """Thread-safe liveness of the worker: heartbeats and current problems of its components.

    A component is registered with the longest silence it may keep (`max_age`); the worker is
    healthy when every registered component beat within its `max_age` and none reports a problem.
    A warning (such as a low balance) keeps it healthy but reports it as "degraded".

    Args:
        clock: Source of monotonic seconds; injectable for tests.
    """

    _RESERVED = frozenset({"status", "components", "warnings", "live", "ready", "reasons"})

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._max_age: dict[str, float | None] = {}
        self._last_beat: dict[str, float] = {}
        self._problems: dict[str, str] = {}
        self._warnings: dict[str, str] = {}
        self._info: dict[str, Any] = {}
        self._details: dict[str, dict[str, Any]] = {}
        self._live: set[str] = set()

    def register(self, component: str, max_age_seconds: float, live: bool = False) -> None:
        """Watch `component`: unhealthy once it has not beaten for `max_age_seconds`.

        Args:
            component: The name in the report.
            max_age_seconds: The longest silence it may keep.
            live: It counts for liveness (`/health/live`): the process is stuck when it is stale.
        """
        # NOTE: registering counts as a first beat, so a component gets one `max_age` to start.
        if max_age_seconds <= 0:
            raise ValueError(f"health: max_age of {component!r} must be > 0, not {max_age_seconds}")
        with self._lock:
            self._max_age[component] = max_age_seconds
            self._last_beat.setdefault(component, self._clock())
            if live:
                self._live.add(component)

    def beat(self, component: str) -> None:
        """Record that `component` is alive now (unregistered components are shown, never stale)."""
        with self._lock:
            self._max_age.setdefault(component, None)
            self._last_beat[component] = self._clock()

    def problem(self, component: str, message: str) -> None:
        """Mark `component` unhealthy with `message` until `clear(component)`."""
        with self._lock:
            self._max_age.setdefault(component, None)
            self._problems[component] = message

    def clear(self, component: str) -> None:
        """Remove the current problem of `component`, if any."""
        with self._lock:
            self._problems.pop(component, None)

    def warn(self, component: str, message: str) -> None:
        """Report `component` as degraded with `message` (still healthy) until `unwarn`."""
        with self._lock:
            self._warnings[component] = message

    def unwarn(self, component: str) -> None:
        """Remove the current warning of `component`, if any."""
        with self._lock:
            self._warnings.pop(component, None)

    def detail(self, component: str, **values: Any) -> None:
        """Show `values` (e.g. `waiting=3`, `age=12.5`) under `component` in every report."""
        with self._lock:
            self._max_age.setdefault(component, None)
            self._details.setdefault(component, {}).update(values)

    def set_info(self, key: str, value: Any) -> None:
        """Show `key: value` in every report (e.g. account, chain_id, last_block)."""
        if key in self._RESERVED:
            raise ValueError(f"health: info key {key!r} is reserved")
        with self._lock:
            self._info[key] = value

    def report(self, now: float | None = None) -> tuple[bool, dict[str, Any]]:
        """Whether the worker is healthy, and a JSON-ready report of every component.

        Args:
            now: The current time on the clock's scale; the clock is read when omitted.

        Returns:
            `(healthy, {"status": "ok"|"degraded"|"unhealthy", "live": bool, "ready": bool,
            "reasons": {name: why not ok}, "components": {name: {"ok", "age", "max_age",
            "problem", "warning", **details}}, "warnings": {name: text} (if any), **info})`;
            `age` is the seconds since the last beat (None if never). Healthy means ready.
        """
        with self._lock:
            now = self._clock() if now is None else now
            healthy, live = True, True
            reasons: dict[str, str] = {}
            components: dict[str, dict[str, Any]] = {}
            for name in sorted(self._max_age):
                max_age = self._max_age[name]
                last = self._last_beat.get(name)
                age = None if last is None else max(0.0, now - last)
                problem = self._problems.get(name)
                stale = max_age is not None and age is not None and age > max_age
                if stale and (problem is None or name in self._live):
                    problem = f"no heartbeat for {age:.1f} s (max {max_age:g} s)"
                if problem is not None:
                    healthy = False
                    reasons[name] = problem
                live = live and not (stale and name in self._live)
                components[name] = {
                    "ok": problem is None,
                    "age": None if age is None else round(age, 3),
                    "max_age": max_age,
                    "problem": problem,
                    "warning": self._warnings.get(name),
                    **self._details.get(name, {}),
                }
            status = "unhealthy" if not healthy else "degraded" if self._warnings else "ok"
            body: dict[str, Any] = {"status": status, "live": live, "ready": healthy,
                                    "reasons": reasons, "components": components}  # fmt: skip
            if self._warnings:
                body["warnings"] = dict(self._warnings)
            body.update(self._info)
        return healthy, body


# -------------------------------------------------------------------------------------------------
# HTTP endpoint
# -------------------------------------------------------------------------------------------------

TEXT = "text/plain; charset=utf-8"
INDEX = (
    b"worker\n/metrics       Prometheus metrics\n/health        readiness and every component"
    b" (200 ready, 503 not, with the reasons)\n/health/ready  the same\n/health/live   "
    b"liveness (200 running, 503 stuck)\n"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # NOTE: without SO_REUSEPORT a second worker on the same port fails at start instead of
    # sharing (and splitting) the scrapes.
    allow_reuse_port = False

    def __init__(self, address: tuple[str, int], metrics: Metrics, health: Health) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.metrics = metrics
        self.health = health
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # NOTE: `HTTPServer.server_bind` resolves the host's FQDN, a reverse DNS look-up that can
        # hang for seconds; the name is only used for CGI, so it is skipped.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "worker"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def __getattr__(self, name: str) -> Any:
        # NOTE: `BaseHTTPRequestHandler` looks up `do_<METHOD>` and answers 501 when missing;
        # every method other than GET and HEAD is known here and refused with 405.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED, TEXT, b"GET or HEAD\n", extra={"Allow": "GET, HEAD"}
        )

    def _answer(self, body: bool) -> None:
        path = urlsplit(self.path).path
        try:
            status, content_type, content = self._route(path)
        except Exception:
            log.exception("metrics endpoint: %s %s failed", self.command, path)
            status, content_type, content = HTTPStatus.INTERNAL_SERVER_ERROR, TEXT, b"error\n"
        self._send(status, content_type, content, body)

    def _route(self, path: str) -> tuple[HTTPStatus, str, bytes]:
        if path == "/metrics":
            self.server.metrics.health(self.server.health.report()[1])
            return HTTPStatus.OK, CONTENT_TYPE_LATEST, self.server.metrics.render()
        if path in ("/health", "/health/ready", "/health/live"):
            healthy, report = self.server.health.report()
            if path == "/health/live":
                healthy = report["live"]
                report = {"live": healthy, "status": "ok" if healthy else "stuck",
                          "reasons": {k: v for k, v in report["reasons"].items()
                                      if v.startswith("no heartbeat")}}  # fmt: skip
            status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
            return status, "application/json", json.dumps(report, default=str).encode()
        if path == "/":
            return HTTPStatus.OK, TEXT, INDEX
        return HTTPStatus.NOT_FOUND, TEXT, b"not found\n"

    def _send(
        self,
        status: HTTPStatus,
        content_type: str,
        content: bytes,
        body: bool = True,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:  # HEAD: the headers of a GET, without the body
            self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics endpoint: %s " + format, self.address_string(), *args)


class MetricsServer:
    """HTTP endpoint for `/metrics` (Prometheus) and `/health` (JSON), on a daemon thread.

    Args:
        metrics: The metrics to serve.
        health: The liveness to serve.
        host: Address to listen on ("127.0.0.1", "0.0.0.0", "::1", a host name).
        port: Port to listen on; 0 picks a free one (read it from `port` after `start`).
    """

    def __init__(
        self, metrics: Metrics, health: Health, host: str = "127.0.0.1", port: int = 9464
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the endpoint is listening."""
        return self._server is not None

    def start(self) -> None:
        """Listen on (host, port) and serve from a daemon thread; does nothing if running.

        Raises:
            MetricsPortError: The port is busy or out of range, or the host is invalid.
        """
        with self._lock:
            if self._server is not None:
                return
            try:
                server = _Server((self.host, self._requested_port), self.metrics, self.health)
            except (OSError, OverflowError) as error:
                reason = getattr(error, "strerror", None) or str(error)
                raise MetricsPortError(self.host, self._requested_port, reason) from error
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.5},
                name="worker-metrics",
                daemon=True,
            )
            self._thread.start()
        log.info("metrics endpoint on http://%s:%d/metrics and /health", self.host, self.port)

    def stop(self) -> None:
        """Stop serving and close the socket; does nothing if not running."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            if server is None:
                return
            server.shutdown()
            server.server_close()
            if thread is not None:
                thread.join()

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
