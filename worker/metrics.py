"""Prometheus metrics of the worker.

`Metrics` keeps every Prometheus object of the worker behind small methods named after what
happened (`vote_sent("commit")`, `source_error("malformed")`); `worker.health.MetricsServer`
serves them at `/metrics`.
"""

from __future__ import annotations

import logging

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)

ROUND_SOURCES = ("trigger", "chain")
TX_KINDS = ("vote", "commit", "reveal", "finalize", "register", "claim")
CONSENSUS_OUTCOMES = ("yes", "no", "absent")
ROUND_FAILURE_KINDS = ("reopened", "failed", "plurality", "failover")
REFUSAL_REASONS = ("funds", "nonce", "underpriced", "gas", "other")
SOURCE_ERROR_REASONS = ("unreachable", "malformed", "conflict", "sink", "other")

# From a fast local vote (50 ms) to one sent after a slow workflow and a busy chain (2 minutes).
VOTE_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
# Consensus waits for the other workers too, up to the voting period (an hour by default).
CONSENSUS_LATENCY_BUCKETS = (
    0.25,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)


def _check_label(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"metrics: unknown {name} {value!r}; use one of {', '.join(allowed)}")
    return value


class Metrics:
    """The worker's Prometheus metrics, in a registry of their own.

    Label values are checked against the known sets (a typo would otherwise open a new time
    series), except round failure kinds, which are open; every known value is exported from the
    start, at zero, so rates and alerts work before the first event.
    """

    def __init__(self) -> None:
        # NOTE: never the global `prometheus_client.REGISTRY`: several workers (or tests) may live
        # in one process, and the global one would refuse the second set of metric names.
        self.registry = CollectorRegistry(auto_describe=True)
        counter, gauge = self._counter, self._gauge
        self._rounds_seen = counter("rounds_seen", "Rounds taken up, by their start", "source")
        self._votes_sent = counter("votes_sent", "Transactions broadcast, by kind", "kind")
        self._tx_failed = counter("tx_failed", "Transactions failed or reverted, by kind", "kind")
        self._tx_replaced = counter("tx_replaced", "Pending transactions replaced, higher fee")
        self._tx_refused = counter(
            "tx_refused", "Transactions the node refused to take, by reason", "reason"
        )
        self._consensus = counter(
            "consensus", "Rounds closed, by whether the worker agreed (absent: no vote)", "agreed"
        )
        self._round_failures = counter(
            "round_failures", "Rounds without a regular consensus, by outcome", "kind"
        )
        self._source_errors = counter("source_errors", "Data source failures, by reason", "reason")
        self._inputs_stored = counter("inputs_stored", "Input records stored for later rounds")
        self._workflow_errors = counter("workflow_errors", "Workflow runs that failed")
        self._gas_spent = counter("gas_spent_wei", "Transaction fees paid, in wei")
        self._gas_used = counter("gas_used", "Gas used by mined transactions")
        self._balance = gauge("account_balance_wei", "Balance of the worker account, in wei")
        self._last_block = gauge("last_block", "Last block the worker saw")
        self._pending = gauge("pending_transactions", "Transactions sent and not yet mined")
        self._up = gauge("up", "1 while the worker is running")
        self._low_balance = gauge("low_balance", "1 while the balance is under the warning level")
        self._ready = gauge("ready", "1 while /health/ready answers 200 (every component ok)")
        self._live = gauge("live", "1 while /health/live answers 200 (the chain loop runs)")
        self._component_ok = Gauge("worker_health_ok", "1 while the health component is ok",
                                   ["component"], registry=self.registry)  # fmt: skip
        self._windows_waiting = gauge("windows_waiting", "Due windows still waiting for data")
        self._source_age = gauge(
            "source_success_age_seconds", "Seconds since the data source last answered (-1 never)"
        )
        self._vote_latency = Histogram(
            "worker_trigger_to_vote_seconds",
            "Time from a round's trigger to the worker's vote",
            buckets=VOTE_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._consensus_latency = Histogram(
            "worker_trigger_to_consensus_seconds",
            "Time from a round's trigger to its consensus",
            buckets=CONSENSUS_LATENCY_BUCKETS,
            registry=self.registry,
        )
        for family, values in (
            (self._rounds_seen, ROUND_SOURCES),
            (self._votes_sent, TX_KINDS),
            (self._tx_failed, TX_KINDS),
            (self._consensus, CONSENSUS_OUTCOMES),
            (self._round_failures, ROUND_FAILURE_KINDS),
            (self._source_errors, SOURCE_ERROR_REASONS),
            (self._tx_refused, REFUSAL_REASONS),
        ):
            for value in values:
                family.labels(value)

    def _counter(self, name: str, doc: str, label: str | None = None) -> Counter:
        labels = [label] if label else []
        return Counter(f"worker_{name}_total", doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str) -> Gauge:
        return Gauge(f"worker_{name}", doc, registry=self.registry)

    # ---------------------------------------------------------------------------------------------
    # Events
    # ---------------------------------------------------------------------------------------------

    def round_seen(self, source: str) -> None:
        """Count a round taken up; `source` is "trigger" (own schedule) or "chain" (an event)."""
        self._rounds_seen.labels(_check_label("source", source, ROUND_SOURCES)).inc()

    def vote_sent(self, kind: str) -> None:
        """Count a broadcast transaction: vote, commit, reveal, finalize, register or claim."""
        self._votes_sent.labels(_check_label("kind", kind, TX_KINDS)).inc()

    def tx_failed(self, kind: str) -> None:
        """Count a transaction of `kind` that failed to be sent or reverted."""
        self._tx_failed.labels(_check_label("kind", kind, TX_KINDS)).inc()

    def tx_refused(self, reason: str) -> None:
        """Count a transaction the node refused (funds, nonce, underpriced, gas, other)."""
        self._tx_refused.labels(_check_label("reason", reason, REFUSAL_REASONS)).inc()

    def tx_replaced(self) -> None:
        """Count a pending transaction replaced by one with a higher fee."""
        self._tx_replaced.inc()

    def gas_spent(self, gas_used: int, fee_wei: int) -> None:
        """Add the gas used by a mined transaction and the fee paid for it."""
        # NOTE: Prometheus values are floats: beyond 2**53 wei (~0.009 EWT) the total keeps about
        # 16 significant digits, which is plenty for rates and alerts.
        self._gas_used.inc(gas_used)
        self._gas_spent.inc(fee_wei)

    def consensus(self, agreed: bool | None) -> None:
        """Count a closed round: True/False whether the worker agreed, None if it did not vote."""
        self._consensus.labels("absent" if agreed is None else "yes" if agreed else "no").inc()

    def round_failure(self, kind: str) -> None:
        """Count a round without regular consensus (e.g. reopened, failed, plurality, failover)."""
        self._round_failures.labels(kind).inc()

    def source_error(self, reason: str) -> None:
        """Count a data source failure; reasons other than the known ones count as "other"."""
        self._source_errors.labels(reason if reason in SOURCE_ERROR_REASONS else "other").inc()

    def inputs_stored(self, count: int = 1) -> None:
        """Count input records stored for later rounds."""
        self._inputs_stored.inc(count)

    def workflow_error(self) -> None:
        """Count a failed workflow run."""
        self._workflow_errors.inc()

    def observe_vote_latency(self, seconds: float) -> None:
        """Record the time from a round's trigger to the worker's vote."""
        self._vote_latency.observe(seconds)

    def observe_consensus_latency(self, seconds: float) -> None:
        """Record the time from a round's trigger to its consensus."""
        self._consensus_latency.observe(seconds)

    # ---------------------------------------------------------------------------------------------
    # State
    # ---------------------------------------------------------------------------------------------

    def balance(self, wei: int, low: bool) -> None:
        """Set the account balance and whether it is under the warning threshold."""
        self._balance.set(wei)
        self._low_balance.set(1 if low else 0)

    def block(self, number: int) -> None:
        """Set the last block the worker saw."""
        self._last_block.set(number)

    def pending_transactions(self, count: int) -> None:
        """Set the number of transactions sent and not yet mined."""
        self._pending.set(count)

    def running(self, up: bool) -> None:
        """Set `worker_up`: 1 from start until shutdown, then 0."""
        self._up.set(1 if up else 0)

    def health(self, report: dict) -> None:
        """Set the health gauges from a `worker.health.Health.report()` body."""
        self._ready.set(1 if report.get("ready") else 0)
        self._live.set(1 if report.get("live") else 0)
        for name, component in report.get("components", {}).items():
            self._component_ok.labels(name).set(1 if component.get("ok") else 0)
            if name == "windows" and component.get("waiting") is not None:
                self._windows_waiting.set(component["waiting"])
            if name == "source":
                age = component.get("success_age")
                self._source_age.set(-1 if age is None else age)

    def render(self) -> bytes:
        """The metrics in the Prometheus text exposition format."""
        return generate_latest(self.registry)
