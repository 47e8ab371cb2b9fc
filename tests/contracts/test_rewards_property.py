"""Property test: long random epochs against the rewards model, with a fee-taking token.

Each example deploys a voting pool and a rewards contract paying in a MockFeeToken (fee drawn,
0 included), then plays:
- epoch 0: hundreds of rounds (consensus with late votes, rounds left open or opened by one worker
  alone that never count, a few that fail after a re-run), fundings of epochs 0 and 1, weights
  changes and maybe a worker removal at random points;
- the boundary: rounds reaching consensus in the last seconds of epoch 0 or the first of epoch 1,
  late votes arriving after the boundary;
- registration from the first block after the epoch, in chunks of random size, interleaved;
  a call that stops before a round still taking late votes is followed by one after it;
- claims of a random subset, epoch 1 (a few rounds, its own weights), its registration and
  claims, then sweeps of both epochs after the claim expiry.
Expected points, shares, roll-overs and sweeps come from the votes as sent and the block times,
via `rewards_model` (nothing expected is read back from the contract). Conservation: per epoch
paid + rolled over + swept == pot, and the contract holds exactly the pots still open.

NOTE: `chain.isolate()` swallows any exception raised inside it (Ape 0.8), so a failing check
would pass silently; `isolated()` below snapshots and restores explicitly instead.
"""

from contextlib import contextmanager, suppress
from dataclasses import dataclass

from eth_utils import keccak
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tests.conftest import descriptor_id, event_descriptor
from tests.contracts import rewards_model as model
from tests.contracts.test_rewards_cadence import RawVotes

DAY, HOUR = 86_400, 3_600
VOTE = HOUR  # create_voting's default vote window
REG_WINDOW, EXPIRY = 3 * HOUR, 30 * DAY
A, B = keccak(text="root A"), keccak(text="root B")
KINDS = ["vote"] * 20 + ["alone"] * 2 + ["fail"]  # "vote": a palette of votes, consensus or not
PALETTES = [(A, A, B, None), (A, A, A, None), (A, B, None)]
MAX_FAILS = 2  # a failed round takes two vote windows of chain time
FEES = (0, 1, 150, 999)


def event(text: str) -> None:
    """Hypothesis statistics; a no-op when a scenario runs outside Hypothesis (`run`)."""
    with suppress(InvalidArgument):
        hypothesis_event(text)


@dataclass(frozen=True, repr=False)
class RoundPlan:
    kind: str
    order: tuple[int, ...]  # workers in sending order
    choices: tuple  # per worker: A, B or None (stays away)

    def __repr__(self) -> str:  # compact: hundreds of them in a reported example
        marks = "".join({A: "A", B: "B", None: "-"}[c] for c in self.choices)
        return f"{self.kind}:{''.join(map(str, self.order))}:{marks}"


@dataclass(frozen=True)
class Scenario:
    size: int
    threshold: int
    speed_rank: int
    fee_bps: int
    weights: list[list[int]]  # initial, then the changes
    bulk: list[RoundPlan]  # epoch 0
    # bulk index -> [("fund", epoch, amount), ("weights", change), ("remove", worker)]
    events: dict[int, list]
    boundary: list[tuple[int, RoundPlan]]  # (offset of the deciding vote from epoch 0's end, plan)
    first_chunk: int
    chunks: dict[int, int]  # worker -> chunk size
    registered: list[int]  # workers that register, in order
    claimers: list[list[int]]  # per epoch, in claim order
    settle_early: bool  # settle epoch 0 explicitly when nobody claims
    epoch1: list[RoundPlan]
    late_weights: int | None  # a weights change during epoch 1 (applies from 2)


def weights_strategy():
    return st.lists(st.integers(0, model.BPS), min_size=3, max_size=3).map(
        lambda cuts: [b - a for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), model.BPS])]
    )


def random_plan(rnd, size: int, kinds=KINDS) -> RoundPlan:
    palette = rnd.choice(PALETTES)
    return RoundPlan(
        rnd.choice(kinds),
        tuple(rnd.sample(range(size), size)),
        tuple(rnd.choice(palette) for _ in range(size)),
    )


@st.composite
def claim_orders(draw, registered: list[int]) -> list[int]:
    order = draw(st.permutations(registered))
    return order[: draw(st.integers(0, len(order)))]


@st.composite
def scenarios(draw) -> Scenario:
    size = draw(st.integers(3, 4))
    threshold = draw(st.integers(2, size - 1))  # reachable after a removal too
    count = draw(st.integers(150, 250))
    # NOTE: hundreds of rounds from a Hypothesis-controlled Random: drawn one by one they
    # would overrun Hypothesis's buffer.
    rnd = draw(st.randoms(use_true_random=False))
    bulk = [random_plan(rnd, size) for _ in range(count)]
    changes = draw(st.lists(weights_strategy(), min_size=1, max_size=3))
    events: dict[int, list] = {}
    amount = st.integers(10**6, 10**20)
    happenings = [("fund", 0, draw(amount)) for _ in range(draw(st.integers(1, 3)))]
    happenings += [("fund", 1, draw(amount))] if draw(st.booleans()) else []
    happenings += [("weights", i) for i in range(1, len(changes))]
    if draw(st.integers(0, 3)):  # most examples remove a worker
        happenings.append(("remove", draw(st.integers(0, size - 1))))
    for happening in happenings:
        events.setdefault(draw(st.integers(0, count)), []).append(happening)
    offsets = draw(st.lists(st.sampled_from([-3, -2, -1, 1, 2]), max_size=4, unique=True))
    boundary = [(d, random_plan(rnd, size, ["vote"])) for d in sorted(offsets)]
    order = draw(st.permutations(range(size)))
    registered = [w for w in order if draw(st.booleans())]
    chunk = st.sampled_from([23, 64, 100, 150, 1000])
    return Scenario(
        size=size,
        threshold=threshold,
        speed_rank=draw(st.integers(0, 3)),
        fee_bps=draw(st.sampled_from(FEES)),
        weights=changes,
        bulk=bulk,
        events=events,
        boundary=boundary,
        first_chunk=draw(st.sampled_from([1, 5, 100, 1000])),
        chunks={w: draw(chunk) for w in range(size)},
        registered=registered,
        claimers=[draw(claim_orders(registered)) for _ in range(2)],
        settle_early=draw(st.booleans()),
        epoch1=[random_plan(rnd, size, ["vote", "alone"]) for _ in range(draw(st.integers(0, 4)))],
        late_weights=draw(st.none() | st.just(0)),
    )


@contextmanager
def isolated(chain):
    snapshot = chain.snapshot()
    try:
        yield
    finally:
        chain.restore(snapshot)


class Game:
    """Sends the scenario and keeps what the model expects."""

    def __init__(self, sc: Scenario, net, rewards, token, chain, owner, funder) -> None:
        self.sc, self.net, self.rewards, self.token = sc, net, rewards, token
        self.chain, self.owner, self.funder = chain, owner, funder
        self.raw = RawVotes(chain, net.voting)
        self.start = rewards.start()
        self.entries: list[model.SettledRound] = []
        self.entry_epochs: list[int] = []
        self.opened = 0  # rounds opened: the next round's seq
        self.fails = 0
        self.active = set(range(sc.size))
        self.tenures = {w: model.Tenure(w) for w in range(sc.size)}
        self.ledger = model.Ledger(sc.weights[0])
        self.received = 0

    def epoch_of(self, timestamp: int) -> int:
        return (timestamp - self.start) // DAY

    def bounds(self, epoch: int) -> tuple[int, int]:
        indices = [i for i, e in enumerate(self.entry_epochs) if e == epoch]
        return (indices[0], indices[-1] + 1) if indices else (0, 0)

    def goto(self, timestamp: int) -> None:
        assert self.chain.blocks.head.timestamp < timestamp, "the plan overran its time"
        self.chain.pending_timestamp = timestamp

    def vote(self, worker: int, key: str, result: bytes) -> int:
        return self.raw.vote(self.net.workers[worker], event_descriptor(key), result)

    def settle_entry(self, seq, voted, early, agreed, timestamp, consensus=True) -> None:
        late_until = timestamp + VOTE if consensus else 0
        self.entries.append(model.SettledRound(seq, voted, early, agreed, late_until))
        self.entry_epochs.append(self.epoch_of(timestamp))

    def votes_of(self, plan: RoundPlan) -> list:
        return [(w, plan.choices[w]) for w in plan.order if w in self.active and plan.choices[w]]

    def play_round(self, key: str, plan: RoundPlan) -> None:
        votes, threshold = self.votes_of(plan), self.sc.threshold
        if plan.kind == "alone" or not votes:
            if votes:
                self.vote(votes[0][0], key, votes[0][1])  # opened alone: no quorum, never chained
                self.opened += 1
                event("round opened alone")
            return
        seq = self.opened
        self.opened += 1
        if plan.kind == "fail" and self.fails < MAX_FAILS:
            self.fails += 1
            voters = [w for w in plan.order if w in self.active][:threshold]
            split = [(w, (A, B)[n % 2]) for n, w in enumerate(voters)]  # nobody reaches threshold
            for _ in (1, 2):  # attempt 1, re-run, attempt 2
                for w, result in split:
                    self.vote(w, key, result)
                self.goto(self.chain.blocks.head.timestamp + VOTE + 2)
                vid = descriptor_id(event_descriptor(key))
                receipt = self.net.voting.finalize(vid, sender=self.funder)
            voted, early, _, _ = model.attempt(split, threshold, self.sc.speed_rank)
            self.settle_entry(seq, voted, early, set(), receipt.timestamp, consensus=False)
            event("failed after a re-run")
            return
        voted, early, agreed, deciding = model.attempt(votes, threshold, self.sc.speed_rank)
        for position, (w, result) in enumerate(votes):
            timestamp = self.vote(w, key, result)
            if position == deciding:
                self.settle_entry(seq, voted, early, agreed, timestamp)
        event("consensus" if deciding is not None else "left open")

    def fund(self, epoch: int, amount: int) -> None:
        receipt = self.rewards.fund(epoch, amount, sender=self.funder)
        received = amount - amount * self.sc.fee_bps // model.BPS
        [log] = receipt.events.filter(self.rewards.Funded)
        assert log.amount == received
        self.ledger.fund(epoch, received)
        self.received += received

    def set_weights(self, weights: list[int]) -> None:
        receipt = self.rewards.setWeights(weights, sender=self.owner)
        current = self.epoch_of(receipt.timestamp)
        assert receipt.events == [
            self.rewards.WeightsUpdated(weights=weights, fromEpoch=current + 1)
        ]
        self.ledger.set_weights(weights, current)

    def happen(self, happening: tuple) -> None:
        if happening[0] == "fund":
            self.fund(happening[1], happening[2])
        elif happening[0] == "weights":
            self.set_weights(self.sc.weights[happening[1]])
        elif len(self.active) > self.sc.threshold:
            worker = happening[1]
            self.net.voting.removeWorker(self.net.workers[worker], sender=self.owner)
            self.active.discard(worker)
            self.tenures[worker] = model.Tenure(worker, 0, self.opened)
            event("worker removed")

    def register(self, epoch: int, first_chunk: int, after_first=None) -> None:
        """Registers sc.registered in `epoch`, round-robin, the first call (`first_chunk`
        entries) in the first block after the epoch; `after_first` runs after that call."""
        rewards, workers = self.rewards, self.net.workers
        walks = {w: model.Walk(self.tenures[w]) for w in self.sc.registered}
        chunks = self.sc.chunks
        self.goto(self.start + (epoch + 1) * DAY)
        pending, first_call, wait_until = list(self.sc.registered), True, None
        while pending:
            for w in list(pending):
                walk, before = walks[w], walks[w].cursor
                size = first_chunk if first_call else chunks[w]
                receipt = rewards.register(epoch, workers[w], size, sender=self.funder)
                if first_call:  # the first block after the epoch
                    assert receipt.timestamp == self.start + (epoch + 1) * DAY
                first, end = self.bounds(epoch)  # final: every entry of the epoch is in
                if walk.step(self.entries, first, end, size, receipt.timestamp):
                    [log] = receipt.events
                    assert log.event_name == "PointsRegistered"
                    assert list(log.points) == walk.points, f"points of worker {w}"
                    self.ledger.complete(epoch, w, walk.points)
                    pending.remove(w)
                else:
                    assert receipt.events == [
                        rewards.RegistrationProgressed(
                            epoch=epoch, worker=workers[w], cursor=walk.cursor, end=end
                        )
                    ]
                    start = max(first, walk.tenure.joined_index) if before is None else before
                    if walk.cursor < min(end, start + size):  # stopped before late votes
                        event("registration waited for late votes")
                        wait_until = self.entries[walk.cursor].late_until + 1
                if first_call and after_first is not None:
                    after_first()
                first_call = False
                if wait_until is not None:
                    self.goto(wait_until)
                    wait_until = None
        first, end = self.bounds(epoch)
        info = rewards.epochInfo(epoch)
        assert (info.firstIndex, info.endIndex) == (first, end) or first == end
        assert list(info.totals) == [
            sum(p[c] for _, p in self.ledger.book(epoch).registered) for c in range(4)
        ]

    def claims(self, epoch: int, claimers: list[int]) -> None:
        """Claims of `claimers` in order, once the registration window of `epoch` closed."""
        rewards, workers = self.rewards, self.net.workers
        self.goto(self.start + (epoch + 1) * DAY + REG_WINDOW + 1)
        self.chain.mine()  # views run at the head block's time
        current = epoch + 1
        for w in self.sc.registered:
            assert list(rewards.claimable(epoch, workers[w])) == self.ledger.claimable(epoch, w)
        for w in claimers:
            before = self.token.balanceOf(workers[w])
            receipt = rewards.claim(epoch, workers[w], sender=self.funder)
            rolled = self.ledger.settle(epoch, current)
            if rolled is not None:
                [settled] = receipt.events.filter(rewards.EpochSettled)
                assert (settled.rolledOver, settled.toEpoch) == (rolled, current)
            [log] = receipt.events.filter(rewards.Claimed)
            assert log.amount == self.ledger.claim(epoch, w, current), f"claim of worker {w}"
            fee = log.amount * self.sc.fee_bps // model.BPS
            assert self.token.balanceOf(workers[w]) - before == log.amount - fee
        if not claimers and self.sc.settle_early:
            [settled] = rewards.settle(epoch, sender=self.funder).events
            assert settled.rolledOver == self.ledger.settle(epoch, current)


def play_epoch0(game: Game) -> None:
    sc = game.sc
    end = game.start + DAY
    game.goto(game.start + 60)
    for i, plan in enumerate(sc.bulk):
        for happening in sc.events.get(i, []):
            game.happen(happening)
        game.play_round(f"bulk {i}", plan)
    for happening in sc.events.get(len(sc.bulk), []):
        game.happen(happening)
    assert game.chain.blocks.head.timestamp < end - 200, "epoch 0 overran"

    # The boundary: first votes before it, deciding votes at end + d (d < 0: epoch 0's last
    # seconds; d > 0: after the first registration call), late votes after both.
    game.goto(end - 100)
    boundary = []
    for d, plan in sc.boundary:
        voters = [w for w in plan.order if w in game.active]
        votes = [(w, A) for w in voters[: sc.threshold]]
        votes += [(w, plan.choices[w]) for w in voters[sc.threshold :] if plan.choices[w]]
        for w, result in votes[: sc.threshold - 1]:
            game.vote(w, f"boundary {d}", result)
        boundary.append((d, votes, game.opened))
        game.opened += 1

    def decide(after_boundary: bool) -> None:
        for d, votes, seq in boundary:
            if (d > 0) != after_boundary:
                continue
            game.goto(end + d)
            w, result = votes[sc.threshold - 1]
            assert game.vote(w, f"boundary {d}", result) == end + d
            voted, early, agreed, _ = model.attempt(votes, sc.threshold, sc.speed_rank)
            game.settle_entry(seq, voted, early, agreed, end + d)
            event(f"consensus at the epoch boundary {d:+d} s")

    def after_first() -> None:
        decide(after_boundary=True)
        for d, votes, _ in boundary:  # late votes, after the boundary, for rounds of both epochs
            for w, result in votes[sc.threshold :]:
                game.vote(w, f"boundary {d}", result)

    decide(after_boundary=False)
    game.register(0, sc.first_chunk, after_first)
    if not sc.registered:
        after_first()


def play_epoch1(game: Game) -> None:
    sc = game.sc
    for i, plan in enumerate(sc.epoch1):
        game.play_round(f"epoch 1 round {i}", plan)
    if sc.late_weights is not None:
        game.set_weights(sc.weights[sc.late_weights])  # applies from epoch 2
    game.register(1, sc.first_chunk)


def sweep(game: Game) -> None:
    moment = game.start + 2 * DAY + REG_WINDOW + EXPIRY + 1
    game.goto(moment)
    current = game.epoch_of(moment)
    for epoch in (0, 1):
        receipt = game.rewards.sweep(epoch, sender=game.funder)
        rolled = game.ledger.settle(epoch, current)
        if rolled is not None:
            [settled] = receipt.events.filter(game.rewards.EpochSettled)
            assert settled.rolledOver == rolled
        [swept] = receipt.events.filter(game.rewards.Swept)
        assert (swept.amount, swept.toEpoch) == (game.ledger.sweep(epoch, current), current)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
    # NOTE: an example plays about a thousand transactions; shrinking would replay it hundreds of
    # times. A failure reports its example (and blob, to reproduce it) as drawn.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(sc=scenarios())
def test_long_epochs__registrations_claims_and_sweeps_match_model(
    sc, project, chain, owner, outsider, create_voting
):
    run(sc, project, chain, owner, outsider, create_voting)


def run(sc: Scenario, project, chain, owner, outsider, create_voting) -> None:
    """Plays `sc` on fresh contracts and checks everything against the model."""
    with isolated(chain):
        net = create_voting(f"{sc.threshold}/{sc.size}", speed_rank=sc.speed_rank)
        token = owner.deploy(project.MockFeeToken, sc.fee_bps)
        rewards = owner.deploy(
            project.WorkerRewards,
            *(owner, net.voting, token, REG_WINDOW, EXPIRY, sc.weights[0]),
        )
        token.mint(outsider, 10**24, sender=owner)
        token.approve(rewards, 10**24, sender=outsider)
        game = Game(sc, net, rewards, token, chain, owner, outsider)
        play_epoch0(game)
        assert net.voting.chainHead()[1] == len(game.entries), "chain entries differ from votes"
        event(f"epoch 0 entries: {game.bounds(0)[1] // 50 * 50}+")
        game.claims(0, sc.claimers[0])
        play_epoch1(game)
        game.claims(1, sc.claimers[1])
        sweep(game)

        for epoch in (0, 1):
            info, book = rewards.epochInfo(epoch), game.ledger.book(epoch)
            assert (info.pot, info.paid) == (book.pot, book.paid)
            assert info.movedOut == book.rolled + book.swept
            assert book.paid + book.rolled + book.swept == book.pot, "funds neither paid nor moved"
        held = token.balanceOf(rewards)
        assert held == game.ledger.open_funds(), "dust left behind"
        paid = sum(book.paid for book in game.ledger.epochs.values())
        assert paid + held == game.received
