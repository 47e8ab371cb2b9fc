"""Text for operators: the `worker status` report, amounts and times."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

CATEGORIES = ("availability", "consistency", "accuracy", "speed")
SYMBOLS = {246: "EWT", 73799: "VT"}
WEI = 10**18


def symbol_for(chain_id: int) -> str:
    """The native coin's symbol: EWT on Energy Web Chain, VT on Volta, else ETH."""
    return SYMBOLS.get(chain_id, "ETH")


def format_amount(wei: int, symbol: str) -> str:
    """`wei` in whole units, exactly (no float rounding): 1500000000000000000 -> '1.5 EWT'."""
    whole, fraction = divmod(int(wei), WEI)
    digits = f"{fraction:018d}".rstrip("0")
    return f"{whole}.{digits} {symbol}" if digits else f"{whole} {symbol}"


def format_status(status: dict[str, Any], symbol: str | None = None) -> str:
    """`worker_status` as human-readable lines; amounts in whole coins of `symbol`."""
    symbol = symbol or symbol_for(int(status["chain_id"]))
    enrolment, counters = status["enrolment"], status["counters"]
    state = "active" if enrolment["active"] else "not enrolled"
    if enrolment["retired"]:
        state = "removed from the pool"
    lines = [
        f"Worker {status['address']} on chain {status['chain_id']}",
        f"  WorkerVoting   {status['contracts']['WorkerVoting']}",
        f"  WorkerRewards  {status['contracts']['WorkerRewards'] or '-'}",
        f"Enrolment: {state}, pool index {enrolment['index']}, "
        f"joined at round {enrolment['joinedSeq']}",
        f"Final rounds: {counters['eligible']} eligible, {counters['cast']} voted "
        f"({counters['inConsensus']} in consensus, {counters['dissenting']} dissenting), "
        f"{counters['missed']} missed",
    ]
    if counters["pending"]:
        lines.append(f"  {counters['pending']} more settled, still taking late votes: counted "
                     "once their late votes close")  # fmt: skip
    # NOTE: the contract counts a late vote when it is cast, in rounds that may not be final yet:
    # shown apart, so that it never reads as more late votes than rounds.
    lines.append(f"Late votes cast (all rounds, as counted when cast): {counters['late']}")
    lines.append(f"Balance: {format_amount(status['balance'], symbol)}")
    if status["epoch"] is not None:
        epoch = status["epoch"]
        lines.append(f"Epoch {epoch['current']} runs until {when(epoch['ends'])}")
        following = epoch["next_claim"]
        lines.append(f"Next claim opens {when(following['opens'])} (epoch {following['epoch']})")
    if status["epochs"]:
        lines.append("Ended epochs:")
        for claim in status["epochs"]:
            lines.append(f"  epoch {claim['epoch']}: {_claim_text(claim, status['time'], symbol)}")
    total = sum(c["total"] for c in status["epochs"])
    if total:
        lines.append(f"Claimable now: {format_amount(total, symbol)}")
    return "\n".join(lines)


def _claim_text(claim: dict[str, Any], now: int, symbol: str) -> str:
    points = f"points {points_text(claim['points'])}"
    if claim["claimed"]:
        return f"claimed ({points})"
    if claim["total"]:
        return f"{format_amount(claim['total'], symbol)} to claim ({points})"
    closes = when(claim["registration_ends"])
    if now <= claim["registration_ends"]:
        if claim["registered"]:
            return f"registered ({points}), claims open after {closes}"
        return f"not registered yet, registration open until {closes}"
    return f"nothing to claim ({points})" if claim["registered"] else "not registered"


def points_text(points: Iterable[int]) -> str:
    """'availability 1, consistency 0, ...' for the four point categories."""
    return ", ".join(f"{name} {value}" for name, value in zip(CATEGORIES, points))


def when(timestamp: int) -> str:
    """A unix time as 'YYYY-MM-DD HH:MM:SS UTC'."""
    moment = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


class ClaimPreview:
    """What `worker claim` would do, said before it asks: `lines`, `anything`, `question`."""

    def __init__(self, lines: list[str], anything: bool, question: str) -> None:
        self.lines, self.anything, self.question = lines, anything, question


def claim_preview(conn: Any, epochs: list[int] | None) -> ClaimPreview:
    """What is claimable now (and what is registered first), and when the next claim opens."""
    from worker.registration import Schedule
    from worker.rewards import epoch_claim, epoch_claims, next_claim

    if conn.rewards is None:
        return ClaimPreview(["This deployment has no WorkerRewards: nothing to claim."], False, "")
    symbol = symbol_for(conn.chain_id)
    now = int(conn.web3.eth.get_block("latest")["timestamp"])
    schedule = Schedule.of(conn.rewards)
    claims = [epoch_claim(conn, e, schedule) for e in epochs] if epochs else epoch_claims(conn)
    claimable = [c for c in claims if c.total > 0]
    register = [c for c in claims if not c.registered and c.ends <= now <= c.registration_ends]
    lines = [f"Epoch {c.epoch}: {format_amount(c.total, symbol)} claimable" for c in claimable]
    lines += [f"Epoch {c.epoch}: not registered yet; registering it opens its claim after "
              f"{when(c.registration_ends)}" for c in register]  # fmt: skip
    following = next_claim(schedule, now)
    lines.append(f"Next claim opens {when(following['opens'])} (epoch {following['epoch']}).")
    if not claimable and not register:
        lines.insert(0, f"Nothing to claim now for {conn.address}.")
        return ClaimPreview(lines, False, "")
    total = format_amount(sum(c.total for c in claimable), symbol)
    what = [f"claim {total}"] if claimable else []
    what += [f"register {len(register)} epoch(s)"] if register else []
    question = " and ".join(what)
    return ClaimPreview(lines, True, f"{question[0].upper()}{question[1:]} for {conn.address}?")


# -------------------------------------------------------------------------------------------------
# Plumbing
# -------------------------------------------------------------------------------------------------
