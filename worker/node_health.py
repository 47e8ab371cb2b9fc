"""The node's `/health` components beyond the chain loop: data source, windows, balance.

`HealthReporter(node).report()` runs at the end of every tick (on the chain thread) and sets, on
the node's `worker.health.Health`:

- `source`: not ok while a source's latest attempts failed and none succeeded since (an HTTP API
  down from the start, a broker that refuses the subscription), naming each failing source with
  its last error; details of the first source: name, seconds since the last success (HTTP),
  errors, batches (every source also has its own `source:<name>` entry, `worker.sources.build`);
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
        # per source name: (errors, success marker) at the last report, the monotonic time of
        # the last success seen, and whether it fails now
        self._seen: dict[str, tuple[int, Any]] = {}
        self._ok_at: dict[str, float] = {}
        self._failing: dict[str, bool] = {}

    def report(self) -> None:
        """Updates the components from the node's current state."""
        failing = [problem for source in self.node.sources if (problem := self._source(source))]
        if failing:
            self.node.health.problem("source", "; ".join(failing))
        elif self.node.sources:
            self.node.health.clear("source")
        self._windows()

    def _source(self, source: Any) -> str | None:
        """Notes the source's latest counters; the problem while it fails, else None."""
        health, stats, now, name = self.node.health, source.stats, time.monotonic(), source.name
        success_at = getattr(stats, "last_success_at", None)
        if hasattr(stats, "last_success_at"):  # HTTP: any answer, changed or not
            marker: Any = success_at
        else:  # NATS: a connection or a message
            marker = (getattr(stats, "messages", 0), getattr(stats, "connects", 0), stats.batches)
        seen = self._seen.get(name)
        self._seen[name] = (stats.errors, marker)
        succeeded = marker != (seen[1] if seen else None) and marker not in (None, (0, 0, 0))
        if succeeded:
            self._ok_at[name], self._failing[name] = now, False
        elif stats.errors != (seen[0] if seen else 0):
            self._failing[name] = True
        if name == self.node.sources[0].name:  # NOTE: details of the first source, as before
            age = None if success_at is None else round(max(0.0, time.time() - success_at), 1)
            health.detail("source", name=name, success_age=age, errors=stats.errors,
                          batches=stats.batches)  # fmt: skip
        if not self._failing.get(name):
            return None
        ok_at = self._ok_at.get(name)
        since = "never succeeded" if ok_at is None else f"last success {now - ok_at:.0f} s ago"
        return f"source {name!r} fails ({since}): {stats.last_error}"

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
