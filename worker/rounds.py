"""Driving rounds: compute the result, vote (or commit and reveal), finalize, record the outcome.

`RoundDriver.drive(votingId)` is called for every active round on every tick. It reads the round's
state from the contract once and does what is due, so it is idempotent and resumes after a restart
from the store and the chain alone:

- not computed for the current attempt: once the round's window is complete (at least
  `min_inputs` inputs, one from each required source, the newest rested `settle` seconds), run
  the workflow on its stored inputs, build the records tree and store it (attempt 2 recomputes
  from the data stored by then);
- open mode: vote (also a late vote while a consensus round still takes them); a round nobody
  opened yet is opened with the vote (`openAndVote` with the round's descriptor);
- sealed mode: store the salt, commit (`openAndCommit` if not open yet), and reveal once the
  reveal phase opens (also late);
- attempt 1 has no clock (deadline 0) until `threshold` workers voted: nothing to finalize, no
  reveal yet, and the round is never given up for that alone;
- past its deadline, or when no result can reach the threshold any more, or awaiting failover
  past its timeout: `finalize`, staggered by pool index so that one worker sends it and the
  others' estimates see it done;
- settled: record the outcome (and whether this worker's vote agreed) and close the round;
- awaiting failover: record that once and keep the round, sending nothing, until the failover
  address resolves it (then settled as above); such rounds come last in `active()`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from worker.chain import Connection
from worker.descriptor import Descriptor, RoundNaming
from worker.errors import TriggerError, WorkflowError
from worker.round_status import (
    ACTIVE,
    FALLBACKS,
    MAX_ACTIVE,
    SETTLED,
    STATUS,
    WAITING,
    RoundConfig,
    _fields,
    _short,
    finalizable,
)
from worker.state import StateStore
from worker.submit import Submitter
from worker.workflow import Workflow, output_tree, run_workflow

log = logging.getLogger(__name__)


class RoundDriver:
    """Moves this worker's rounds along. See the module docstring.

    Args:
        conn: The open connection.
        store: The state store.
        submitter: Sends the transactions.
        workflow: The loaded workflow and its parsed params.
        metrics: Optional `worker.metrics.Metrics`.
        stagger: Seconds between the finalize turns of consecutive pool indices.
        clock: Chain clock (epoch seconds), replaceable in tests.
        min_inputs: Inputs a window needs before its result is computed.
        settle: Seconds the newest input of a window must have rested (by the store's wall
            clock) before the result is computed.
        naming: Derives the descriptor a round is opened with; None: this worker never opens.
    """

    def __init__(self, conn: Connection, store: StateStore, submitter: Submitter,
                 workflow: Workflow, params: Any, metrics: Any = None, stagger: float = 2.0,
                 clock: Callable[[], float] = time.time, min_inputs: int = 1,
                 settle: float = 0.0, naming: RoundNaming | None = None) -> None:  # fmt: skip
        self.conn, self.store, self.submitter, self.naming = conn, store, submitter, naming
        self.min_inputs, self.settle = min_inputs, settle
        self.required_sources: frozenset[str] = frozenset()  # each delivers before computing
        self.workflow, self.params, self.metrics = workflow, params, metrics
        self.stagger, self.clock = stagger, clock
        self.horizon = 86_400  # seconds after its window ends that a round without data is kept
        self._configs: dict[int, Any] = {}
        self._said: set[tuple] = set()  # things logged once
        self._finalizable_since: dict[tuple[bytes, int], float] = {}
        self.known_at: dict[bytes, float] = {}  # votingId -> when this worker learnt of the round
        # votingId -> (window, why) of the rounds that wait for their data (see `drive`)
        self.waiting: dict[bytes, tuple[tuple[Any, Any], str]] = {}

    # ---------------------------------------------------------------------------------------------
    # Which rounds
    # ---------------------------------------------------------------------------------------------

    def track(self, voting_id: bytes, window: tuple[int, int] | None, event_key: str | None,
              source: str) -> bool:  # fmt: skip
        """Registers a round this worker should take part in (idempotent).

        Returns:
            True if the round is new to this worker.
        """
        if self.store.round(voting_id) is not None:
            return False
        self.store.put_round(voting_id, 1, None, window=window, event_key=event_key,
                             status="skipped")  # fmt: skip
        self.known_at.setdefault(voting_id, time.monotonic())
        if self.metrics is not None:
            self.metrics.round_seen(source)
        log.info("round %s: tracked (%s, window %s)", _short(voting_id), source, window,
                 extra=_fields(voting_id, window=window))  # fmt: skip
        return True

    def active(self) -> list[bytes]:
        """Rounds not closed yet, oldest first (at most `MAX_ACTIVE`), those awaiting failover
        after the others: they may wait long and must not crowd out new rounds."""
        seen: dict[bytes, None] = {}
        for status in ACTIVE:
            for r in self.store.rounds(status):
                seen.setdefault(bytes.fromhex(r.voting_id[2:]), None)
        waiting = {vid for vid in seen if (o := self.store.outcome(vid)) and o.kind == WAITING}
        return sorted(seen, key=lambda vid: vid in waiting)[:MAX_ACTIVE]  # stable: oldest first

    # ---------------------------------------------------------------------------------------------
    # One round
    # ---------------------------------------------------------------------------------------------

    def waiting_for_data(self, voting_id: bytes, local: Any = None) -> str | None:
        """Why a round has no result yet and cannot compute one from the stored inputs (no
        window, too few inputs, not settled), or None: it has one, or can compute it now.

        Such a round needs nothing from the chain until its data arrives."""
        local = local or self.store.round(voting_id)
        if local is None or local.status != "skipped" or local.result is not None:
            return None
        if local.window_start is None:
            return "names no data window"
        waiting = self._incomplete(self.store.inputs_for_window(local.window_start,
                                                                local.window_end))  # fmt: skip
        return None if waiting is None else waiting[1]

    def drive(self, voting_id: bytes) -> str:
        """Does what is due for one round; returns its on-chain status name ("Waiting" for a
        round without data, which costs no call until its data arrives or it is given up)."""
        local = self.store.round(voting_id)
        why = self.waiting_for_data(voting_id, local)
        if why is not None:
            window = (local.window_start, local.window_end)
            self.waiting[voting_id] = (window, why)
            quiet = logging.DEBUG if why.startswith("has 0 ") else logging.INFO  # no data at all
            self._once(("waiting", voting_id, why), "round %s: window %s %s", _short(voting_id),
                       window, why, level=quiet)  # fmt: skip
            if not self._stale(voting_id, local):
                return "Waiting"
        else:
            self.waiting.pop(voting_id, None)
        st = self.conn.voting.roundState(voting_id)
        status = STATUS[int(st.status)]
        if local is None:
            return status
        committed = bool(st.committed & (1 << self.conn.pool_index))
        if status in SETTLED:
            late_ok = status == "Consensus" and (committed or not st.sealedMode)
            if not (late_ok and self.clock() <= st.deadline) or self._voted(voting_id, st.attempt):
                if self._in_flight(voting_id, st.attempt):
                    return status  # NOTE: settled once its receipt tells whether it counted
                self._settle(voting_id, st, status)
                if status != WAITING:  # NOTE: kept until the failover resolves or times out
                    self._close(voting_id, local.attempt)
                self._maybe_finalize(voting_id, st, status)
                return status
            # NOTE: consensus came before this worker's vote (or reveal of its commit); a late
            # one still counts as cast.
        attempt = max(1, int(st.attempt))
        result = self._result(voting_id, attempt, local)
        if result is None:
            # NOTE: a round opened by someone else waits for its quorum (no clock); without data
            # it is given up like one nobody opened, never for having no deadline.
            unclocked = status in ("Voting", "Committing") and int(st.deadline) == 0
            if (status == "None" or unclocked) and self._stale(voting_id, local):
                log.warning("round %s: no result for window %s within %d s: given up",
                            _short(voting_id), (local.window_start, local.window_end),
                            self.horizon)  # fmt: skip
                self._close(voting_id, local.attempt)
            self._maybe_finalize(voting_id, st, status)
            return status
        if status == "None":
            descriptor = self._descriptor(voting_id, local)
            if descriptor is None:
                return status
            if self._config(None).sealedMode:
                self.store.ensure_salt(voting_id, attempt, result)
                self._act(voting_id, attempt, "commit", result, descriptor)
            else:
                self._act(voting_id, attempt, "vote", result, descriptor)
        elif status == "Voting" or (status == "Consensus" and not st.sealedMode):
            self._act(voting_id, attempt, "vote", result)
        elif status in ("Committing", "Revealing", "Consensus"):
            deadline = int(st.deadline)
            commits_open = status == "Committing" and (deadline == 0 or self.clock() <= deadline)
            if not committed and commits_open:
                self.store.ensure_salt(voting_id, attempt, result)
                self._act(voting_id, attempt, "commit", result)
            elif committed and not commits_open:
                self._act(voting_id, attempt, "reveal", self._committed_result(voting_id, attempt))
        self._maybe_finalize(voting_id, st, status)
        return status

    def _result(self, voting_id: bytes, attempt: int, local: Any) -> bytes | None:
        """The result of `attempt`: stored, or computed now from the stored inputs."""
        stored = self.store.round(voting_id, attempt)
        if stored is not None and stored.result is not None:
            return bytes.fromhex(stored.result[2:])
        window = (local.window_start, local.window_end)
        if window[0] is None:
            self._once(("nowindow", voting_id), "round %s names no data window: not computed",
                       _short(voting_id))  # fmt: skip
            return None
        inputs = self.store.inputs_for_window(*window)
        waiting = self._incomplete(inputs)
        if waiting:
            self._once(("nodata", voting_id, attempt, waiting[0]), "round %s attempt %d: window %s "
                       "%s", _short(voting_id), attempt, window, waiting[1])  # fmt: skip
            return None
        try:
            output = run_workflow(self.workflow, [i["payload"] for i in inputs], self.params)
            tree = output_tree(output)
        except WorkflowError as exc:
            if self.metrics is not None:
                self.metrics.workflow_error()
            self._once(("wferr", voting_id, attempt, str(exc)), "round %s attempt %d: %s",
                       _short(voting_id), attempt, exc, level=logging.ERROR)  # fmt: skip
            return None
        self.store.put_round(voting_id, attempt, tree, window=window, event_key=local.event_key)
        log.info("round %s attempt %d: %d records from %d inputs, root %s", _short(voting_id),
                 attempt, len(tree), len(inputs), tree.root[:18],
                 extra=_fields(voting_id, attempt, window))  # fmt: skip
        return bytes.fromhex(tree.root[2:])

    def _incomplete(self, inputs: list[dict]) -> tuple[Any, str] | None:
        """Why a window's inputs are not ready to compute (a log key and a text), or None."""
        if len(inputs) < self.min_inputs:
            return len(inputs), f"has {len(inputs)} of {self.min_inputs} inputs: not computed yet"
        if missing := sorted(self.required_sources - {i["source"] for i in inputs}):
            return tuple(missing), f"waits for source(s) {', '.join(missing)}: not computed yet"
        rested = self.store.now() - max(i["received_at"] for i in inputs)
        if rested < self.settle:
            return "settle", f"got an input {rested:.0f} s ago: computed after {self.settle:g} s"
        return None

    def _stale(self, voting_id: bytes, local: Any) -> bool:
        """Whether a round nobody opened waited too long for data: a window round `horizon`
        seconds after its window ended, an event round (its window may lie far in the past)
        `horizon` seconds after this worker took it up."""
        if local.event_key is None:
            return local.window_end is not None and local.window_end < self.clock() - self.horizon
        since = self.known_at.get(voting_id)
        return since is not None and time.monotonic() - since > self.horizon

    def _close(self, voting_id: bytes, attempts: int) -> None:
        self.waiting.pop(voting_id, None)
        for attempt in range(1, attempts + 1):
            if self.store.round(voting_id, attempt) is not None:
                self.store.set_round_status(voting_id, attempt, "closed")

    def _committed_result(self, voting_id: bytes, attempt: int) -> bytes:
        stored = self.store.salt(voting_id, attempt)
        return bytes.fromhex(stored[1][2:]) if stored else b""

    def _descriptor(self, voting_id: bytes, local: Any) -> Descriptor | None:
        """The descriptor to open a round with; None (logged once) if it is not this round's."""
        try:
            if self.naming is None:
                raise TriggerError("no round naming configured: this worker opens no rounds")
            found = self.naming.of_round((local.window_start, local.window_end), local.event_key)
            if found.voting_id != voting_id:
                raise TriggerError(f"its descriptor has the id 0x{found.voting_id.hex()}")
        except TriggerError as exc:
            self._once(("nodesc", voting_id), "round %s: not opened: %s", _short(voting_id), exc,
                       level=logging.ERROR)  # fmt: skip
            return None
        return found

    def _act(self, voting_id: bytes, attempt: int, kind: str, result: bytes,
             descriptor: Descriptor | None = None) -> None:  # fmt: skip
        if not result:
            self._once(("nosalt", voting_id, attempt), "round %s: committed, but the salt is "
                       "lost: cannot reveal", _short(voting_id), level=logging.ERROR)  # fmt: skip
            return
        local = self.store.round(voting_id)
        window = None if local is None else (local.window_start, local.window_end)
        outcome = self.submitter.ensure(kind, voting_id, attempt, result, descriptor, window)
        if outcome.startswith("rejected:"):
            self._once((kind, voting_id, attempt, outcome), "round %s attempt %d: %s %s",
                       _short(voting_id), attempt, kind, outcome)  # fmt: skip
        elif outcome in ("pending", "confirmed"):
            state = {"vote": "voted", "commit": "committed", "reveal": "revealed"}[kind]
            current = self.store.round(voting_id, attempt)
            if current is not None and current.status in ("computed", "skipped", "voted",
                                                           "committed"):  # fmt: skip
                first = current.status in ("computed", "skipped") and kind != "reveal"
                started = self.known_at.get(voting_id)
                if first and started is not None and self.metrics is not None:
                    self.metrics.observe_vote_latency(time.monotonic() - started)
                self.store.set_round_status(voting_id, attempt, state)

    def _voted(self, voting_id: bytes, attempt: int) -> bool:
        return self._my_vote(voting_id, attempt) is not None

    def _my_vote(self, voting_id: bytes, attempt: int) -> str | None:
        """The result this worker voted (sealed mode: revealed) in `attempt`, once sent."""
        for kind in ("reveal", "vote"):
            row = self.store.vote(voting_id, attempt, kind)
            if row is not None and row.state in ("sent", "confirmed"):
                return row.result
        return None

    def _in_flight(self, voting_id: bytes, attempt: int) -> bool:
        """Whether this worker's vote or reveal of `attempt` is sent and not yet confirmed."""
        rows = (self.store.vote(voting_id, attempt, kind) for kind in ("vote", "reveal"))
        return any(row is not None and row.state == "sent" for row in rows)

    def _settle(self, voting_id: bytes, st: Any, status: str) -> None:
        known = self.store.outcome(voting_id)
        if known is not None and known.kind == status:
            return  # recorded once per kind: AwaitingFailover, then perhaps FailoverResolved
        # NOTE: only a vote the chain counted agrees or dissents; one that reverted is absent.
        counted = bool(int(st.voted) >> self.conn.pool_index & 1)
        mine = self._my_vote(voting_id, st.attempt) if counted else None
        result = "0x" + bytes(st.result).hex() if int.from_bytes(st.result, "big") else None
        agreed = None if mine is None or result is None else mine == result
        fallback = None
        if status in ("Plurality", "Failed", WAITING, "FailoverResolved"):
            fallback = FALLBACKS[int(self._config(int(st.configVersion)).fallbackPolicy)]
        self.store.record_outcome(voting_id, status, attempt=int(st.attempt), result=result,
                                  agreed=agreed, fallback=fallback)  # fmt: skip
        if self.metrics is not None:
            if result is not None:
                self.metrics.consensus(agreed)
            # NOTE: a failover round is one "failover" failure, counted when first seen (waiting
            # or already resolved); `consensus` counts it once resolved, as it has a result then.
            resolved_after_wait = known is not None and known.kind == WAITING
            if status != "Consensus" and not resolved_after_wait:
                self.metrics.round_failure("failover" if "Failover" in status else status.lower())
            started = self.known_at.pop(voting_id, None)
            if started is not None and result is not None:
                self.metrics.observe_consensus_latency(time.monotonic() - started)
        local = self.store.round(voting_id)
        window = None if local is None else (local.window_start, local.window_end)
        log.info("round %s: %s (attempt %d)%s%s", _short(voting_id), status, st.attempt,
                 f", result {result[:18]}" if result else "",
                 "" if agreed is None else (", agreed" if agreed else ", DISAGREED"),
                 extra=_fields(voting_id, int(st.attempt), window))  # fmt: skip

    # ---------------------------------------------------------------------------------------------
    # Finalize
    # ---------------------------------------------------------------------------------------------

    def _maybe_finalize(self, voting_id: bytes, st: Any, status: str) -> None:
        if status not in ("Voting", "Committing", "Revealing", WAITING):
            return
        now = self.clock()
        if not self._finalizable(st, status, now):
            self._finalizable_since.pop((voting_id, int(st.attempt)), None)
            return
        key = (voting_id, int(st.attempt))
        since = self._finalizable_since.setdefault(key, time.monotonic())
        turn = (self.conn.pool_index % 8) * self.stagger
        if time.monotonic() - since < turn:
            return
        try:
            self.submitter.send(f"finalize {_short(voting_id)}", self.conn.voting, "finalize",
                                voting_id)  # fmt: skip
            self._finalizable_since[key] = time.monotonic() + 4 * self.stagger  # a pause
        except Exception as exc:  # NOTE: another worker finalized first; its estimate reverts
            log.debug("finalize %s not sent: %s", _short(voting_id), exc)
            self._finalizable_since[key] = time.monotonic() + self.stagger

    def _finalizable(self, st: Any, status: str, now: float) -> bool:
        """`finalizable` with the round's config."""
        return finalizable(st, status, now, self._config(int(st.configVersion)))

    # ---------------------------------------------------------------------------------------------
    # Helpers
    # ---------------------------------------------------------------------------------------------

    def _config(self, version: int | None) -> RoundConfig:
        if version is None:
            config, version = self.conn.voting.currentConfig()
            self._configs[int(version)] = RoundConfig(*config)
            return self._configs[int(version)]
        if version not in self._configs:
            self._configs[version] = RoundConfig(*self.conn.voting.configAt(version))
        return self._configs[version]

    def _once(self, key: tuple, message: str, *args: Any, level: int = logging.INFO) -> None:
        if key not in self._said:
            if len(self._said) > 10_000:
                self._said.clear()
            self._said.add(key)
            log.log(level, message, *args)
