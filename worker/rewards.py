"""The worker's rewards: its status, registration after each epoch, and claims.

An epoch of `WorkerRewards` goes through three phases: open (rounds settle into it), registration
(after it ends, until `registrationEnds`: the worker's points are counted, in chunks; see
`worker.registration`, which the node runs every tick) and claims (after the registration window:
pull payments until the claim expiry). `claim_rewards` pulls what was earned; `worker_status`
reports it with the round counters of `worker.counters`.

Everything here reads the chain through the connection's contract bindings and sends through the
`Submitter`, so a revert is caught by the gas estimate and costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from worker.chain import Connection
from worker.counters import worker_counters
from worker.errors import TransactionError, WorkerError
from worker.registration import DEFAULT_CHUNK, Schedule, preview, register_epoch
from worker.status_text import points_text, when

log = logging.getLogger(__name__)

ENROLMENT_FIELDS = ("active", "retired", "index", "joinedSeq", "leftSeq", "joinedIndex")


# -------------------------------------------------------------------------------------------------
# Errors
# -------------------------------------------------------------------------------------------------


class RewardsError(WorkerError):
    """Base of the errors of `worker.rewards`."""


class NothingToClaimError(RewardsError):
    """An explicitly requested epoch has nothing to claim now; `reason` says why."""

    def __init__(self, epoch: int, reason: str) -> None:
        self.epoch = epoch
        self.reason = reason
        super().__init__(f"nothing to claim for epoch {epoch}: {reason}")


# -------------------------------------------------------------------------------------------------
# Reading: epochs, registrations, status
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochClaim:
    """One epoch as the worker sees it. Amounts in wei, times in epoch seconds.

    `points` and `claimable` are per category: availability, consistency, accuracy, speed.
    `claimable` is zero until the registration window closes, and after the claim.
    """

    epoch: int
    begins: int
    ends: int
    registration_ends: int
    registered: bool
    claimed: bool
    points: tuple[int, int, int, int]
    claimable: tuple[int, int, int, int]

    @property
    def total(self) -> int:
        """What can be claimed now, in wei."""
        return sum(self.claimable)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, `total` included."""
        data = asdict(self)
        data["points"], data["claimable"] = list(self.points), list(self.claimable)
        data["total"] = self.total
        return data


class Claim(NamedTuple):
    """A claim sent: the epoch, the amount in wei and the transaction hash."""

    epoch: int
    amount: int
    tx_hash: str


def epoch_claim(conn: Connection, epoch: int, schedule: Schedule | None = None) -> EpochClaim:
    """The worker's registration and claimable amounts in `epoch` (ended or not)."""
    schedule = schedule or Schedule.of(conn.rewards)
    registered, claimed, points, _cursor, _end = conn.rewards.registration(epoch, conn.address)
    shares = conn.rewards.claimable(epoch, conn.address)
    return EpochClaim(
        epoch, *schedule.times(epoch), bool(registered), bool(claimed),
        _four(points), _four(shares),
    )  # fmt: skip


def epoch_claims(conn: Connection, lookback: int = 8, schedule: Schedule | None = None,
                 current: int | None = None) -> list[EpochClaim]:  # fmt: skip
    """The last `lookback` ended epochs with the worker's registration and claims, newest first.

    Reads two views per epoch (and the schedule and current epoch unless given); older epochs
    are not looked at (their claims may have expired).
    """
    schedule = schedule or Schedule.of(conn.rewards)
    current = int(conn.rewards.currentEpoch()) if current is None else current
    first = max(current - max(lookback, 0), 0)
    return [epoch_claim(conn, e, schedule) for e in range(current - 1, first - 1, -1)]


def worker_status(conn: Connection, lookback: int = 8) -> dict[str, Any]:
    """The worker's enrolment, round counters, balance and recent epochs, JSON-ready.

    Counters are computed from the chain of settled rounds (`worker.counters`); rounds still
    taking late votes are `counters.pending`. Calls: 4 (`workerInfo`, `chainHead`, the latest
    block, the balance) + one `settledRounds` per 500 chain entries since the worker joined, and
    with rewards 2 (`currentEpoch`, `epochTimes`) + 2 per epoch looked back (`lookback`).
    """
    voting, rewards, address = conn.voting, conn.rewards, conn.address
    info = voting.workerInfo(address)
    _head, length = voting.chainHead()
    now = _now(conn)
    counters = worker_counters(voting, address, now, info=info, length=int(length))
    status: dict[str, Any] = {
        "address": address,
        "chain_id": conn.chain_id,
        "contracts": {
            "WorkerVoting": voting.address,
            "WorkerRewards": getattr(rewards, "address", None),
        },
        "enrolment": {name: _plain(getattr(info, name)) for name in ENROLMENT_FIELDS},
        "counters": counters.to_dict(),
        "chain_length": int(length),
        "time": now,
        "balance": int(conn.web3.eth.get_balance(address)),
        "epoch": None,
        "epochs": [],
    }
    if rewards is not None:
        current = int(rewards.currentEpoch())
        schedule = Schedule.of(rewards)
        status["epoch"] = {"current": current, "ends": schedule.times(current)[1],
                           "next_claim": next_claim(schedule, now)}  # fmt: skip
        claims = epoch_claims(conn, lookback, schedule, current)
        status["epochs"] = [c.to_dict() for c in claims]
    return status  # fmt: skip


# -------------------------------------------------------------------------------------------------
# Claims
# -------------------------------------------------------------------------------------------------


def next_claim(schedule: Schedule, now: int) -> dict[str, int]:
    """When the next claim opens after `now`: the oldest epoch whose registration window has not
    closed (one that ended, or the current one), and that moment (`opens`, chain time)."""
    open_ = schedule.open_registrations(now)
    epoch = open_[0] if open_ else max(schedule.epoch_at(now), 0)
    return {"epoch": epoch, "opens": schedule.times(epoch)[2] + 1}


def claim_rewards(
    conn: Connection,
    submitter: Any,
    epochs: list[int] | None = None,
    wait: bool = True,
    notify: Callable[[str], None] | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> list[Claim]:
    """Claims the worker's rewards.

    An ended epoch whose registration window is still open and that the worker has not registered
    is registered first; its claim opens when the window closes, which is reported (to `notify`
    and the log at INFO), not raised.

    Args:
        conn: The open connection.
        submitter: Sends the transactions (`worker.submit.Submitter`).
        epochs: The epochs to claim; None: every recent ended epoch with something to claim
            (`epoch_claims`), skipping the others.
        wait: Wait for the receipts of the transactions sent.
        notify: Receives a line for each registration sent or skipped (e.g. `click.echo`).
        chunk: Entries per `register` call.

    Returns:
        One `Claim` (epoch, amount in wei, tx hash) per claim sent. The amount is the
        `claimable` view's, which the contract pays exactly once the registration window closed.

    Raises:
        NothingToClaimError: a requested epoch has nothing to claim. The views are checked for
            every requested epoch before anything is sent; only a claim whose estimate reverts
            in the meantime raises after the claims before it were sent (and logged).
        TransactionError: with `wait`, a transaction reverted or was not mined in time.
    """
    now = _now(conn)
    if epochs is None:
        claims = epoch_claims(conn)
        to_claim = [c for c in claims if c.total > 0]
        to_register = [c for c in claims if _registration_open(c, now)]
    else:
        to_claim, to_register = _check_requested(conn, epochs, now)
    _register_first(conn, submitter, to_register, notify, chunk)
    claims_sent = []
    for claim in to_claim:
        try:
            tx_hash = submitter.send(f"claim epoch {claim.epoch}", conn.rewards, "claim",
                                     claim.epoch, conn.address)  # fmt: skip
        except TransactionError as exc:
            if epochs is not None:
                raise NothingToClaimError(claim.epoch, f"the claim reverts ({exc.reason})") from exc
            log.warning("claim of epoch %d not sent: %s", claim.epoch, exc)
            continue
        log.info("claim of epoch %d sent (%s): %d wei", claim.epoch, tx_hash, claim.total)
        claims_sent.append(Claim(claim.epoch, claim.total, tx_hash))
    if wait:
        for claimed in claims_sent:
            submitter.wait(claimed.tx_hash)
    return claims_sent


def _register_first(conn: Connection, submitter: Any, claims: list[EpochClaim],
                    notify: Callable[[str], None] | None, chunk: int) -> None:  # fmt: skip
    """Registers epochs whose window is open (every chunk, waiting for each); reports each."""
    for claim in claims:
        found = register_epoch(conn, submitter, claim.epoch, chunk)
        message = found.message
        if found.state == "done":
            closes = when(claim.registration_ends)
            message = f"epoch {claim.epoch}: registered; claim its rewards after {closes}"
        elif found.state == "wait":
            message = (f"epoch {claim.epoch}: registration waits for late votes until "
                       f"{when(found.retry_at)}; the node goes on then")  # fmt: skip
        log.info(message)
        if notify is not None:
            notify(message)


def _check_requested(
    conn: Connection, epochs: Iterable[int], now: int
) -> tuple[list[EpochClaim], list[EpochClaim]]:
    """Sorts requested epochs into claims and registrations; raises for the first one neither."""
    schedule = Schedule.of(conn.rewards)
    current = schedule.epoch_at(now)
    to_claim, to_register = [], []
    for epoch in epochs:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise NothingToClaimError(epoch, "not an epoch number")
        if epoch >= current:
            ends = schedule.times(epoch)[1]
            raise NothingToClaimError(epoch, f"it has not ended yet (it ends {when(ends)})")
        claim = epoch_claim(conn, epoch, schedule)
        closes = when(claim.registration_ends)
        if claim.claimed:
            raise NothingToClaimError(epoch, "already claimed")
        if _registration_open(claim, now):
            points, _why = preview(conn, epoch)
            if points is not None and not any(points):
                raise NothingToClaimError(epoch, "no points earned in it")
            to_register.append(claim)
        elif not claim.registered:
            raise NothingToClaimError(epoch, f"not registered, and its registration window "
                                             f"closed {closes}")  # fmt: skip
        elif now <= claim.registration_ends:
            raise NothingToClaimError(epoch, f"its registration is still open until {closes}; "
                                             "claims open after that")  # fmt: skip
        elif claim.total == 0 and conn.rewards.epochInfo(epoch).swept:
            raise NothingToClaimError(epoch, "its claim period expired and the unclaimed funds "
                                             "were rolled over")  # fmt: skip
        elif claim.total == 0:
            raise NothingToClaimError(epoch, f"no rewards (points {points_text(claim.points)})")
        else:
            to_claim.append(claim)
    return to_claim, to_register


def _registration_open(claim: EpochClaim, now: int) -> bool:
    return not claim.registered and claim.ends <= now <= claim.registration_ends


def _now(conn: Connection) -> int:
    """The latest block's timestamp: the chain's notion of now."""
    return int(conn.web3.eth.get_block("latest")["timestamp"])


def _address(contract: Any) -> str | None:
    return None if contract is None else contract.address


def _plain(value: Any) -> bool | int:
    return value if isinstance(value, bool) else int(value)


def _four(values: Any) -> tuple[int, int, int, int]:
    a, b, c, d = (int(v) for v in values)
    return a, b, c, d
