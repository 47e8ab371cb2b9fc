"""Plain Python model of the reward rules, for comparing with WorkerRewards.

- `attempt`: what one attempt of an open-mode round records, from its votes in sending order.
- `points` / `Walk`: a worker's points over an epoch's chain entries, in one go or as resumable
  chunks that stop before a round still taking late votes.
- `payouts`, `rolled_over`: an epoch's shares from its registered points (cumulative offsets).
- `Ledger`: every epoch's pot, weights history, settlement, claims and sweeps.
"""

from dataclasses import dataclass, field

BPS = 10_000
CATEGORIES = 4


@dataclass
class SettledRound:
    """One chain entry: sets of pool indices, the round's sequence number and, for a Consensus
    round, the block time its late votes end (`lateUntil`; 0 for other kinds)."""

    seq: int
    voted: set[int] = field(default_factory=set)
    early: set[int] = field(default_factory=set)
    agreed: set[int] = field(default_factory=set)
    late_until: int = 0


@dataclass(frozen=True)
class Tenure:
    """A worker's pool index, membership [joined_seq, left_seq) and the chain length when it
    joined (`joined_index`: no earlier entry concerns it)."""

    index: int
    joined_seq: int = 0
    left_seq: int | None = None
    joined_index: int = 0


def attempt(votes: list, threshold: int, speed_rank: int) -> tuple[set, set, set, int | None]:
    """(voted, early, agreed, deciding) of an open-mode attempt whose votes (worker, result) are
    sent in this order. `deciding` is the position of the vote that reached the threshold (None:
    no consensus); votes after it are late: never early, never counted, agreed if for the result."""
    counts: dict[bytes, int] = {}
    voted: set[int] = set()
    early: set[int] = set()
    winner, deciding = None, None
    for position, (worker, result) in enumerate(votes):
        if winner is None:
            if len(voted) < speed_rank:
                early.add(worker)
            counts[result] = counts.get(result, 0) + 1
            if counts[result] >= threshold:
                winner, deciding = result, position
        voted.add(worker)
    agreed = {w for w, result in votes if result == winner} if winner is not None else set()
    return voted, early, agreed, deciding


def _eligible(r: SettledRound, tenure: Tenure) -> bool:
    return r.seq >= tenure.joined_seq and (tenure.left_seq is None or r.seq < tenure.left_seq)


@dataclass
class Walk:
    """A registration in progress: the counters of `WorkerRewards.register`'s walk."""

    tenure: Tenure
    cursor: int | None = None  # None: not started
    eligible: int = 0
    took_part: int = 0
    accuracy: int = 0
    speed: int = 0
    done: bool = False

    def step(self, chain: list[SettledRound], first: int, end: int, max_rounds: int, now: int):
        """One `register(epoch, worker, max_rounds)` at block time `now` over the epoch's entries
        chain[first:end]; returns whether the registration is complete."""
        cursor = self.cursor if self.cursor is not None else max(first, self.tenure.joined_index)
        cursor = min(cursor, end)
        for index in range(cursor, min(end, cursor + max_rounds)):
            r = chain[index]
            if r.late_until >= now:
                break  # late votes still open: stop before it
            cursor = index + 1
            if not _eligible(r, self.tenure):
                continue
            self.eligible += 1
            if self.tenure.index not in r.voted:
                continue
            self.took_part += 1
            if self.tenure.index in r.agreed:
                self.accuracy += 1
                self.speed += self.tenure.index in r.early
        self.cursor = cursor
        self.done = cursor == end
        return self.done

    @property
    def partial(self) -> list[int]:
        """The points as `registration()` shows them before the walk is complete."""
        return [0, 0, self.accuracy, self.speed]

    @property
    def points(self) -> list[int]:
        """[availability, consistency, accuracy, speed] once the walk is complete."""
        availability = int(self.took_part > 0)
        consistency = int(self.took_part > 0 and self.took_part == self.eligible)
        return [availability, consistency, self.accuracy, self.speed]


def points(rounds: list[SettledRound], tenure: Tenure) -> list[int]:
    """[availability, consistency, accuracy, speed] of one worker over an epoch's rounds (all
    final), ignoring `joined_index` (the rounds given are the ones that concern it)."""
    walk = Walk(Tenure(tenure.index, tenure.joined_seq, tenure.left_seq))
    walk.step(rounds, 0, len(rounds), len(rounds) + 1, now=2**64)
    return walk.points


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


@dataclass
class EpochBook:
    pot: int = 0
    registered: list = field(default_factory=list)  # (worker, points) in completion order
    weights: list[int] | None = None  # fixed at settlement
    shares: dict = field(default_factory=dict)  # worker -> shares, fixed at settlement
    rolled: int = 0
    paid: int = 0
    swept: int = 0
    claimed: set = field(default_factory=set)
    is_swept: bool = False


class Ledger:
    """Every epoch's funds as WorkerRewards keeps them: funding as received, weights that apply
    from the epoch after a change, settlement on first use (unearned categories roll over to the
    current epoch), claims, and sweeps of what is unclaimed."""

    def __init__(self, weights: list[int]) -> None:
        self.changes: list[tuple[int, list[int]]] = [(0, list(weights))]
        self.epochs: dict[int, EpochBook] = {}

    def book(self, epoch: int) -> EpochBook:
        return self.epochs.setdefault(epoch, EpochBook())

    def weights_of(self, epoch: int) -> list[int]:
        return [w for start, w in self.changes if start <= epoch][-1]

    def set_weights(self, weights: list[int], current: int) -> int:
        start = current + 1
        if self.changes[-1][0] == start:
            self.changes[-1] = (start, list(weights))
        else:
            self.changes.append((start, list(weights)))
        return start

    def fund(self, epoch: int, received: int) -> None:
        self.book(epoch).pot += received

    def complete(self, epoch: int, worker, pts: list[int]) -> None:
        self.book(epoch).registered.append((worker, list(pts)))

    def settle(self, epoch: int, current: int) -> int | None:
        """Settles `epoch` if not yet; returns what rolled over (None: it was settled before)."""
        ep = self.book(epoch)
        if ep.weights is not None:
            return None
        ep.weights = self.weights_of(epoch)
        registered = [p for _, p in ep.registered]
        ep.shares = dict(
            zip((w for w, _ in ep.registered), payouts(ep.pot, ep.weights, registered), strict=True)
        )
        ep.rolled = rolled_over(ep.pot, ep.weights, registered)
        self.book(current).pot += ep.rolled
        return ep.rolled

    def claimable(self, epoch: int, worker) -> list[int]:
        ep = self.book(epoch)
        if ep.is_swept or worker in ep.claimed:
            return [0] * CATEGORIES
        if ep.weights is not None:
            return list(ep.shares.get(worker, [0] * CATEGORIES))
        weights = self.weights_of(epoch)
        registered = [p for _, p in ep.registered]
        shares = dict(zip((w for w, _ in ep.registered), payouts(ep.pot, weights, registered)))
        return list(shares.get(worker, [0] * CATEGORIES))

    def claim(self, epoch: int, worker, current: int) -> int:
        self.settle(epoch, current)
        ep = self.book(epoch)
        amount = sum(ep.shares[worker])
        ep.claimed.add(worker)
        ep.paid += amount
        return amount

    def sweep(self, epoch: int, current: int) -> int:
        self.settle(epoch, current)
        ep = self.book(epoch)
        amount = ep.pot - ep.paid - ep.rolled
        ep.swept, ep.is_swept = amount, True
        self.book(current).pot += amount
        return amount

    def open_funds(self) -> int:
        """What the contract must still hold: every pot not yet paid, rolled over or swept."""
        return sum(ep.pot - ep.paid - ep.rolled - ep.swept for ep in self.epochs.values())
