"""Plain Python model of the reward rules, for comparing with WorkerRewards."""

from dataclasses import dataclass, field

BPS = 10_000


@dataclass
class SettledRound:
    """One chain entry: sets of pool indices, and the round's sequence number."""

    seq: int
    voted: set[int] = field(default_factory=set)
    early: set[int] = field(default_factory=set)
    agreed: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Tenure:
    """A worker's pool index and membership [joined_seq, left_seq)."""

    index: int
    joined_seq: int = 0
    left_seq: int | None = None


def points(rounds: list[SettledRound], tenure: Tenure) -> list[int]:
    """[availability, consistency, accuracy, speed] of one worker over an epoch's rounds."""
    eligible = took_part = accuracy = speed = 0
    for r in rounds:
        if r.seq < tenure.joined_seq or (tenure.left_seq is not None and r.seq >= tenure.left_seq):
            continue
        eligible += 1
        if tenure.index not in r.voted:
            continue
        took_part += 1
        if tenure.index in r.agreed:
            accuracy += 1
            speed += tenure.index in r.early
    availability = int(took_part > 0)
    consistency = int(took_part > 0 and took_part == eligible)
    return [availability, consistency, accuracy, speed]


def category_pots(pot: int, weights: list[int]) -> list[int]:
    """The pot split by weight; the rounding remainder goes to the last category."""
    pots = [pot * w // BPS for w in weights[:3]]
    return [*pots, pot - sum(pots)]


def payouts(pot: int, weights: list[int], registered: list[list[int]]) -> list[list[int]]:
    """Shares per worker and category, workers in registration order (cumulative offsets)."""
    pots = category_pots(pot, weights)
    totals = [sum(p[c] for p in registered) for c in range(4)]
    offsets = [0, 0, 0, 0]
    result = []
    for p in registered:
        shares = []
        for c in range(4):
            if totals[c] == 0:
                shares.append(0)
                continue
            hi = pots[c] * (offsets[c] + p[c]) // totals[c]
            shares.append(hi - pots[c] * offsets[c] // totals[c])
            offsets[c] += p[c]
        result.append(shares)
    return result


def rolled_over(pot: int, weights: list[int], registered: list[list[int]]) -> int:
    """What settlement moves on: the pots of categories nobody earned."""
    pots = category_pots(pot, weights)
    return sum(pots[c] for c in range(4) if sum(p[c] for p in registered) == 0)
