"""The worker's data sources from its config: the sources, the windows they must deliver for,
and what the operator sees of each (a health entry and metrics per source).

A workflow may declare the kinds of input a round needs (`INPUTS`, e.g. production and
consumption); each source says which of them it `delivers` (default: all). Every source that
delivers a needed input is required: a window is complete once each required source stored at
least one payload for it (`required_sources`). A workflow without `INPUTS` requires every source.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge

from worker.config_sections import HttpSourceConfig, NatsSourceConfig
from worker.errors import SourceInputsError, TriggerError
from worker.intake import Intake
from worker.sources.http import HttpSource
from worker.sources.nats import NatsSource
from worker.state import StateStore
from worker.workflow import Workflow

Source = HttpSource | NatsSource
CATCH_UP = 24  # windows one poll of a `window_url` source fetches at most, newest first


def required_sources(configs: list[HttpSourceConfig | NatsSourceConfig],
                     workflow: Workflow) -> frozenset[str]:  # fmt: skip
    """The names of the sources every window waits for.

    Raises:
        SourceInputsError: a source delivers an input the workflow does not declare, or an input
            the workflow needs has no source.
    """
    needed = workflow.inputs
    if needed is None:
        if given := [c.name for c in configs if c.delivers is not None]:
            raise SourceInputsError(f"source {given[0]!r} names what it delivers, but workflow "
                                    f"{workflow.ref} declares no INPUTS")  # fmt: skip
        return frozenset(c.name for c in configs)
    for config in configs:
        if unknown := sorted(set(config.delivers or ()) - set(needed)):
            raise SourceInputsError(f"source {config.name!r} delivers {unknown[0]!r}, not one of "
                                    f"the workflow's inputs {', '.join(needed)}")  # fmt: skip
    for name in needed:
        if not any(config.delivers is None or name in config.delivers for config in configs):
            raise SourceInputsError(f"no source delivers {name!r}, an input of {workflow.ref}")
    return frozenset(c.name for c in configs if c.delivers is None or set(c.delivers) & set(needed))


def data_sources(configs: list[HttpSourceConfig | NatsSourceConfig], intake: Intake,
                 store: StateStore) -> list[Source]:  # fmt: skip
    """One source per config, each checking its payloads with `intake.validator`."""
    sources: list[Source] = []
    for config in configs:
        validate = intake.validator(config.name, config.delivers)
        if isinstance(config, NatsSourceConfig):
            sources.append(NatsSource(config.servers, stream=config.stream, subject=config.subject,
                                      durable=config.durable, name=config.name, shape="object",
                                      ack_wait=config.ack_wait, retry_delay=config.retry_delay,
                                      backoff_max=config.backoff_max,
                                      validate=validate))  # fmt: skip
            continue
        windows = _waiting_windows(store, config.name) if config.window_url else None
        sources.append(HttpSource(config.url, name=config.name, window_url=config.window_url,
                                  windows=windows, interval=config.poll_interval,
                                  timeout=config.timeout, max_attempts=config.retries + 1,
                                  backoff_base=config.backoff, backoff_max=config.backoff_max,
                                  headers=config.headers, shape="object",
                                  validate=validate))  # fmt: skip
    return sources


def event_source(configs: list[HttpSourceConfig | NatsSourceConfig], subject: str) -> NatsSource:
    """The event trigger's consumer, on the broker of the first NATS source.

    Raises:
        TriggerError: no source is a NATS source.
    """
    nats = [c for c in configs if isinstance(c, NatsSourceConfig)]
    if not nats:
        raise TriggerError("trigger.kind event needs a source of kind nats (its broker)")
    first = nats[0]
    return NatsSource(first.servers, stream=first.stream, subject=subject,
                      durable=f"{first.durable}-events", name=f"{first.name}-events",
                      batch_size=1, shape="object")  # fmt: skip


def _waiting_windows(store: StateStore, source: str) -> Callable[[], list[tuple[int, int]]]:
    """The windows of rounds not computed yet that hold no payload of `source`, newest first."""

    def windows() -> list[tuple[int, int]]:
        rounds = store.rounds("skipped")
        waiting = sorted(
            {(r.window_start, r.window_end) for r in rounds if r.window_start is not None}
        )
        missing = [w for w in reversed(waiting) if source not in store.sources_for_window(*w)]
        return missing[:CATCH_UP]

    return windows


class SourceReport:
    """Per source: a health entry (`source:<name>`, with the age of its last contact with its
    API or broker; while it fails, a warning with the failure: the worker is "degraded", still
    serving the windows it has data for) and metrics labelled by source:
    `worker_source_batches_total`, `worker_source_failures_total`, `worker_source_up` and
    `worker_source_last_success_timestamp_seconds`. Call `tick()` often (each chain tick)."""

    def __init__(self, sources: list[Source], metrics: Any = None, health: Any = None) -> None:
        self.sources, self.health = sources, health
        self._seen: dict[str, tuple[int, int]] = {}
        self._families = None
        if metrics is not None:
            registry = metrics.registry
            self._families = (
                Counter("worker_source_batches_total", "Payloads stored, by source", ["source"],
                        registry=registry),
                Counter("worker_source_failures_total", "Failures of a source, by source",
                        ["source"], registry=registry),
                Gauge("worker_source_up", "1 while the source reaches its API or broker",
                      ["source"], registry=registry),
                Gauge("worker_source_last_success_timestamp_seconds",
                      "When the source last reached its API or broker", ["source"],
                      registry=registry),
            )  # fmt: skip
        for source in sources:
            if self._families is not None:
                for family in self._families:
                    family.labels(source.name)

    def tick(self) -> None:
        """Moves the health entries and metrics on to the sources' current counters."""
        now = time.time()
        for source in self.sources:
            stats, name = source.stats, source.name
            batches, errors = self._seen.get(name, (0, 0))
            # NOTE: a source with only a window_url sends nothing while no window waits for it
            idle = isinstance(source, HttpSource) and source.url is None and stats.errors == errors
            up = idle or _reaching(source)
            if self._families is not None:
                stored, failures, up_gauge, success = self._families
                stored.labels(name).inc(max(0, stats.batches - batches))
                failures.labels(name).inc(max(0, stats.errors - errors))
                up_gauge.labels(name).set(1 if up else 0)
                if up:
                    success.labels(name).set(getattr(stats, "last_success_at", None) or now)
            if self.health is not None:
                component = f"source:{name}"
                if up:
                    self.health.beat(component)
                    self.health.unwarn(component)
                elif stats.errors > errors and stats.last_error:
                    self.health.warn(component, stats.last_error)
            self._seen[name] = (stats.batches, stats.errors)


def _reaching(source: Source) -> bool:
    """Whether the source reached its API lately (HTTP) or is connected (NATS)."""
    if isinstance(source, NatsSource):
        return source.connected
    last = source.stats.last_success_at
    return last is not None and time.time() - last < 3 * source.interval + source.timeout
