"""Start-up checks, and `worker check`: every one of them, without running the worker.

`check_trigger(config, workflow)` is part of `worker run`'s start: a workflow module may declare
`WINDOW`, the span (seconds) of the smallest payload it takes, aligned to that span (the matching
workflow: `WINDOW = 3600`, a payload holds whole UTC hours). A round computes the payloads that lie
wholly within its window, so an interval trigger whose windows are shorter than `WINDOW`, or not a
multiple of it, or offset from its alignment, has windows that never (or only sometimes) contain a
payload: refused at start, with the reason.

`worker check --config FILE` runs, in order: config, workflow (reference, params, TYPES),
trigger x workflow, chain (network, chain id, manifest, contract code), enrolment (from the
account's address; never unlocks the key), balance, source (reachable, and a sample payload valid
for the workflow). It prints one line per check and exits 0 if all passed, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from worker.config import IntervalTriggerConfig, NatsSourceConfig, WorkerConfig
from worker.errors import TriggerError, WorkerError


def check_trigger(config: WorkerConfig, workflow: Any) -> None:
    """Refuses an interval trigger whose windows cannot hold the workflow's payloads.

    Raises:
        TriggerError: the period is shorter than, or not a multiple of, the workflow's `WINDOW`,
            or the offset is not aligned to it.
    """
    trigger = config.trigger
    span = window_span(workflow)
    if span is None or not isinstance(trigger, IntervalTriggerConfig):
        return
    ref = workflow.ref
    if trigger.period < span:
        raise TriggerError(
            f"trigger.period {trigger.period} s can never contain a payload of {ref}: its "
            f"payloads span {span} s (WINDOW); use a period of {span} s or a multiple of it"
        )
    if trigger.period % span:
        raise TriggerError(
            f"trigger.period {trigger.period} s is not a multiple of the {span} s (WINDOW) that "
            f"a payload of {ref} spans: some payloads would fall across two windows and never "
            f"count; use {trigger.period // span * span} or {(trigger.period // span + 1) * span}"
        )
    if trigger.offset % span:
        raise TriggerError(
            f"trigger.offset {trigger.offset} s is not aligned to the {span} s (WINDOW) of a "
            f"payload of {ref}: every window would cut a payload in two; use a multiple of {span}"
        )


def window_span(workflow: Any) -> int | None:
    """The `WINDOW` (seconds) a workflow declares on its function or module, or None."""
    import importlib

    module = importlib.import_module(workflow.ref.split(":")[0])
    span = getattr(workflow.function, "WINDOW", None) or getattr(module, "WINDOW", None)
    return int(span) if span else None


# -------------------------------------------------------------------------------------------------
# worker check
# -------------------------------------------------------------------------------------------------


class _Report:
    """Collects one line per check."""

    def __init__(self, as_json: bool) -> None:
        self.as_json, self.results, self.failed = as_json, [], False

    def run(self, name: str, check: Callable[[], str]) -> Any:
        try:
            detail, ok = check(), True
        except (WorkerError, OSError, ValueError) as exc:
            detail, ok = str(exc), False
        except SystemExit as exc:
            detail, ok = f"stopped (exit code {exc.code})", False
        self.failed |= not ok
        self.results.append({"check": name, "ok": ok, "detail": detail})
        if not self.as_json:
            mark = click.style("ok  ", fg="green") if ok else click.style("FAIL", fg="red")
            click.echo(f"{mark} {name}: {detail}")
        return ok


def run_checks(config_path: Path, project: str | None, as_json: bool) -> None:
    """`worker check`: every start-up check; exits 0 if all passed, 1 otherwise."""
    from worker.cli_common import _enter_project
    from worker.config import load_config
    from worker.workflow import load_workflow

    report = _Report(as_json)
    state: dict[str, Any] = {}

    def config() -> str:
        state["config"] = load_config(config_path.resolve())
        return f"{config_path} is valid"

    def workflow() -> str:
        cfg = state["config"]
        state["workflow"] = wf = load_workflow(cfg.workflow.ref)
        wf.parse_params(cfg.workflow.params)
        if wf.types is None:
            raise WorkerError(f"{wf.ref} declares no TYPES (its records' leaf encoding)")
        return f"{wf.ref} loaded, params valid, records {list(wf.types)}"

    def trigger() -> str:
        cfg, wf = state["config"], state["workflow"]
        check_trigger(cfg, wf)
        span = window_span(wf)
        if not isinstance(cfg.trigger, IntervalTriggerConfig):
            return f"event trigger on {cfg.trigger.subject}"
        within = f", payloads span {span} s" if span else " (the workflow declares no WINDOW)"
        return f"windows of {cfg.trigger.period} s{within}"

    def chain() -> str:
        from worker.chain import connect

        cfg = state["config"]
        project_dir = _enter_project(project)
        state["conn"] = conn = connect(cfg.chain, project_dir, require_enrolled=False,
                                       unlock=False)  # fmt: skip
        manifest = conn.manifest.path.name
        return (f"{cfg.chain.network}: chain id {conn.chain_id}, manifest {manifest}, "
                f"WorkerVoting {conn.voting.address} has code")  # fmt: skip

    def enrolment() -> str:
        from worker.chain import check_enrolled

        conn = state["conn"]
        info = check_enrolled(conn.voting, conn.address)
        return f"{conn.address} is an active worker, pool index {int(info.index)}"

    def balance() -> str:
        from worker.status_text import format_amount, symbol_for

        conn, cfg = state["conn"], state["config"]
        wei = int(conn.web3.eth.get_balance(conn.address))
        text = format_amount(wei, symbol_for(conn.chain_id))
        if wei < int(cfg.chain.low_balance * 10**18):
            raise WorkerError(f"{text}, below chain.low_balance {cfg.chain.low_balance:g}: top up")
        return text

    def source() -> str:
        cfg, wf = state["config"], state["workflow"]
        return asyncio.run(_sample(cfg, wf))

    steps = [("config", config), ("workflow", workflow), ("trigger x workflow", trigger),
             ("chain", chain), ("enrolment", enrolment), ("balance", balance),
             ("source", source)]  # fmt: skip
    needs = {"workflow": "config", "trigger x workflow": "workflow", "chain": "config",
             "enrolment": "chain", "balance": "chain", "source": "workflow"}  # fmt: skip
    passed: set[str] = set()
    for name, step in steps:
        if name in needs and needs[name] not in passed:
            report.results.append({"check": name, "ok": False,
                                   "detail": f"skipped: {needs[name]} failed"})  # fmt: skip
            report.failed = True
            if not as_json:
                click.echo(f"{click.style('SKIP', fg='yellow')} {name}: {needs[name]} failed")
            continue
        if report.run(name, step):
            passed.add(name)
    if "conn" in state:
        state["conn"].close()
    if as_json:
        click.echo(json.dumps({"ok": not report.failed, "checks": report.results}, indent=2))
    sys.exit(1 if report.failed else 0)


async def _sample(config: WorkerConfig, workflow: Any) -> str:
    """Fetches one payload from the source and checks it against the workflow's input schema."""
    source = config.source
    if isinstance(source, NatsSourceConfig):
        return await _nats_sample(source)
    from worker.sources import HttpSource

    http = HttpSource(source.url, name=source.name, interval=source.poll_interval,
                      timeout=source.timeout, max_attempts=1, headers=source.headers,
                      shape="object")  # fmt: skip
    try:
        batch = await http.poll()
    finally:
        await http.aclose()
    if batch is None:
        return f"{source.url} answered without a new document"
    start, end = workflow.window_of(batch.payload)
    return f"{source.url} answered; the sample payload is valid (window [{start}, {end}))"


async def _nats_sample(source: NatsSourceConfig) -> str:
    import nats

    nc = await nats.connect(source.servers, connect_timeout=5, max_reconnect_attempts=0)
    try:
        info = await nc.jetstream().stream_info(source.stream)
    finally:
        await nc.close()
    return (f"{source.servers[0]}: stream {source.stream} holds {info.state.messages} "
            f"message(s); payloads are checked as they arrive")  # fmt: skip
