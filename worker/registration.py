"""Registering the worker's reward points after each epoch, in resumable chunks.

`WorkerRewards.register(epoch, worker, maxRounds)` counts at most `maxRounds` more of the epoch's
chain entries per call (about 6-8k gas each) and returns `done` (event `PointsRegistered`) once
all are counted; until then it emits `RegistrationProgressed`. It may be called from the moment
the epoch ended until its registration window closes, and it stops, without reverting, before
a round whose late votes are still open.

The node's `Registrar.tick(now)` runs every tick and costs no call until the next epoch ends
(its end is known from the immutable `epochTimes`): so the first tick after the end registers.
Then it sends one chunk per tick (after the previous one is mined) until done. It never sends a
chunk that could make no progress: while the entry at the registration's cursor still takes
late votes it waits until that entry's `lateUntil` has passed. An epoch in which the worker
earned nothing is not registered (`previewPoints` is zero), once no late vote can change that.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode

from worker.chain import Connection, decode_error
from worker.errors import TransactionError
from worker.status_text import points_text

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 64  # entries per `register` call: ~0.77M gas at most (~11k each), under 1M
RECHECK = 60  # seconds between looks at an epoch with no points while late votes may add some
IN_FLIGHT_MAX = 300.0  # seconds a chunk may stay unmined before the registrar stops waiting
MAX_CHUNKS = 1_000  # `register_epoch` gives up after this many chunks (50,000+ entries)


@dataclass(frozen=True)
class Schedule:
    """Epoch times of a rewards contract (all immutable), read once with `epochTimes(0)`."""

    start: int
    length: int
    window: int

    @classmethod
    def of(cls, rewards: Any) -> Schedule:
        """The schedule of a `WorkerRewards` binding."""
        begins, ends, registration_ends = (int(v) for v in rewards.epochTimes(0))
        return cls(begins, ends - begins, registration_ends - ends)

    def epoch_at(self, timestamp: int) -> int:
        """The epoch containing `timestamp` (-1 before the start)."""
        return (timestamp - self.start) // self.length if timestamp >= self.start else -1

    def times(self, epoch: int) -> tuple[int, int, int]:
        """(begins, ends, registration ends) of `epoch`."""
        begins = self.start + epoch * self.length
        return begins, begins + self.length, begins + self.length + self.window

    def open_registrations(self, now: int, limit: int = 8) -> list[int]:
        """Ended epochs whose registration window is open at `now`, oldest first."""
        # NOTE: a registration window may be longer than an epoch, so several can be open at once.
        found = []
        for epoch in range(self.epoch_at(now) - 1, -1, -1):
            if self.times(epoch)[2] < now or len(found) == limit:
                break
            found.append(epoch)
        return found[::-1]


def preview(conn: Connection, epoch: int) -> tuple[tuple[int, int, int, int] | None, str]:
    """The points the worker would register in `epoch` now and a line saying so, or None and
    why they cannot be counted now."""
    # NOTE: a raw eth_call: Ape prints a call trace for every reverted view.
    data = bytes(conn.rewards.previewPoints.encode_input(epoch, conn.address))
    try:
        raw = conn.web3.eth.call({"to": conn.rewards.address, "data": data})
    except Exception as exc:
        return None, f"epoch {epoch}: points cannot be counted now ({revert_text(exc)})"
    a, b, c, d = (int(v) for v in decode(["uint32"] * 4, bytes(raw)))
    if not any((a, b, c, d)):
        return (0, 0, 0, 0), f"epoch {epoch}: no points earned, nothing to register or claim"
    return (a, b, c, d), f"points {points_text((a, b, c, d))}"


def revert_text(exc: Exception) -> str:
    """The custom error of a reverted eth_call with its arguments, when it can be decoded."""
    if decoded := decode_error(getattr(exc, "data", None)):  # web3's ContractCustomError
        return f"{decoded[0]}{decoded[1]}"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Step:
    """What one look at an epoch's registration found or did."""

    epoch: int
    state: str  # "sent", "done", "nothing", "wait" or "refused"
    message: str
    tx_hash: str | None = None
    retry_at: int | None = None  # "wait": chain time worth looking again


def step(conn: Connection, submitter: Any, epoch: int, now: int, chunk: int = DEFAULT_CHUNK,
         max_window: int | None = None) -> Step:  # fmt: skip
    """Looks at the worker's registration in `epoch` once and sends the next chunk if due.

    Args:
        conn: The open connection.
        submitter: Sends the transaction (`worker.submit.Submitter`).
        epoch: An ended epoch whose registration window is open.
        now: Chain time.
        chunk: `maxRounds` of the `register` call.
        max_window: The voting contract's `maxWindow` (read if None): after the epoch's end plus
            this, no late vote can add points to it any more.
    """
    rewards, voting = conn.rewards, conn.voting
    registered, _claimed, points, cursor, end = rewards.registration(epoch, conn.address)
    if registered:
        return Step(epoch, "done", f"epoch {epoch}: registered, points {points_text(points)}")
    cursor, end = int(cursor), int(end)
    info = voting.workerInfo(conn.address)
    start = max(cursor, int(info.joinedIndex))
    if start < end:
        (entry,) = voting.settledRounds(start, 1)
        if int(entry.lateUntil) >= now:
            return Step(epoch, "wait", f"epoch {epoch}: entry {start} takes late votes until "
                        f"{int(entry.lateUntil)}", retry_at=int(entry.lateUntil) + 1)  # fmt: skip
    if cursor == int(rewards.epochInfo(epoch).firstIndex) or start >= end:
        found, message = preview(conn, epoch)
        if found is None:
            return Step(epoch, "refused", message)
        if not any(found):
            if max_window is None:
                max_window = int(voting.maxWindow())
            ends = Schedule.of(rewards).times(epoch)[1]
            if now > ends + max_window:
                return Step(epoch, "nothing", message)
            return Step(epoch, "wait", message, retry_at=now + RECHECK)
    try:
        tx_hash = submitter.send(f"register epoch {epoch}", rewards, "register", epoch,
                                 conn.address, chunk)  # fmt: skip
    except TransactionError as exc:
        return Step(epoch, "refused", f"epoch {epoch}: registration refused now "
                    f"({exc.error or exc.reason})")  # fmt: skip
    return Step(epoch, "sent", f"epoch {epoch}: registration sent from entry {start} of {end} "
                f"({tx_hash})", tx_hash=tx_hash)  # fmt: skip


@dataclass
class Registrar:
    """The node's registration loop; call `tick(chain_now)` on every tick (see the module).

    Args:
        conn: The open connection (with a rewards contract).
        submitter: Sends the chunks.
        chunk: `maxRounds` per `register` call.
    """

    conn: Connection
    submitter: Any
    chunk: int = DEFAULT_CHUNK
    _schedule: Schedule | None = None
    _max_window: int | None = None
    _next: int = 0  # chain time of the next look
    _in_flight: str | None = None  # a chunk not mined yet
    _sent_at: float = 0.0  # when it was sent (monotonic)
    _finished: set[int] = field(default_factory=set)  # registered, or nothing to register
    _said: set[tuple[int, str]] = field(default_factory=set)

    def tick(self, now: int) -> Step | None:
        """Sends the next registration chunk if one is due at chain time `now`.

        Returns:
            The step taken for the first epoch that needed one, or None.
        """
        if self.conn.rewards is None or now < self._next:
            return None
        if self._in_flight is not None:
            try:
                self.conn.web3.eth.get_transaction_receipt(self._in_flight)
            except Exception:  # NOTE: web3 raises TransactionNotFound while there is none
                if time.monotonic() - self._sent_at < IN_FLIGHT_MAX:
                    return None
                log.warning("registration chunk %s not mined in %g s: looking again",
                            self._in_flight, IN_FLIGHT_MAX)  # fmt: skip
            self._in_flight = None
        if self._schedule is None:
            self._schedule = Schedule.of(self.conn.rewards)
            self._max_window = int(self.conn.voting.maxWindow())
        schedule, taken = self._schedule, None
        self._next = schedule.times(max(schedule.epoch_at(now), 0))[1]  # the next epoch end
        for epoch in schedule.open_registrations(now):
            if epoch in self._finished:
                continue
            found = step(self.conn, self.submitter, epoch, now, self.chunk, self._max_window)
            self._report(found)
            if found.state in ("done", "nothing"):
                self._finished.add(epoch)
                continue
            if found.state == "wait" and found.retry_at is not None:
                self._next = min(self._next, found.retry_at)
            else:  # NOTE: sent: the next tick after its receipt; refused: a little later
                self._next = min(self._next, now if found.state == "sent" else now + RECHECK)
            if found.state == "sent":
                self._in_flight, self._sent_at = found.tx_hash, time.monotonic()
                return found
            taken = taken or found
        return taken

    def _report(self, found: Step) -> None:
        key = (found.epoch, found.state if found.state != "sent" else found.message)
        if key not in self._said:
            self._said.add(key)
            log.log(logging.DEBUG if found.state == "wait" else logging.INFO, found.message)


def register_epoch(conn: Connection, submitter: Any, epoch: int, chunk: int = DEFAULT_CHUNK,
                   now: int | None = None) -> Step:  # fmt: skip
    """Registers `epoch` now, chunk after chunk, waiting for each receipt (`worker claim`).

    Returns:
        The last step: "done", "nothing", "wait" (a round still takes late votes: the node
        goes on later) or "refused".
    """
    for _ in range(MAX_CHUNKS):
        moment = int(conn.web3.eth.get_block("latest")["timestamp"]) if now is None else now
        found = step(conn, submitter, epoch, moment, chunk)
        if found.state != "sent":
            return found
        submitter.wait(found.tx_hash)
    return Step(epoch, "refused", f"epoch {epoch}: not done after {MAX_CHUNKS} chunks")
