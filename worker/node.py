"""One worker process: sources feed the store, triggers start rounds, a chain loop drives them.

Tasks of `Node.run` (one asyncio loop; every chain call runs on one dedicated thread, because
Ape's provider is synchronous):

- the data sources (HTTP polls and NATS durable consumers, `worker.sources.build`) hand batches
  to `worker.intake`, which checks them against the workflow's input schema and the data stored
  before, finds their window and stores them; only then is a broker message acknowledged;
- the event trigger (if configured) reads its own durable consumer and tracks one round per event;
- the chain loop, every `chain.poll_interval` seconds: follows sent transactions, reads new round
  events, tracks due windows (interval trigger), drives every active round (`worker.rounds`),
  checks the balance and, from the first tick after an epoch ended, registers its reward points
  (`worker.registration`).

RPC budget: a tick of an idle worker (no transaction in flight, no round with a result or with
the data to compute one) sends nothing to the node. Rounds that wait for data are checked against
the local store only. Every `idle_every` seconds (30 ticks, at most 60 s) an idle worker reads the
chain head, its time and the new events; every two such passes it checks the deployment and the
enrolment again, and the balance. A busy worker does all of that on every tick, as before.

Rounds are named by their descriptor (`worker.descriptor`): a window is joined when it is due for
this worker, whether another worker opened its round already or not (then this worker opens it);
a round about anything else (another window, schedule or encoding) has another id.

SIGTERM or SIGINT set the stop event: the loop finishes its tick, the sources close, the metrics
server stops. Everything that must survive a crash is in the store before it is acted on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from worker.chain import Connection, check_deployment, check_enrolled
from worker.config import WorkerConfig
from worker.descriptor import RoundNaming
from worker.errors import StartupError, TriggerError, WorkerError, WorkflowRefError
from worker.intake import Intake
from worker.node_health import HealthReporter
from worker.refusals import is_transient
from worker.registration import Registrar
from worker.rounds import RoundDriver
from worker.rpc import DaemonExecutor
from worker.sources import HttpSource, NatsSource, SourceBatch
from worker.sources.build import SourceReport, data_sources, event_source, required_sources
from worker.state import StateStore
from worker.submit import Submitter
from worker.trigger import EventTrigger, IntervalTrigger
from worker.watch import Watcher
from worker.workflow import Workflow

log = logging.getLogger(__name__)

BALANCE_EVERY = 30.0  # seconds between balance checks
STOP_GRACE = 2.0  # seconds a tick may still run after a stop request
CHECK_EVERY = 10.0  # seconds between checks that the contracts and the enrolment still hold
IDLE_TICKS, IDLE_MAX = 30, 60.0  # an idle worker reads the chain every 30 ticks, <= 60 s


class Node:
    """A running worker. Build it with the open connection, store and loaded workflow.

    Args:
        config: The settings.
        conn: The open chain connection (start-up checks passed).
        store: The state store.
        workflow: The loaded workflow.
        metrics: `worker.metrics.Metrics` (optional).
        health: `worker.metrics.Health` (optional).

    Raises:
        WorkflowRefError: the workflow declares no `TYPES` (its rounds' leaf encoding).
    """

    def __init__(self, config: WorkerConfig, conn: Connection, store: StateStore,
                 workflow: Workflow, metrics: Any = None, health: Any = None) -> None:  # fmt: skip
        self.config, self.conn, self.store = config, conn, store
        self.workflow, self.metrics, self.health = workflow, metrics, health
        self.params = workflow.parse_params(config.workflow.params)
        if workflow.types is None:
            raise WorkflowRefError(workflow.ref, "declares no TYPES (the ABI types of its records):"
                                   " every round's descriptor names its leaf encoding")  # fmt: skip
        self.naming = RoundNaming.of(config.workflow.name, self.params, workflow.types)
        self.intake = Intake(workflow, store, metrics, health)
        chain = config.chain
        self.submitter = Submitter(conn, store, metrics, gas_margin=chain.gas_margin,
                                   floors=chain.gas_floors,
                                   confirmations=chain.confirmations,
                                   replace_after=chain.replace_after)  # fmt: skip
        self.chain_now = time.time()  # chain time of the current tick
        self.driver = RoundDriver(conn, store, self.submitter, workflow, config.workflow.params,
                                  metrics, stagger=max(1.0, 2 * chain.poll_interval),
                                  clock=lambda: self.chain_now,
                                  min_inputs=config.workflow.min_inputs,
                                  settle=config.workflow.settle, naming=self.naming)  # fmt: skip
        self.driver.required_sources = required_sources(config.all_sources, workflow)
        self.registrar = Registrar(conn, self.submitter, config.rewards.register_chunk)
        self.watcher = Watcher(conn, store, chain.confirmations, conn.manifest.voting_block)
        self.trigger = (
            IntervalTrigger.from_config(config.trigger)
            if config.trigger.kind == "interval"
            else EventTrigger.from_config(config.trigger)
        )
        if isinstance(self.trigger, IntervalTrigger):
            self.driver.horizon = self.trigger.catch_up * self.trigger.period
        self._executor = DaemonExecutor("chain")
        self._next_balance = 0.0
        self._next_check = 0.0
        self.idle_every = min(IDLE_MAX, IDLE_TICKS * chain.poll_interval)
        self._next_pass = 0.0  # when an idle worker reads the chain next
        self._chain_clock = (time.time(), time.monotonic())  # chain time read, and when
        self.busy = True  # the last tick had work for the node
        self._low = False  # the balance is below chain.low_balance
        self._failures: set[str] = set()  # tick failures logged with their traceback
        self._reported: dict[tuple[int, str], int] = {}
        self.sources: list[HttpSource | NatsSource] = []
        self.source_report: SourceReport | None = None
        self.reporter = HealthReporter(self)
        self.ticks = 0

    # ---------------------------------------------------------------------------------------------
    # Running
    # ---------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Runs until `stop` is set; returns after a clean shutdown."""
        if self.health is not None:
            poll = self.config.chain.poll_interval
            self.health.register("loop", max(30.0, 10 * poll), live=True)
            self.health.register("chain", max(30.0, 10 * poll, 3 * self.idle_every))
            self.health.register("enrolment", 3 * max(CHECK_EVERY, 2 * self.idle_every))
            self.health.detail("enrolment", pool_index=self.conn.pool_index)
            self.health.set_info("address", self.conn.address)
            self.health.set_info("chain_id", self.conn.chain_id)
        if self.metrics is not None:
            self.metrics.running(True)
        self.sources = data_sources(self.config.all_sources, self.intake, self.store)
        tasks = [asyncio.create_task(source.run(self.intake.receive, stop), name=source.name)
                 for source in self.sources]  # fmt: skip
        self.source_report = SourceReport(self.sources, self.metrics, self.health)
        if isinstance(self.trigger, EventTrigger):
            self.sources.append(event_source(self.config.all_sources, self.trigger.subject))
            runner = self.sources[-1].run(self.on_event, stop)
            tasks.append(asyncio.create_task(runner, name="events"))
        tasks.append(asyncio.create_task(self._chain_loop(stop), name="chain"))
        log.info("worker %s running (pool index %d, chain id %d)", self.conn.address,
                 self.conn.pool_index, self.conn.chain_id)  # fmt: skip
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
        finally:
            stop.set()
            _, late = await asyncio.wait(tasks, timeout=2 * STOP_GRACE)
            for task in late:  # NOTE: e.g. a source closing its connection to a frozen broker
                task.cancel()
            self._executor.shutdown(wait=False)  # NOTE: a call hung in the node is abandoned
            if self.metrics is not None:
                self.metrics.running(False)
            log.info("worker stopped")

    async def _chain_loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = time.monotonic()
            tick = loop.run_in_executor(self._executor, self.tick)
            if not await _finished_or_stopped(tick, stop):
                log.warning("stopping while a node call is still running (the node does not "
                            "answer): not waiting for it")  # fmt: skip
                return
            if self.health is not None:
                self.health.beat("loop")
            try:
                tick.result()
            except StartupError as exc:  # NOTE: fatal: the deployment or enrolment is gone
                if self.health is not None:
                    self.health.problem("chain", f"stopping: {exc}")
                raise
            except WorkerError as exc:
                log.warning("chain tick: %s", exc)
                if self.health is not None:
                    self.health.problem("chain", str(exc))
            except Exception as exc:  # NOTE: a passing node fault must not end the worker
                text = f"{type(exc).__name__}: {exc}"
                if is_transient(exc):
                    text = f"node unavailable ({text})"
                    log.warning("chain tick: %s", text)
                elif text in self._failures:
                    log.warning("chain tick failed again: %s", text)
                else:
                    self._failures.add(text)
                    log.exception("chain tick failed: %s", exc)
                if self.health is not None:
                    self.health.problem("chain", text)
            delay = self.config.chain.poll_interval - (time.monotonic() - started)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, delay))

    def tick(self) -> None:
        """One pass of the chain loop (runs on the chain thread).

        Raises:
            StartupError: fatal: the contracts are gone (`ChainGoneError`), the account was
                removed (`NotEnrolledError`) or the node serves another chain; checked every
                `CHECK_EVERY` seconds and after any unexpected failure.
        """
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + (CHECK_EVERY if self.busy else 2 * self.idle_every)
            self.check_deployment()
        try:
            self._tick()
        except WorkerError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                self.check_deployment()  # NOTE: a reset chain shows first as odd failures
            raise

    def check_deployment(self) -> None:
        """The start-up checks of the chain, the contracts and the enrolment, again."""
        check_deployment(self.conn.web3, self.conn.manifest, self.config.chain.network)
        try:
            info = check_enrolled(self.conn.voting, self.conn.address)
        except StartupError as exc:
            if self.health is not None:
                self.health.problem("enrolment", str(exc))
            raise
        if self.health is not None:
            self.health.beat("enrolment")
            self.health.clear("enrolment")
            self.health.detail("enrolment", pool_index=int(info.index), active=True)

    def _tick(self) -> None:
        self.ticks += 1
        if isinstance(self.trigger, IntervalTrigger):
            for window in self.trigger.windows_due(time.time()):
                vid = self.naming.window(window.start, window.end).voting_id
                self.driver.track(vid, (window.start, window.end), None, "trigger")
        active = self.driver.active()
        ready = [vid for vid in active if self.driver.waiting_for_data(vid) is None]
        now = time.monotonic()
        self.busy = bool(ready) or self.submitter.has_pending or self._low_refused()
        full = self.busy or now >= self._next_pass
        if full:
            self._next_pass = now + self.idle_every
            self.chain_now = self._chain_time()
            if self.submitter.has_pending:
                self.submitter.poll()
            _events, upto = self.watcher.poll()
            self.watcher.advance(upto)
            if self.metrics is not None:
                self.metrics.block(upto)
        else:  # NOTE: idle: the chain clock runs on from the last reading
            read, at = self._chain_clock
            self.chain_now = read + (now - at)
        for vid in active:
            try:
                self.driver.drive(vid)
            except WorkerError as exc:  # NOTE: one round's problem must not stall the others
                log.warning("round 0x%s: %s", vid.hex()[:10], exc)
        for vid in [v for v in self.driver.waiting if v not in active]:
            self.driver.waiting.pop(vid, None)
        self._report_sources()
        if self.health is not None:
            self.reporter.report()
        if now >= self._next_balance or self._low_refused():
            self._next_balance = now + (BALANCE_EVERY if self.busy else 2 * self.idle_every)
            self._check_balance()
        if self.conn.rewards is not None:
            self.registrar.tick(int(self.chain_now))  # NOTE: no call until the next epoch end
        if full and self.health is not None:
            self.health.beat("chain")
            self.health.clear("chain")

    def _low_refused(self) -> bool:
        return self.submitter.refusals.short_of_funds and not self._low

    def _chain_time(self) -> float:
        """The time the next block will carry: deadlines are chain time, not this machine's."""
        eth = self.conn.web3.eth
        try:
            found = float(eth.get_block("pending")["timestamp"])
        except Exception:  # NOTE: a node without a pending block: the latest one, or the clock
            try:
                found = max(float(eth.get_block("latest")["timestamp"]), time.time())
            except Exception:
                return time.time()
        self._chain_clock = (found, time.monotonic())
        return found

    def _report_sources(self) -> None:
        """Adds the sources' new failures to the metrics, by reason (and by source)."""
        if self.source_report is not None:
            self.source_report.tick()
        if self.metrics is None:
            return
        for i, source in enumerate(self.sources):
            stats = source.stats
            other = stats.errors - stats.malformed - stats.conflicts - stats.sink_errors
            for reason, total in (("malformed", stats.malformed), ("conflict", stats.conflicts),
                                  ("sink", stats.sink_errors), ("unreachable", other)):  # fmt: skip
                new = total - self._reported.get((i, reason), 0)
                for _ in range(max(0, new)):
                    self.metrics.source_error(reason)
                self._reported[(i, reason)] = total

    def _check_balance(self) -> None:
        balance = int(self.conn.web3.eth.get_balance(self.conn.address))
        low = self._low = balance < int(self.config.chain.low_balance * 10**18)
        if self.metrics is not None:
            self.metrics.balance(balance, low)
        text = (f"account {self.conn.address} holds {balance / 1e18:.6f}, below "
                f"chain.low_balance {self.config.chain.low_balance:g}: top it up")  # fmt: skip
        if low:
            log.warning("%s", text)
        if self.health is None:
            return
        self.health.detail("balance", wei=balance, low=low)
        if low:
            self.health.warn("balance", text)
        else:
            self.health.unwarn("balance")
        if balance == 0:
            self.health.problem("balance", f"account {self.conn.address} holds nothing: it "
                                           "cannot pay for a vote")  # fmt: skip
        else:
            self.health.clear("balance")

    # ---------------------------------------------------------------------------------------------
    # Data in
    # ---------------------------------------------------------------------------------------------

    async def on_event(self, batch: SourceBatch) -> None:
        """The event trigger's sink: tracks the round of an event message."""
        try:
            event = self.trigger.event_of(batch.payload)
        except TriggerError as exc:
            log.warning("event message %s ignored: %s", batch.key, exc)
            if self.metrics is not None:
                self.metrics.source_error("malformed")
            return
        vid = self.naming.event(event.key).voting_id
        window = (event.window.start, event.window.end) if event.window else None
        self.driver.track(vid, window, event.key, "trigger")


async def _finished_or_stopped(task: asyncio.Future, stop: asyncio.Event) -> bool:
    """Waits for `task`; after a stop request at most `STOP_GRACE` seconds more.

    Returns:
        True if the task finished (its result or exception is ready), False if it still runs.
    """
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not task.done():
        await asyncio.wait({task}, timeout=STOP_GRACE)
    return task.done()
