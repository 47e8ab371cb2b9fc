"""The node's `/health` components beyond the chain loop: data source, windows, balance.

`HealthReporter(node).report()` runs at the end of every tick (on the chain thread) and sets, on
the node's `worker.health.Health`:

- `source`: not ok while the data source's latest attempts failed and none succeeded since (an
  HTTP API down from the start, a broker that refuses the subscription), with its last error;
  details: name, seconds since the last success (HTTP), errors, batches;
- `windows`: the rounds that wait for their data (`waiting`); not ok once the newest due window
  of an interval trigger is a whole period (at least 60 s) past due without data, or an event's
  round waited 600 s: no window can be computed, whatever the reason;
- `balance` and `enrolment` are set where they are checked (`Node._check_balance`,
  `Node.check_deployment`).
"""

from __future__ import annotations

import time
from typing import Any

from worker.trigger import IntervalTrigger

EVENT_PATIENCE = 600.0  # seconds an event's round may wait for its data


class HealthReporter:
    """Sets the source and windows components of `node.health` (see the module docstring)."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self._seen: tuple[int, Any] | None = None  # (errors, success marker) at the last report
        self._ok_at: float | None = None  # monotonic time of the last success seen
        self._failing = False

    def report(self) -> None:
        """Updates the components from the node's current state."""
        if self.node.sources:
            self._source(self.node.sources[0])
        self._windows()

    def _source(self, source: Any) -> None:
        health, stats, now = self.node.health, source.stats, time.monotonic()
        success_at = getattr(stats, "last_success_at", None)
        if hasattr(stats, "last_success_at"):  # HTTP: any answer, changed or not
            marker: Any = success_at
        else:  # NATS: a connection or a message
            marker = (getattr(stats, "messages", 0), getattr(stats, "connects", 0), stats.batches)
        seen, self._seen = self._seen, (stats.errors, marker)
        succeeded = marker != (seen[1] if seen else None) and marker not in (None, (0, 0, 0))
        if succeeded:
            self._ok_at, self._failing = now, False
        elif stats.errors != (seen[0] if seen else 0):
            self._failing = True
        age = None if success_at is None else round(max(0.0, time.time() - success_at), 1)
        health.detail("source", name=source.name, success_age=age, errors=stats.errors,
                      batches=stats.batches)  # fmt: skip
        if self._failing:
            since = "never succeeded" if self._ok_at is None else \
                f"last success {now - self._ok_at:.0f} s ago"  # fmt: skip
            health.problem("source", f"source {source.name!r} fails ({since}): {stats.last_error}")
        else:
            health.clear("source")

    def _windows(self) -> None:
        health, waiting = self.node.health, self.node.driver.waiting
        health.detail("windows", waiting=len(waiting))
        problem = None
        if waiting:
            vid, (window, why) = max(waiting.items(), key=lambda item: item[1][0][1] or 0)
            problem = self._stuck(vid, window, why)
        if problem:
            health.problem("windows", problem)
        else:
            health.clear("windows")

    def _stuck(self, vid: bytes, window: tuple, why: str) -> str | None:
        """Why the newest round waiting for data means that no window can be computed."""
        trigger = self.node.trigger
        if isinstance(trigger, IntervalTrigger) and window[1] is not None:
            overdue = time.time() - (window[1] + trigger.lag)
            if overdue > max(trigger.period, 60):
                return (
                    f"the newest due window {list(window)} {why}, {overdue:.0f} s after it "
                    "was due: no window is computed (check the source and the trigger)"
                )
            return None
        since = self.node.driver.known_at.get(vid)
        if since is not None and time.monotonic() - since > EVENT_PATIENCE:
            return f"round 0x{vid.hex()[:10]} (window {window}) {why} for {EVENT_PATIENCE:g} s"
        return None
