"""The worker's rewards: its status, registration after each epoch, and claims.

An epoch of `WorkerRewards` goes through three phases: open (rounds settle into it), registration
(after it ends, until `registrationEnds`: the worker's points are counted, once) and claims (after
the registration window: pull payments until the claim expiry). The node calls `register_due`
periodically so its points are never left uncounted; `claim_rewards` pulls what was earned.

Everything here reads the chain through the connection's contract bindings and sends through the
`Submitter`, so a revert is caught by the gas estimate and costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from eth_abi import decode

from worker.chain import Connection, decode_error
from worker.errors import TransactionError, WorkerError
from worker.status_text import points_text, when

log = logging.getLogger(__name__)

ENROLMENT_FIELDS = ("active", "retired", "index", "joinedSeq")
STATS_FIELDS = ("eligible", "cast", "inConsensus", "dissenting", "late", "missed", "syncedIndex")
STATS_MAX_ROUNDS = 500  # chain entries the `workerStats` view adds up beyond the synced ones


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


@dataclass(frozen=True)
class _Schedule:
    """Epoch times of a rewards contract (all immutable), read once with `epochTimes(0)`."""

    start: int
    length: int
    window: int

    @classmethod
    def of(cls, rewards: Any) -> _Schedule:
        begins, ends, registration_ends = (int(v) for v in rewards.epochTimes(0))
        return cls(begins, ends - begins, registration_ends - ends)

    def epoch_at(self, timestamp: int) -> int:
        """The epoch containing `timestamp` (-1 before the start)."""
        return (timestamp - self.start) // self.length if timestamp >= self.start else -1

    def times(self, epoch: int) -> tuple[int, int, int]:
        begins = self.start + epoch * self.length
        return begins, begins + self.length, begins + self.length + self.window


def epoch_claim(conn: Connection, epoch: int, schedule: _Schedule | None = None) -> EpochClaim:
    """The worker's registration and claimable amounts in `epoch` (ended or not)."""
    schedule = schedule or _Schedule.of(conn.rewards)
    registered, claimed, points = conn.rewards.registration(epoch, conn.address)
    shares = conn.rewards.claimable(epoch, conn.address)
    return EpochClaim(
        epoch, *schedule.times(epoch), bool(registered), bool(claimed),
        _four(points), _four(shares),
    )  # fmt: skip


def epoch_claims(conn: Connection, lookback: int = 8) -> list[EpochClaim]:
    """The last `lookback` ended epochs with the worker's registration and claims, newest first.

    Reads two views per epoch; older epochs are not looked at (their claims may have expired).
    """
    schedule = _Schedule.of(conn.rewards)
    current = int(conn.rewards.currentEpoch())
    first = max(current - max(lookback, 0), 0)
    return [epoch_claim(conn, e, schedule) for e in range(current - 1, first - 1, -1)]


def worker_status(conn: Connection, lookback: int = 8) -> dict[str, Any]:
    """The worker's enrolment, round counters, balance and recent epochs, JSON-ready.

    Counters come from the `workerStats` view, which adds up at most `STATS_MAX_ROUNDS` chain
    entries beyond the worker's synced ones: `counters.syncedIndex` below `chain_length` means
    the counters stop there.
    """
    voting, rewards, address = conn.voting, conn.rewards, conn.address
    info = voting.workerInfo(address)
    stats = voting.workerStats(address, STATS_MAX_ROUNDS)
    _head, length = voting.chainHead()
    status: dict[str, Any] = {
        "address": address,
        "chain_id": conn.chain_id,
        "contracts": {
            "WorkerVoting": voting.address,
            "WorkerRewards": getattr(rewards, "address", None),
        },
        "enrolment": {name: _plain(getattr(info, name)) for name in ENROLMENT_FIELDS},
        "counters": {name: _plain(getattr(stats, name)) for name in STATS_FIELDS},
        "chain_length": int(length),
        "time": _now(conn),
        "balance": int(conn.web3.eth.get_balance(address)),
        "epoch": None,
        "epochs": [],
    }
    if rewards is not None:
        current = int(rewards.currentEpoch())
        status["epoch"] = {"current": current, "ends": _Schedule.of(rewards).times(current)[1]}
        status["epochs"] = [c.to_dict() for c in epoch_claims(conn, lookback)]
    return status  # fmt: skip


# -------------------------------------------------------------------------------------------------
# Registration
# -------------------------------------------------------------------------------------------------


def register_due(conn: Connection, submitter: Any, now: int | None = None) -> str | None:
    """Registers the worker's points for an ended epoch whose registration window is open.

    Looks at the epochs whose window is open at `now` (default: the latest block's time), oldest
    first, and sends `register` for the first one the worker has not registered yet and earned
    points in. Call it periodically: each call sends at most one transaction.

    Returns:
        The transaction hash, or None when nothing is due or the contract refuses it now (for
        example `RewardsRoundNotSettled` while a round still takes late votes; logged at INFO).
    """
    if conn.rewards is None:
        return None
    schedule = _Schedule.of(conn.rewards)
    now = _now(conn) if now is None else now
    for epoch in _open_registrations(schedule, now):
        registered, _claimed, _points = conn.rewards.registration(epoch, conn.address)
        if not registered:
            tx_hash, message, level = _register(conn, submitter, epoch)
            log.log(level, message)
            if tx_hash is not None:
                return tx_hash
    return None


def _open_registrations(schedule: _Schedule, now: int, limit: int = 8) -> list[int]:
    """Ended epochs whose registration window is open at `now`, oldest first (at most `limit`)."""
    # NOTE: a registration window may be longer than an epoch, so several can be open at once.
    open_ = []
    for epoch in range(schedule.epoch_at(now) - 1, -1, -1):
        if schedule.times(epoch)[2] < now or len(open_) == limit:
            break
        open_.append(epoch)
    return open_[::-1]


def _register(conn: Connection, submitter: Any, epoch: int) -> tuple[str | None, str, int]:
    """Sends `register(epoch, worker)` if the worker earned points and the estimate passes.

    Returns:
        (tx hash or None, what happened, its log level). "No points" is DEBUG: the node asks
        every tick while the window is open.
    """
    points, message = _preview(conn, epoch)
    if points is None or not any(points):
        return None, message, logging.INFO if points is None else logging.DEBUG
    try:
        tx_hash = submitter.send(f"register epoch {epoch}", conn.rewards, "register", epoch,
                                 conn.address)  # fmt: skip
    except TransactionError as exc:
        refused = f"epoch {epoch}: registration refused now ({exc.error or exc.reason})"
        return None, refused, logging.INFO
    return tx_hash, f"epoch {epoch}: registration sent ({tx_hash}), {message}", logging.INFO


def _preview(conn: Connection, epoch: int) -> tuple[tuple[int, int, int, int] | None, str]:
    """The points the worker would register in `epoch` now and a line saying so, or None and
    why they cannot be counted now (e.g. `RewardsRoundNotSettled`)."""
    # NOTE: a raw eth_call: Ape prints a call trace for every reverted view, and the node asks
    # every tick while rounds of the epoch still take late votes.
    data = bytes(conn.rewards.previewPoints.encode_input(epoch, conn.address))
    try:
        raw = conn.web3.eth.call({"to": conn.rewards.address, "data": data})
    except Exception as exc:
        return None, f"epoch {epoch}: points cannot be counted now ({_revert_text(exc)})"
    points = _four(decode(["uint32"] * 4, bytes(raw)))
    if not any(points):
        return points, f"epoch {epoch}: no points earned, nothing to register or claim"
    return points, f"points {points_text(points)}"


# -------------------------------------------------------------------------------------------------
# Claims
# -------------------------------------------------------------------------------------------------


def claim_rewards(
    conn: Connection,
    submitter: Any,
    epochs: list[int] | None = None,
    wait: bool = True,
    notify: Callable[[str], None] | None = None,
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
    sent = _register_first(conn, submitter, to_register, notify)
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
        for tx_hash in [*sent, *(c.tx_hash for c in claims_sent)]:
            submitter.wait(tx_hash)
    return claims_sent


def _register_first(
    conn: Connection, submitter: Any, claims: list[EpochClaim], notify: Callable[[str], None] | None
) -> list[str]:
    """Registers epochs whose window is open; reports each, returns the transaction hashes."""
    sent = []
    for claim in claims:
        tx_hash, message, _level = _register(conn, submitter, claim.epoch)
        if tx_hash is not None:
            sent.append(tx_hash)
            closes = when(claim.registration_ends)
            message = f"epoch {claim.epoch}: registered; claim its rewards after {closes}"
        log.info(message)
        if notify is not None:
            notify(message)
    return sent


def _check_requested(
    conn: Connection, epochs: Iterable[int], now: int
) -> tuple[list[EpochClaim], list[EpochClaim]]:
    """Sorts requested epochs into claims and registrations; raises for the first one neither."""
    schedule = _Schedule.of(conn.rewards)
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
            points, _why = _preview(conn, epoch)
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


def _revert_text(exc: Exception) -> str:
    """The custom error of a reverted eth_call with its arguments, when it can be decoded."""
    if decoded := decode_error(getattr(exc, "data", None)):  # web3's ContractCustomError
        return f"{decoded[0]}{decoded[1]}"
    return f"{type(exc).__name__}: {exc}"


def _address(contract: Any) -> str | None:
    return None if contract is None else contract.address


def _plain(value: Any) -> bool | int:
    return value if isinstance(value, bool) else int(value)


def _four(values: Any) -> tuple[int, int, int, int]:
    a, b, c, d = (int(v) for v in values)
    return a, b, c, d
