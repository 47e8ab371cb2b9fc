"""Several RPC endpoints of one chain behind one web3 provider: health checks and failover.

`FailoverProvider` takes the place of the web3 provider under Ape's provider (`install`), so every
read of the worker, Ape's contract calls included, goes to one healthy endpoint, and every signed
transaction (`eth_sendRawTransaction`) to all healthy endpoints at once.

- An endpoint is **usable** while its last request or probe succeeded, it serves the expected
  chain id and its head is at most `max_lag` blocks behind the best head of the others.
- **Reads** go to the first usable endpoint in the configured order. A request that fails there
  (connection refused, timeout, HTTP error) marks the endpoint down and is tried at once on the
  next one; only when every endpoint failed is the last error raised (a passing fault for the
  caller, which retries on its next tick).
- **Broadcasts** go to every usable endpoint in parallel; the first acceptance is the answer (a
  frozen endpoint does not hold it up), and when none accepts, the first endpoint's refusal.
- A **monitor** thread per endpoint probes it every `probe_interval` seconds (`eth_chainId` until
  known, then `eth_blockNumber`), so a down endpoint comes back once it answers and a lagging one
  is set aside; an endpoint that answers with another chain id is never used.

Per endpoint the monitor publishes `worker_rpc_up`, `worker_rpc_head`, `worker_rpc_errors_total`
and `worker_rpc_latency_seconds` (label `endpoint`: the URL's host and port only, never its path
or credentials, which may hold an API key) and the health component `rpc`: a problem when no
endpoint is usable, a warning while some are not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from web3.providers import HTTPProvider, JSONBaseProvider

from worker.errors import StartupError

log = logging.getLogger(__name__)

SEND_RAW = "eth_sendRawTransaction"


def endpoint_label(url: str, taken: Sequence[str] = ()) -> str:
    """A label for `url` without secrets: `host[:port]`, with `#n` when the host is named twice."""
    parts = urlsplit(url)
    label = parts.hostname or "?"
    if parts.port:
        label = f"{label}:{parts.port}"
    base, n = label, 2
    while label in taken:
        label, n = f"{base}#{n}", n + 1
    return label


@dataclass
class Endpoint:
    """One RPC endpoint and what is known about it (guarded by the provider's lock)."""

    url: str
    label: str
    http: Any
    up: bool = False
    chain_id: int | None = None
    head: int | None = None
    lagging: bool = False
    errors: int = 0
    latency: float | None = None
    last_error: str = ""
    checked: bool = False  # probed or used at least once
    _error_metric: Any = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        return self.up and not self.lagging

    def state(self) -> str:
        if self.usable:
            return "ok"
        if self.up:
            return f"lagging (head {self.head})"
        return self.last_error or "not checked yet"


class FailoverProvider(JSONBaseProvider):
    """A web3 provider over the HTTP endpoints `urls` of the chain with id `chain_id`.

    Args:
        urls: Endpoint URLs in order of preference.
        chain_id: The chain every endpoint must serve.
        timeout: Seconds per request to one endpoint.
        max_lag: Blocks an endpoint may be behind the best head before it is set aside.
        probe_interval: Seconds between probes of each endpoint by the monitor.
    """

    def __init__(self, urls: Sequence[str], chain_id: int, timeout: float = 10.0,
                 max_lag: int = 5, probe_interval: float = 5.0) -> None:  # fmt: skip
        super().__init__()
        if not urls:
            raise ValueError("FailoverProvider needs at least one endpoint")
        self.chain_id, self.timeout = chain_id, timeout
        self.max_lag, self.probe_interval = max_lag, probe_interval
        self.endpoints: list[Endpoint] = []
        for url in urls:
            http = HTTPProvider(url, request_kwargs={"timeout": timeout},
                                exception_retry_configuration=None)  # fmt: skip
            label = endpoint_label(url, [e.label for e in self.endpoints])
            self.endpoints.append(Endpoint(url, label, http))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._current: str | None = None
        self.metrics: Any = None  # `EndpointMetrics` once attached
        self.health: Any = None

    def __str__(self) -> str:
        return f"FailoverProvider({', '.join(e.label for e in self.endpoints)})"

    # ---------------------------------------------------------------------------------------------
    # Requests
    # ---------------------------------------------------------------------------------------------

    def make_request(self, method: Any, params: Any) -> Any:
        order = self._order()
        if not order:  # NOTE: fatal, as with one node of another chain: the worker stops
            raise StartupError(
                "chain.rpc",
                "every endpoint serves another chain than chain id "
                f"{self.chain_id}: " + "; ".join(e.label for e in self.endpoints),
            )
        if method == SEND_RAW:
            return self._broadcast(method, params, order)
        error: BaseException | None = None
        for endpoint in order:
            try:
                response = self._call(endpoint, method, params)
            except Exception as exc:
                error = exc
                continue
            self._reading_from(endpoint)
            return response
        raise error if error is not None else OSError("no RPC endpoint configured")

    def _order(self) -> list[Endpoint]:
        """Usable endpoints first (configured order), then the others as a last resort."""
        with self._lock:
            usable = [e for e in self.endpoints if e.usable]
            fit = (None, self.chain_id)
            rest = [e for e in self.endpoints if not e.usable and e.chain_id in fit]
        return usable + rest

    def _call(self, endpoint: Endpoint, method: Any, params: Any) -> Any:
        started = time.monotonic()
        try:
            response = endpoint.http.make_request(method, params)
        except Exception as exc:
            self._failed(endpoint, exc)
            raise
        with self._lock:
            endpoint.latency = time.monotonic() - started
            endpoint.checked = True
            came_back = not endpoint.up and endpoint.chain_id == self.chain_id
            if endpoint.chain_id == self.chain_id:
                endpoint.up = True
        if came_back or len(self.endpoints) == 1:
            self._publish()  # NOTE: a single endpoint has no monitor: its reads are its probes
        return response

    def _broadcast(self, method: Any, params: Any, targets: list[Endpoint]) -> Any:
        with self._lock:
            usable = [e for e in targets if e.usable]
        targets = usable or targets
        answers: dict[str, tuple[bool, Any]] = {}
        done = threading.Condition()

        def send(endpoint: Endpoint) -> None:
            try:
                outcome = (True, self._call(endpoint, method, params))
            except Exception as exc:
                outcome = (False, exc)
            with done:
                answers[endpoint.label] = outcome
                done.notify_all()

        for endpoint in targets:
            # NOTE: daemon threads: a frozen endpoint keeps its thread until its timeout, never
            # the broadcast and never the process exit.
            threading.Thread(target=send, args=(endpoint,), daemon=True).start()

        def accepted() -> Any:
            return [a for ok, a in answers.values() if ok and "error" not in a]

        with done:
            done.wait_for(lambda: accepted() or len(answers) == len(targets))
            if found := accepted():
                return found[0]
            ordered = [answers[e.label] for e in targets]
        # NOTE: a node's refusal ("already known", nonce, funds) as its JSON-RPC error beats a
        # failed connection: it tells the submitter what happened to the transaction.
        for ok, answer in ordered:
            if ok:
                return answer
        raise ordered[0][1]

    def _failed(self, endpoint: Endpoint, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"[:300]
        with self._lock:
            was_up = endpoint.up or not endpoint.checked
            endpoint.up, endpoint.checked = False, True
            endpoint.errors += 1
            endpoint.last_error = text
        if self.metrics is not None:
            self.metrics.error(endpoint.label)
        if was_up:
            log.warning("rpc endpoint %s is down: %s", endpoint.label, text)
        self._publish()

    def _reading_from(self, endpoint: Endpoint) -> None:
        if self._current != endpoint.label:
            previous, self._current = self._current, endpoint.label
            if previous is not None:
                log.warning("rpc: reading from %s now (was %s)", endpoint.label, previous)

    def is_connected(self, show_traceback: bool = False) -> bool:
        return any(e.usable for e in self.endpoints) or super().is_connected(show_traceback)

    # ---------------------------------------------------------------------------------------------
    # Probes
    # ---------------------------------------------------------------------------------------------

    def probe(self, endpoint: Endpoint) -> None:
        """Asks `endpoint` for its chain id (until known) and head; updates its state."""
        try:
            if endpoint.chain_id is None:
                endpoint.chain_id = int(_result(self._call(endpoint, "eth_chainId", []), 16))
                if endpoint.chain_id != self.chain_id:
                    with self._lock:
                        endpoint.up = False
                        endpoint.last_error = (
                            f"serves chain id {endpoint.chain_id}, not {self.chain_id}"
                        )
                    log.error("rpc endpoint %s %s: never used", endpoint.label, endpoint.last_error)
                    return
            head = int(_result(self._call(endpoint, "eth_blockNumber", []), 16))
        except Exception:
            return  # NOTE: `_call` marked it down
        was_up = endpoint.up
        with self._lock:
            endpoint.head, endpoint.up = head, endpoint.chain_id == self.chain_id
            best = max(e.head for e in self.endpoints if e.up and e.head is not None)
            for e in self.endpoints:
                e.lagging = e.up and e.head is not None and best - e.head > self.max_lag
        if endpoint.up and not was_up and endpoint.last_error:
            log.warning("rpc endpoint %s is up again (head %d)", endpoint.label, head)
        self._publish()

    def probe_all(self) -> None:
        """Probes every endpoint once, in parallel; returns when all answered or timed out."""
        threads = [threading.Thread(target=self.probe, args=(e,), daemon=True)
                   for e in self.endpoints]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.timeout + 1)

    def start(self) -> None:
        """Starts one monitor thread per endpoint (idempotent); none for a single endpoint, which
        has nothing to fail over to: its own reads keep its state."""
        if self._threads or len(self.endpoints) < 2:
            return
        for endpoint in self.endpoints:
            thread = threading.Thread(target=self._monitor, args=(endpoint,), daemon=True,
                                      name=f"rpc-{endpoint.label}")  # fmt: skip
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stops the monitor threads (they end after their current probe)."""
        self._stop.set()

    def _monitor(self, endpoint: Endpoint) -> None:
        while not self._stop.wait(self.probe_interval):
            self.probe(endpoint)

    # ---------------------------------------------------------------------------------------------
    # Reporting
    # ---------------------------------------------------------------------------------------------

    def attach(self, metrics: Any = None, health: Any = None) -> None:
        """Publishes the endpoints' state to `metrics` (a `worker.metrics.Metrics`, whose registry
        gets the per-endpoint families) and `health` (component `rpc`)."""
        if metrics is not None:
            self.metrics = EndpointMetrics(metrics.registry, [e.label for e in self.endpoints])
        self.health = health
        if health is not None and len(self.endpoints) > 1:  # NOTE: one endpoint: never stale
            health.register("rpc", max(30.0, 3 * self.probe_interval + self.timeout))
        self._publish()

    def snapshot(self) -> list[dict[str, Any]]:
        """Each endpoint's label, state, head, errors and latency, JSON-ready."""
        with self._lock:
            return [{"endpoint": e.label, "state": e.state(), "head": e.head, "errors": e.errors,
                     "latency": None if e.latency is None else round(e.latency, 4)}
                    for e in self.endpoints]  # fmt: skip

    def _publish(self) -> None:
        with self._lock:
            states = [(e.label, e.usable, e.head, e.latency, e.state()) for e in self.endpoints]
        if self.metrics is not None:
            for label, usable, head, latency, _ in states:
                self.metrics.state(label, usable, head, latency)
        if self.health is None:
            return
        self.health.beat("rpc")
        bad = [f"{label}: {state}" for label, usable, _, _, state in states if not usable]
        if len(bad) == len(states):
            self.health.problem("rpc", "no usable RPC endpoint (" + "; ".join(bad) + ")")
        else:
            self.health.clear("rpc")
        if bad and len(bad) < len(states):
            self.health.warn("rpc", "RPC endpoint not usable: " + "; ".join(bad))
        else:
            self.health.unwarn("rpc")


def _result(response: Any, base: int) -> int:
    if not isinstance(response, dict) or "result" not in response:
        raise OSError(f"unexpected answer {str(response)[:200]}")
    return int(response["result"], base)


class EndpointMetrics:
    """The per-endpoint Prometheus families, in the worker's registry."""

    def __init__(self, registry: Any, labels: Sequence[str]) -> None:
        from prometheus_client import Counter, Gauge

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(f"worker_rpc_{name}", doc, ["endpoint"], registry=registry)

        self.up = gauge("up", "1 while the RPC endpoint is usable (answers, chain id, head)")
        self.head = gauge("head", "Latest block number the RPC endpoint reported")
        self.latency = gauge("latency_seconds", "Duration of the last request to the RPC endpoint")
        self.errors = Counter("worker_rpc_errors_total", "Failed requests to the RPC endpoint",
                              ["endpoint"], registry=registry)  # fmt: skip
        for label in labels:
            self.errors.labels(label)
            self.up.labels(label).set(0)

    def error(self, label: str) -> None:
        self.errors.labels(label).inc()

    def state(self, label: str, usable: bool, head: int | None, latency: float | None) -> None:
        self.up.labels(label).set(1 if usable else 0)
        if head is not None:
            self.head.labels(label).set(head)
        if latency is not None:
            self.latency.labels(label).set(latency)


def install(web3: Any, provider: FailoverProvider) -> None:
    """Puts `provider` under `web3` (Ape's provider keeps its own settings and caches)."""
    web3.provider = provider
