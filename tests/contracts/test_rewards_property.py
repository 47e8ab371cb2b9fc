"""Property test: random epochs of votes, funding and registrations against the rewards model.

Each example deploys a voting pool and a rewards contract, plays 1-5 rounds in epoch 0 (random
votes, order, skips; rounds left open, re-run or failed; maybe a worker removed), registers a
random subset of workers and claims for them. Expected points come from the votes as sent, via
`rewards_model`; nothing expected is read back from the contract.

NOTE: `chain.isolate()` swallows any exception raised inside it (Ape 0.8), so a failing check
would pass silently; `isolated()` below snapshots and restores explicitly instead.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from eth_utils import keccak
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import ZERO_ADDRESS
from tests.contracts import rewards_model as model

DAY, HOUR = 86_400, 3_600
REG_WINDOW, EXPIRY = 2 * HOUR, 30 * DAY
SLOT = 3 * HOUR  # a round takes at most two attempts of an hour each: slots never overlap
A, B = keccak(text="root A"), keccak(text="root B")
FATES = ("open", "rerun", "fail", "fail")  # without consensus: left open, re-run once, or failed


@dataclass(frozen=True)
class RoundPlan:
    """Votes (worker, result) in sending order per attempt; what happens without consensus."""

    attempts: tuple[list, list]
    fate: str


@dataclass(frozen=True)
class Scenario:
    size: int
    threshold: int
    speed_rank: int
    weights: list[int]
    fundings: list[tuple[int, int]]  # (slot, amount): slot k is just before round k
    rounds: list[RoundPlan]
    removal: tuple[int, int] | None  # (worker, slot)
    registered: list[int]  # workers in registration order
    claim_order: list[int]


@st.composite
def attempt_votes(draw, size: int) -> list:
    # NOTE: a palette per attempt: eager, split or thin turnout, so all outcomes are common.
    palette = draw(st.sampled_from([(A, A, B, None), (A, B, None), (A, None, None)]))
    choices = draw(st.lists(st.sampled_from(palette), min_size=size, max_size=size))
    order = draw(st.permutations(range(size)))
    return [(w, choices[w]) for w in order if choices[w] is not None]


@st.composite
def scenarios(draw) -> Scenario:
    size = draw(st.integers(3, 6))
    threshold = draw(st.integers(2, min(4, size - 1)))  # reachable after a removal too
    cuts = sorted(draw(st.lists(st.integers(0, model.BPS), min_size=3, max_size=3)))
    weights = [hi - lo for lo, hi in zip([0, *cuts], [*cuts, model.BPS])]
    count = draw(st.sampled_from(range(1, 6)))
    rounds = [
        RoundPlan(
            (draw(attempt_votes(size)), draw(attempt_votes(size))), draw(st.sampled_from(FATES))
        )
        for _ in range(count)
    ]
    funded = 2 * draw(st.integers(10**5, 10**18)) + 1  # odd: shares round
    slots = sorted(draw(st.lists(st.integers(0, count), min_size=2, max_size=2)))
    first = draw(st.integers(1, funded - 1)) if draw(st.booleans()) else funded
    fundings = [(slots[0], first)] + ([(slots[1], funded - first)] if first < funded else [])
    removal = draw(st.none() | st.tuples(st.integers(0, size - 1), st.integers(0, count)))
    order = draw(st.permutations(range(size)))
    chosen = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    registered = [w for w in order if chosen[w]]
    claim_order = draw(st.permutations(registered))
    return Scenario(
        size,
        threshold,
        draw(st.integers(0, 3)),
        weights,
        fundings,
        rounds,
        removal,
        registered,
        claim_order,
    )


def tally(votes: list, threshold: int, speed_rank: int):
    """(voted, early, agreed, consensus) of one attempt whose votes are sent in this order."""
    counts, voted, early, winner = {A: 0, B: 0}, set(), set(), None
    for worker, result in votes:
        if winner is None:  # votes after consensus are late: never early, never counted
            if len(voted) < speed_rank:
                early.add(worker)
            counts[result] += 1
            if counts[result] >= threshold:
                winner = result
        voted.add(worker)
    agreed = {w for w, result in votes if result == winner} if winner else set()
    return voted, early, agreed, winner is not None


@contextmanager
def isolated(chain):
    snapshot = chain.snapshot()
    try:
        yield
    finally:
        chain.restore(snapshot)


def goto(chain, timestamp: int) -> None:
    assert chain.pending_timestamp <= timestamp, "a slot overran the next one"
    chain.pending_timestamp = timestamp
    chain.mine()


def rid(i: int) -> bytes:
    return keccak(text=f"property round {i}")


def play(sc: Scenario, net, rewards, chain, owner, outsider) -> tuple[list, int | None]:
    """Sends the scenario's epoch 0; returns the expected chain entries and the removal seq."""
    voting, workers, start = net.voting, net.workers, rewards.start()
    settled, seq, active, left_seq = [], 0, set(range(sc.size)), None
    for slot in range(len(sc.rounds) + 1):
        goto(chain, start + 60 + slot * SLOT)
        for _, amount in (f for f in sc.fundings if f[0] == slot):
            rewards.fund(0, amount, value=amount, sender=outsider)
        if sc.removal and sc.removal[1] == slot:
            voting.removeWorker(workers[sc.removal[0]], sender=owner)
            active.discard(sc.removal[0])
            left_seq = seq
            event("worker removed")
        if slot == len(sc.rounds):
            break
        plan, vid = sc.rounds[slot], rid(slot)
        attempts = [[(w, r) for w, r in votes if w in active] for votes in plan.attempts]
        if not attempts[0]:
            continue  # nobody voted: the round never opened
        for number, votes in enumerate(attempts, start=1):
            for worker, result in votes:
                voting.vote(vid, result, sender=workers[worker])
            voted, early, agreed, consensus = tally(votes, sc.threshold, sc.speed_rank)
            if consensus:
                settled.append(model.SettledRound(seq, voted, early, agreed))
                event(f"consensus in attempt {number}")
                break
            if plan.fate == "open" or (number == 2 and plan.fate == "rerun"):
                event(f"left open in attempt {number}")
                break
            goto(chain, voting.roundState(vid).deadline + 1)
            voting.finalize(vid, sender=outsider)
            if number == 2:  # AlertOnly: the second failure is a Failed entry, nobody agreed
                settled.append(model.SettledRound(seq, voted, early, set()))
                event("failed entry")
        seq += 1
    return settled, left_seq


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
@given(sc=scenarios())
def test_random_epoch__registrations_and_claims_match_model(
    sc, project, chain, owner, outsider, create_voting
):
    with isolated(chain):
        net = create_voting(f"{sc.threshold}/{sc.size}", speed_rank=sc.speed_rank)
        rewards = owner.deploy(
            project.WorkerRewards,
            *(owner, net.voting, ZERO_ADDRESS, DAY, REG_WINDOW, EXPIRY, sc.weights),
        )
        settled, left_seq = play(sc, net, rewards, chain, owner, outsider)
        funded = sum(amount for _, amount in sc.fundings)
        assert net.voting.chainHead()[1] == len(settled), "chain entries differ from the votes"
        assert rewards.epochInfo(0).pot == funded

        epoch_end = rewards.epochTimes(0)[1]
        goto(chain, epoch_end + 1)
        expected_points = []
        for i in sc.registered:
            gone = sc.removal is not None and sc.removal[0] == i
            tenure = model.Tenure(i, 0, left_seq if gone else None)
            expected_points.append(model.points(settled, tenure))
            receipt = rewards.register(0, net.workers[i], sender=outsider)
            [log] = receipt.events.filter(rewards.PointsRegistered)
            assert list(log.points) == expected_points[-1], f"points of worker {i}"

        goto(chain, epoch_end + REG_WINDOW + 1)
        shares = dict(
            zip(sc.registered, model.payouts(funded, sc.weights, expected_points), strict=True)
        )
        for i in sc.registered:
            assert list(rewards.claimable(0, net.workers[i])) == shares[i], f"claimable of {i}"

        paid, receipts = 0, []
        for i in sc.claim_order:
            worker = net.workers[i]
            before = worker.balance
            receipts.append(rewards.claim(0, worker, sender=outsider))
            [log] = receipts[-1].events.filter(rewards.Claimed)
            assert log.amount == sum(shares[i]), f"claim of worker {i}"
            assert worker.balance - before == log.amount
            paid += log.amount
        if not receipts:
            receipts.append(rewards.settle(0, sender=outsider))
        [settle] = receipts[0].events.filter(rewards.EpochSettled)
        rolled = model.rolled_over(funded, sc.weights, expected_points)
        event(f"registered {len(sc.registered)}, rolled over {'some' if rolled else 'none'}")
        totals = [sum(p[c] for p in expected_points) for c in range(4)]
        assert (settle.pot, list(settle.totals), settle.toEpoch) == (funded, totals, 1)
        assert settle.rolledOver == rolled
        assert paid <= funded
        assert paid + settle.rolledOver == funded, "funds neither paid nor rolled over"
        assert rewards.epochInfo(0).paid == paid
        assert rewards.balance == funded - paid
