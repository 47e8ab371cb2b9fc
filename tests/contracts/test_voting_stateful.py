"""Stateful property test: random action sequences on WorkerVoting against a Python model.

Each example deploys a fresh contract with a drawn configuration, then runs random votes (open
mode) or commits and reveals (sealed mode), time jumps, finalize calls, pool changes, failover
decisions, pauses and counter syncs. Every transaction must revert with the model's error exactly
when the model (`voting_model.py`) refuses the action; after every step the touched round and the
chain head must match, and at the end of an example everything is compared.

Time is exact on the embedded chain: a transaction, reverting or not, runs in the pending block
(`chain.pending_timestamp`, asserted for every success) and views run at the head block, so jumps
may land on a deadline itself. A longer run: VOTING_STATEFUL_EXAMPLES=200 ape test <this file>.
"""

import os
from types import SimpleNamespace

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import ZERO_ADDRESS
from tests.contracts.voting_model import (
    OPEN,
    Config,
    Fallback,
    Revert,
    Stats,
    Status,
    VotingModel,
    chain_link,
)

DAY = 86_400
MAX_ROUNDS = 1_000
RESULTS = {name: keccak(text=f"result {name}") for name in "ABC"}
VOTING_IDS = tuple(keccak(text=f"round-{number}") for number in range(6))
ACCOUNT = st.integers(0, 9)  # position in workers + [outsider]
ROUND = st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3, 4, 5])  # 0: the round most fit for the action
RESULT = st.sampled_from(sorted(RESULTS))  # a name: drawn values print readably
PICK = st.integers(0, 63)
# NOTE: one rule picks the action by weight. With a rule per action, Hypothesis' swarm testing
# disables a random share of the rules in each example, which wastes much of a small budget.
PLAN = {
    "cast_by_fresh_workers": 4,
    "cast_toward_consensus": 2,
    "cast_contested": 3,
    "reveal_commitments": 4,  # sealed mode only
    "cast_odd": 2,
    "wait": 2,
    "lapse": 2,
    "finalize": 1,
    "change_pool": 2,
    "resolve_by_failover": 1,
    "while_paused": 1,
    "sync_stats": 2,
}
EXAMPLES = int(os.environ.get("VOTING_STATEFUL_EXAMPLES", "20"))  # per mode; raise for a soak
SETTINGS = settings(
    max_examples=EXAMPLES, stateful_step_count=25, deadline=None, database=None, print_blob=True
)


def takes_casts(r, now: int) -> bool:
    """Whether a round takes votes (sealed: commits) now."""
    return r.status in (Status.VOTING, Status.COMMITTING) and now <= r.deadline


def has_reveals(r, now: int) -> bool:
    """Whether a round has commitments to reveal, now or once its commit window closes."""
    late = r.status == Status.REVEALING and now > r.deadline
    return r.status in (Status.COMMITTING, Status.REVEALING) and bool(r.commitments) and not late


class VotingMachine(RuleBasedStateMachine):
    """One freshly deployed WorkerVoting and its model, driven by random actions."""

    def __init__(self, env: SimpleNamespace, sealed: bool):
        super().__init__()
        self.env, self.sealed, self.chain = env, sealed, env.chain
        self.accounts = [*env.workers, env.outsider]
        plan = [a for a, weight in PLAN.items() for _ in range(weight)]
        self.plan = st.sampled_from([a for a in plan if sealed or a != "reveal_commitments"])
        self.voting = self.model = self.touched = None
        # NOTE: a view call without a sender makes web3's tester middleware derive all 80 test
        # accounts to guess one; naming the caller makes views about 2.5 times faster.
        self.caller = {"sender": env.outsider}
        self.healthy = True  # False while a step fails: teardown then leaves the error alone

    @initialize(
        size=st.integers(2, 7),
        threshold=st.integers(0, 5),
        fallback=st.sampled_from(Fallback),
        min_votes=st.integers(1, 2),
        speed_rank=st.integers(0, 3),
    )
    def deploy(self, size, threshold, fallback, min_votes, speed_rank):
        threshold = min(threshold, size)
        min_votes = min_votes if fallback == Fallback.PLURALITY else 0
        failover = self.env.failover.address if fallback == Fallback.FAILOVER else None
        config = Config(threshold, self.sealed, fallback, min_votes, speed_rank, failover)
        network = self.env.create_voting(
            f"{threshold}/{size}",
            sealed=self.sealed,
            reveal_duration=config.reveal_duration,
            fallback=fallback.name.lower(),
            plurality_min_votes=min_votes,
            speed_rank=speed_rank,
            failover=failover or ZERO_ADDRESS,
        )
        self.voting = network.voting
        genesis = keccak(encode(["uint256", "address"], [self.chain.chain_id, self.voting.address]))
        assert bytes(self.voting.genesis(**self.caller)) == genesis
        self.model = VotingModel(config, genesis, self.chain.chain_id, self.voting.address)
        for worker in network.workers:
            self.model.add_worker(worker.address)
        # NOTE: the embedded chain stamps a block max(wall clock, parent + 1); running well ahead
        # of the wall clock makes every block exactly one second after its parent.
        self.chain.pending_timestamp += DAY

    @rule(data=st.data())
    def step(self, data):
        """One action, drawn by weight from PLAN; it draws its own arguments."""
        getattr(self, data.draw(self.plan, label="action"))(data.draw)

    # -- helpers ---------------------------------------------------------------------------------

    def act(self, model_action, send) -> bool:
        """Applies `model_action(now)` to the model and sends the transaction, which must revert
        with the model's error exactly when the model raises one. Returns whether it passed."""
        self.healthy = False
        now = self.chain.pending_timestamp
        try:
            model_action(now)
        except Revert as expected:
            with ape.reverts(getattr(self.voting, expected.name), **expected.inputs):
                send()
            self.healthy = True
            return False
        assert send().timestamp == now, "the transaction ran at another time than modelled"
        self.healthy = True
        return True

    def pick_round(self, draw, fit=lambda r, now: r.status in OPEN) -> bytes:
        """A voting id, mostly the first in order: rounds that `fit` (second attempts first),
        unopened ones, the rest."""
        now = self.chain.pending_timestamp

        def rank(voting_id: bytes) -> tuple:
            r = self.model.rounds.get(voting_id)
            return (1, 0) if r is None else (0 if fit(r, now) else 2, -r.attempt)

        self.touched = sorted(VOTING_IDS, key=rank)[draw(ROUND, label="round")]
        return self.touched

    def cast(self, sender, voting_id: bytes, result: bytes, sealed: bool) -> bool:
        """Votes `result` (sealed: commits to it) as `sender`."""
        address = sender.address
        if not sealed:
            return self.act(
                lambda now: self.model.vote(address, voting_id, result, now),
                lambda: self.voting.vote(voting_id, result, sender=sender),
            )
        attempt = self.model.attempt_of(voting_id)
        salt = keccak(text=f"{address}/{attempt}/{self.chain.pending_timestamp}")
        value = self.model.commitment(result, salt, address, voting_id, attempt)
        return self.act(
            lambda now: self.model.commit(address, voting_id, result, salt, now),
            lambda: self.voting.commit(voting_id, value, sender=sender),
        )

    def reveal(self, sender, voting_id: bytes, result: bytes, salt: bytes) -> bool:
        return self.act(
            lambda now: self.model.reveal(sender.address, voting_id, result, salt, now),
            lambda: self.voting.reveal(voting_id, result, salt, sender=sender),
        )

    def fresh(self, voting_id: bytes) -> list:
        """Workers that may still vote (sealed: commit) in the current attempt."""
        return [a for a in self.env.workers if self.model.may_cast(a.address, voting_id)]

    def wait_until(self, timestamp: int) -> None:
        """The next transaction runs at `timestamp`, unless that has passed."""
        if timestamp > self.chain.pending_timestamp:
            self.chain.pending_timestamp = timestamp

    def set_paused(self, paused: bool) -> None:
        send = self.voting.pause if paused else self.voting.unpause
        self.act(lambda _: self.model.set_paused(paused), lambda: send(sender=self.env.owner))

    # -- actions ---------------------------------------------------------------------------------

    def cast_in_turn(self, voting_id: bytes, results: list, picks=None) -> None:
        """Workers yet to cast (the `picks`, else the first) cast `results` in turn, None standing
        for the leading result (A while there is none), until one is refused."""
        for turn, result in enumerate(results):
            fresh, r = self.fresh(voting_id), self.model.rounds.get(voting_id)
            result = result or (r.leader if r and r.leader else RESULTS["A"])
            if not fresh:
                break
            sender = fresh[picks[turn] % len(fresh)] if picks else fresh[0]
            if not self.cast(sender, voting_id, result, self.sealed):
                break

    def cast_by_fresh_workers(self, draw):
        """A burst of votes (sealed mode: commits) with random results."""
        voting_id = self.pick_round(draw, takes_casts)
        picks = draw(st.lists(st.tuples(PICK, RESULT), min_size=1, max_size=5), label="picks")
        self.cast_in_turn(voting_id, [RESULTS[name] for _, name in picks], [p for p, _ in picks])

    def cast_toward_consensus(self, draw):
        """Votes (commits) for the leading result."""
        voting_id = self.pick_round(draw, takes_casts)
        self.cast_in_turn(voting_id, [None] * draw(st.integers(1, 4), label="count"))

    def cast_contested(self, draw):
        """Votes split between two results in turn (ties), maybe with one for a third at the end."""
        voting_id = self.pick_round(draw, takes_casts)
        first, second, third = (RESULTS[n] for n in draw(st.permutations("ABC"), label="results"))
        spoilers = [third] * draw(st.integers(0, 1), label="spoilers")
        pairs = draw(st.integers(1, 3), label="pairs")
        self.cast_in_turn(voting_id, [first, second] * pairs + spoilers)

    def reveal_commitments(self, draw):
        """Workers reveal their commitments (tamper 0: another result); unless `early` is 0,
        time first moves past a commit window that is still open."""
        voting_id = self.pick_round(draw, has_reveals)
        r = self.model.rounds.get(voting_id)
        if draw(st.integers(0, 3), label="early") and r and r.status == Status.COMMITTING:
            self.wait_until(r.deadline + 1)
        picks = st.lists(st.tuples(PICK, st.integers(0, 3)), min_size=1, max_size=5)
        for pick, tamper in draw(picks, label="picks, tamper"):
            pending = sorted(r.commitments.items()) if r else []
            pending = [(address, c) for address, c in pending if c[2] == r.attempt]
            if pending:
                address, (result, salt, _) = pending[pick % len(pending)]
                if tamper == 0:
                    result = next(other for other in RESULTS.values() if other != result)
                sender = next(a for a in self.accounts if a.address == address)
                if not self.reveal(sender, voting_id, result, salt) and tamper != 0:
                    break

    def cast_odd(self, draw, kind=None):
        """Casts that are often refused: by any account, twice in an attempt, by a worker that
        joined after the round opened, in the other mode, or a reveal by any account (with its
        salt if it committed)."""
        kinds = ["anyone", "again", "newcomer", "other mode", "reveal"]
        kind = kind or draw(st.sampled_from(kinds))
        voting_id = self.pick_round(draw)
        who, result = draw(ACCOUNT, label="who"), RESULTS[draw(RESULT, label="result")]
        sender, r = self.accounts[who], self.model.rounds.get(voting_id)
        if kind == "reveal":
            stored = r.commitments.get(sender.address) if r else None
            self.reveal(sender, voting_id, result, stored[1] if stored else bytes(32))
            return
        if kind in ("again", "newcomer") and r is not None:
            done = r.committed if self.sealed else set(r.votes)
            workers = [(a, self.model.active.get(a.address)) for a in self.env.workers]
            if kind == "again":
                found = [a for a, w in workers if w and w.index in done]
            else:
                found = [a for a, w in workers if w and w.joined_seq > r.seq]
            sender = found[who % len(found)] if found else sender
        self.cast(sender, voting_id, result, self.sealed != (kind == "other mode"))

    def wait(self, draw):
        """A few seconds pass, or the next transaction runs at a deadline of a round or one second
        after it (sealed mode, committing: also after the reveal window)."""
        r = self.model.rounds.get(self.pick_round(draw))
        until = draw(st.sampled_from(["after deadline", "deadline", "after reveal", "briefly"]))
        if until == "briefly" or r is None:
            self.chain.pending_timestamp += draw(st.integers(1, 59), label="seconds")
            return
        at = r.deadline + (until != "deadline")
        if until == "after reveal" and r.status == Status.COMMITTING:
            at += self.model.config.reveal_duration
        self.wait_until(at)

    def lapse(self, draw):
        """An open round runs out of time (reveal window included), then someone finalizes it."""
        voting_id = self.pick_round(draw)
        r = self.model.rounds.get(voting_id)
        if r is not None and r.status in OPEN:
            reveal = self.model.config.reveal_duration if r.status == Status.COMMITTING else 0
            self.wait_until(r.deadline + reveal + 1)
        self.finalize(draw, voting_id)

    def finalize(self, draw, voting_id=None):
        voting_id = voting_id or self.pick_round(draw)
        sender = self.accounts[draw(ACCOUNT, label="who")]
        self.act(
            lambda now: self.model.finalize(voting_id, now),
            lambda: self.voting.finalize(voting_id, sender=sender),
        )

    def resolve_by_failover(self, draw):
        voting_id = self.pick_round(draw, lambda r, _: r.status == Status.AWAITING_FAILOVER)
        result = RESULTS[draw(RESULT, label="result")]
        by_failover = draw(st.integers(0, 3), label="by outsider") != 0
        sender = self.env.failover if by_failover else self.env.outsider
        self.act(
            lambda _: self.model.resolve(sender.address, voting_id, result),
            lambda: self.voting.resolveByFailover(voting_id, result, sender=sender),
        )

    def change_pool(self, draw):
        """The owner adds a new worker or removes an active one (or tries any account)."""
        actions = ["add", "add", "add", "remove", "remove", "add anyone", "remove anyone"]
        action = draw(st.sampled_from(actions))
        model = self.model
        candidates = {
            "add": [a for a in self.env.workers if a.address not in model.workers],
            "remove": [a for a in self.env.workers if a.address in model.active],
            "add anyone": self.env.workers,
        }.get(action) or self.accounts
        address = candidates[draw(PICK, label="pick") % len(candidates)].address
        if action.startswith("add"):
            model_action, send = model.add_worker, self.voting.addWorker
        else:
            model_action, send = model.remove_worker, self.voting.removeWorker
        self.act(lambda _: model_action(address), lambda: send(address, sender=self.env.owner))

    def while_paused(self, draw):
        """Pauses, tries one action, unpauses: votes, commits and reveals stop, finalize works."""
        action = draw(st.sampled_from(["cast", "reveal", "finalize", "pause"]))
        self.set_paused(True)
        if action == "pause":
            self.set_paused(True)
        elif action == "finalize":
            self.finalize(draw)
        else:
            self.cast_odd(draw, "anyone" if action == "cast" else "reveal")
        self.set_paused(False)
        if action == "pause":
            self.set_paused(False)

    def sync_stats(self, draw):
        address = self.accounts[draw(ACCOUNT, label="who")].address
        self.act(
            lambda now: self.model.sync_stats(address, now),
            lambda: self.voting.syncStats(address, MAX_ROUNDS, sender=self.env.outsider),
        )
        self.check_stats(address)

    # -- checks ----------------------------------------------------------------------------------

    def check_round(self, voting_id: bytes) -> None:
        state = self.voting.roundState(voting_id, **self.caller)
        expected = self.model.round_view(voting_id)
        actual = {name: getattr(state, name) for name in expected}
        actual["result"] = bytes(actual["result"])
        assert actual == expected, f"round {voting_id.hex()[:8]}"

    def check_stats(self, address: str) -> None:
        now = self.chain.blocks.head.timestamp  # views run at the head block
        stats = self.voting.workerStats(address, MAX_ROUNDS, **self.caller)
        actual = Stats(**{name: getattr(stats, name) for name in Stats.__dataclass_fields__})
        assert actual == self.model.worker_stats(address, now), address

    @invariant()
    def matches_model(self):
        """After every step: the chain head, and the round the step touched."""
        if self.model is None:
            return
        self.healthy = False
        head, length = self.voting.chainHead(**self.caller)
        assert (bytes(head), length) == (self.model.head, len(self.model.chain))
        if self.touched is not None:
            self.check_round(self.touched)
            self.touched = None
        self.healthy = True

    def teardown(self):
        """Compares everything: rounds, results, the chain from genesis, the pool, counters."""
        if self.model is None or not self.healthy:
            return
        model, voting, caller = self.model, self.voting, self.caller
        for voting_id in VOTING_IDS:
            self.check_round(voting_id)
            recorded = model.recorded.get(voting_id, bytes(32))
            assert bytes(voting.resultOf(voting_id, **caller)) == recorded
        head, entries = model.genesis, []
        for index in range(len(model.chain)):
            e = voting.chainEntry(index, **caller)
            entries.append((bytes(e.votingId), bytes(e.result), e.attempt, e.votes, e.kind))
            head = chain_link(head, index, entries[-1])
            expected = model.settled_round(index)
            settled = voting.settledRound(index, **caller)
            actual = {name: getattr(settled, name) for name in expected}
            assert {**actual, "votingId": bytes(settled.votingId)} == expected, index
        assert entries == model.chain
        sample = (RESULTS["A"], keccak(text="salt"), self.env.outsider.address, VOTING_IDS[0], 2)
        assert bytes(voting.commitmentOf(*sample, **caller)) == model.commitment(*sample)
        assert bytes(voting.chainHead(**caller)[0]) == head
        length = len(entries)
        with ape.reverts(voting.VotingNoSuchEntry, index=length, length=length):
            voting.chainEntry(length, **caller)
        pool = (len(model.active), len(model.round_log), length, 0, model.paused)
        assert tuple(voting.poolState(**caller)) == pool
        by_index = sorted(model.active, key=lambda address: model.active[address].index)
        assert list(voting.workers(**caller)) == by_index
        for address, w in model.workers.items():
            info = voting.workerInfo(address, **caller)
            actual = (info.active, info.retired, info.index, info.joinedSeq, info.leftSeq)
            assert actual == (w.active, not w.active, w.index, w.joined_seq, w.left_seq)
        for address in [*model.workers, self.env.outsider.address]:
            self.check_stats(address)


@pytest.mark.parametrize("mode", ["open", "sealed"])
def test_random_actions__match_model(
    mode, chain, create_voting, owner, workers, outsider, failover_account
):
    if chain.provider.name != "test":
        # NOTE: on anvil a step does not always run at the time the model is stepped at (seen:
        # a deadline comparison one second off), and the model needs exact times.
        pytest.skip("exact block times are needed: runs on the embedded chain")
    env = SimpleNamespace(
        chain=chain,
        create_voting=create_voting,
        owner=owner,
        workers=workers,
        outsider=outsider,
        failover=failover_account,
    )
    run_state_machine_as_test(lambda: VotingMachine(env, mode == "sealed"), settings=SETTINGS)
