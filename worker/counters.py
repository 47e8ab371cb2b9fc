"""A worker's round counters, computed from the voting contract's chain of settled rounds.

The contract keeps no per-worker counters: it keeps every settled round (a chain entry) and each
worker's membership (`workerInfo`). The counters follow from those, by the same rules the
rewards contract applies when it registers points:

- entries below `joinedIndex` settled before the worker joined and never concern it;
- the worker was eligible for an entry iff `joinedSeq <= seq` and (it is active or
  `seq < leftSeq`): rounds opened while it was a member;
- cast: it voted (sealed mode: revealed) in the entry's final attempt, late votes included;
  in consensus: its vote is the recorded result; dissenting: any other vote, or a vote in a
  round that failed; missed: eligible without a vote;
- a Consensus round whose late votes are still open (`lateUntil >= now`) is not final: it is
  reported as `pending` and in no other counter, so that no number contradicts a later one;
- late: votes cast after their round had reached consensus, as the contract counts them when
  cast (`workerInfo.late`; a late vote in a pending round is in it already).

`settledRounds(from, count)` is read in pages of `PAGE` entries: ceil(entries / PAGE) calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

PAGE = 500  # entries per `settledRounds` call: ~8k gas of view work each, far below node caps
CONSENSUS, FAILED = 4, 7  # `IWorkerVotingTypes.Status` values


@dataclass(frozen=True)
class Counters:
    """A worker's counters over the final chain entries below `counted_to`."""

    eligible: int = 0
    cast: int = 0
    inConsensus: int = 0  # the old `WorkerStats` field name, kept for scripts
    dissenting: int = 0
    late: int = 0
    missed: int = 0
    pending: int = 0
    counted_to: int = 0

    def to_dict(self) -> dict[str, int]:
        """JSON-ready fields."""
        return asdict(self)


def count(entries: Iterable[Any], info: Any, now: int, first: int = 0) -> Counters:
    """Adds up the counters of `entries` (`SettledRound`s from chain index `first` on).

    Args:
        entries: Settled rounds in chain order (fields `kind`, `seq`, `lateUntil`, `voted`,
            `agreed`).
        info: The worker's `WorkerInfo`.
        now: Chain time (the latest block's timestamp).
        first: Chain index of the first entry.
    """
    bit = 1 << int(info.index)
    joined, left, active = int(info.joinedSeq), int(info.leftSeq), bool(info.active)
    totals = dict.fromkeys(("eligible", "inConsensus", "dissenting", "missed", "pending"), 0)
    entries = list(entries)
    for entry in entries:
        seq = int(entry.seq)
        if seq < joined or (not active and seq >= left):
            continue
        if int(entry.kind) == CONSENSUS and int(entry.lateUntil) >= now:
            totals["pending"] += 1
            continue
        totals["eligible"] += 1
        if not int(entry.voted) & bit:
            totals["missed"] += 1
        elif int(entry.kind) != FAILED and int(entry.agreed) & bit:
            totals["inConsensus"] += 1
        else:
            totals["dissenting"] += 1
    cast = totals["inConsensus"] + totals["dissenting"]
    return Counters(cast=cast, late=int(info.late), counted_to=first + len(entries), **totals)


def worker_counters(voting: Any, address: str, now: int, info: Any = None,
                    length: int | None = None, page: int = PAGE) -> Counters:  # fmt: skip
    """The counters of `address` at chain time `now`, read from `voting` (a binding of
    `WorkerVoting`): `workerInfo` (unless given), `chainHead` (unless `length` is given) and
    the `settledRounds` pages from the worker's `joinedIndex` on."""
    info = voting.workerInfo(address) if info is None else info
    length = int(voting.chainHead()[1]) if length is None else length
    first = min(int(info.joinedIndex), length)
    if not (info.active or info.retired):
        return Counters(counted_to=length)  # NOTE: never a member: nothing concerns it
    entries: list[Any] = []
    for start in range(first, length, page):
        entries += voting.settledRounds(start, min(page, length - start))
    return count(entries, info, now, first)
