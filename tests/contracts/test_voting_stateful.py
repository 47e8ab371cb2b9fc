"""Stateful property test: random action sequences on WorkerVoting against a Python model.

Each example deploys a fresh contract with a drawn configuration, then runs random votes (open
mode) or commits and reveals (sealed mode) -- through `openAndVote`/`openAndCommit` with a
descriptor or through `vote`/`commit` with a voting id --, rounds opened early or alone, time
jumps, finalize calls at any moment, pool changes in the middle of rounds, failover decisions, and
pauses during which time passes while the round clock stands still. Every transaction must revert
with the model's error exactly when the model (`voting_model.py`) refuses the action. After every
step the pool counters (pause included), the chain head (which rounds are chained, in order: the
head hashes every entry) and the state of every opened round (status, attempt, deadline, votes)
must match; at the end of an example everything is compared, chain entries and epochs included.

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
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import ENCODING, ZERO_ADDRESS, event_descriptor, window_descriptor
from tests.contracts.voting_model import VotingModel
from tests.contracts.voting_types import (
    OPEN,
    Config,
    Fallback,
    Revert,
    Status,
    chain_link,
    descriptor_id,
)

DAY = 86_400
RESULTS = {name: keccak(text=f"result {name}") for name in "ABC"}
ACCOUNT = st.integers(0, 9)  # position in workers + [outsider]
ROUND = st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7])  # 0: the round most fit
RESULT = st.sampled_from(sorted(RESULTS))  # a name: drawn values print readably
PICK = st.integers(0, 63)
VIA_OPEN = st.sampled_from([True, True, False])  # openAndVote/openAndCommit, else vote/commit
# NOTE: one rule picks the action by weight. With a rule per action, Hypothesis' swarm testing
# disables a random share of the rules in each example, which wastes much of a small budget.
PLAN = {
    "cast_by_fresh_workers": 4,
    "cast_toward_consensus": 2,
    "cast_contested": 3,
    "reveal_commitments": 4,  # sealed mode only
    "cast_odd": 2,
    "open_alone": 2,
    "wait": 2,
    "lapse": 2,
    "finalize": 2,
    "change_pool": 2,
    "resolve_by_failover": 1,
    "toggle_pause": 2,
    "while_paused": 1,
}
EXAMPLES = int(os.environ.get("VOTING_STATEFUL_EXAMPLES", "10"))  # per mode; raise for a soak
# NOTE: VOTING_STATEFUL_SHRINK=0 reports a failure as found (shrinking it can take many minutes).
SHRINK = os.environ.get("VOTING_STATEFUL_SHRINK", "1") != "0"
SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    database=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if SHRINK else [])],
)


def descriptors(t0: int) -> list:
    """The rounds of one example: events (open at any time), windows that ended before the
    example, end soon or end later, and two malformed descriptors."""
    return [
        *(event_descriptor(f"event-{number}") for number in range(4)),
        window_descriptor(t0 - 7200, t0 - 3600),
        window_descriptor(t0 - 600, t0 + 300),
        window_descriptor(t0, t0 + 2400),
        (bytes(32), 0, 0, keccak(text="no schedule"), ENCODING),
        (keccak(text="schedule"), t0 - 600, t0 - 300, keccak(text="window and key"), ENCODING),
    ]


class VotingMachine(RuleBasedStateMachine):
    """One freshly deployed WorkerVoting and its model, driven by random actions."""

    def __init__(self, env: SimpleNamespace, sealed: bool):
        super().__init__()
        self.env, self.sealed, self.chain = env, sealed, env.chain
        self.accounts = [*env.workers, env.outsider]
        plan = [a for a, weight in PLAN.items() for _ in range(weight)]
        self.plan = st.sampled_from([a for a in plan if sealed or a != "reveal_commitments"])
        self.voting = self.model = self.touched = None
        self.targets: list[tuple] = []  # (descriptor, voting id)
        # NOTE: a view call without a sender makes web3's tester middleware derive all 80 test
        # accounts to guess one; naming the caller makes views about 2.5 times faster.
        self.caller = {"sender": env.outsider}
        self.healthy = True  # False while a step fails: teardown then leaves the error alone

    @initialize(
        size=st.integers(2, 7),
        threshold=st.integers(0, 5),
        fallback=st.sampled_from(Fallback),
        min_votes=st.integers(2, 3),
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
            failover_timeout=config.failover_timeout,
        )
        self.voting = network.voting
        genesis = keccak(encode(["uint256", "address"], [self.chain.chain_id, self.voting.address]))
        assert bytes(self.voting.genesis(**self.caller)) == genesis
        epochs = (self.voting.epochStart(**self.caller), self.voting.epochLength(**self.caller))
        self.model = VotingModel(config, genesis, self.chain.chain_id, self.voting.address, epochs)
        for worker in network.workers:
            self.model.add_worker(worker.address)
        # NOTE: the embedded chain stamps a block max(wall clock, parent + 1); running well ahead
        # of the wall clock makes every block exactly one second after its parent.
        self.chain.pending_timestamp += DAY
        self.targets = [(d, descriptor_id(d)) for d in descriptors(self.chain.pending_timestamp)]

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
        self.model.now = now
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

    def openable(self, descriptor: tuple) -> bool:
        try:
            self.model.describe(descriptor, self.chain.pending_timestamp)
        except Revert:
            return False
        return True

    def pick_round(self, draw, fit=lambda r, now: r.status in OPEN) -> int:
        """A round (index into the targets), mostly the first in order: opened rounds that `fit`
        (second attempts first), rounds that may open now, the rest."""
        now = self.chain.pending_timestamp

        def rank(i: int) -> tuple:
            descriptor, voting_id = self.targets[i]
            r = self.model.rounds.get(voting_id)
            if r is None:
                return (1 if self.openable(descriptor) else 3, 0, i)
            return (0 if fit(r, now) else 2, -r.attempt, i)

        chosen = sorted(range(len(self.targets)), key=rank)[draw(ROUND, label="round")]
        self.touched = self.targets[chosen][1]
        return chosen

    def cast(self, sender, target: int, result: bytes, sealed: bool, via_open: bool) -> bool:
        """Votes `result` (sealed: commits to it) as `sender`, in round `target` opened (if new)
        from its descriptor when `via_open`, else addressed by its voting id."""
        address = sender.address
        descriptor, voting_id = self.targets[target]
        model_target = descriptor if via_open else voting_id
        if not sealed:
            send = (
                (lambda: self.voting.openAndVote(descriptor, result, sender=sender))
                if via_open
                else (lambda: self.voting.vote(voting_id, result, sender=sender))
            )
            return self.act(lambda now: self.model.vote(address, model_target, result, now), send)
        attempt = self.model.attempt_of(voting_id)
        salt = keccak(text=f"{address}/{attempt}/{self.chain.pending_timestamp}")
        value = self.model.commitment(result, salt, address, voting_id, attempt)
        send = (
            (lambda: self.voting.openAndCommit(descriptor, value, sender=sender))
            if via_open
            else (lambda: self.voting.commit(voting_id, value, sender=sender))
        )
        return self.act(
            lambda now: self.model.commit(address, model_target, result, salt, now), send
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

    def deadline_of(self, r) -> int:
        """The block time of a round's deadline if the pause (if any) ended now; 0: none."""
        if r.status == Status.CONSENSUS:
            return r.deadline
        return self.model.block_time(r.deadline, self.chain.pending_timestamp)

    def set_paused(self, paused: bool) -> None:
        send = self.voting.pause if paused else self.voting.unpause
        self.act(
            lambda now: self.model.set_paused(paused, now), lambda: send(sender=self.env.owner)
        )

    # -- actions ---------------------------------------------------------------------------------

    def cast_in_turn(self, target: int, results: list, via_open: bool, picks=None) -> None:
        """Workers yet to cast (the `picks`, else the first) cast `results` in turn, None standing
        for the leading result (A while there is none), until one is refused."""
        voting_id = self.targets[target][1]
        for turn, result in enumerate(results):
            fresh, r = self.fresh(voting_id), self.model.rounds.get(voting_id)
            result = result or (r.leader if r and r.leader else RESULTS["A"])
            if not fresh:
                break
            sender = fresh[picks[turn] % len(fresh)] if picks else fresh[0]
            if not self.cast(sender, target, result, self.sealed, via_open):
                break

    def cast_by_fresh_workers(self, draw):
        """A burst of votes (sealed mode: commits) with random results."""
        target = self.pick_round(
            draw, lambda r, now: r.status in (Status.VOTING, Status.COMMITTING)
        )
        picks = draw(st.lists(st.tuples(PICK, RESULT), min_size=1, max_size=5), label="picks")
        results = [RESULTS[name] for _, name in picks]
        self.cast_in_turn(target, results, draw(VIA_OPEN), [p for p, _ in picks])

    def cast_toward_consensus(self, draw):
        """Votes (commits) for the leading result."""
        target = self.pick_round(
            draw, lambda r, now: r.status in (Status.VOTING, Status.COMMITTING)
        )
        count = draw(st.integers(1, 4), label="count")
        self.cast_in_turn(target, [None] * count, draw(VIA_OPEN))

    def cast_contested(self, draw):
        """Votes split between two results in turn (ties), maybe with one for a third at the end."""
        target = self.pick_round(
            draw, lambda r, now: r.status in (Status.VOTING, Status.COMMITTING)
        )
        first, second, third = (RESULTS[n] for n in draw(st.permutations("ABC"), label="results"))
        spoilers = [third] * draw(st.integers(0, 1), label="spoilers")
        pairs = draw(st.integers(1, 3), label="pairs")
        self.cast_in_turn(target, [first, second] * pairs + spoilers, draw(VIA_OPEN))

    def open_alone(self, draw):
        """One worker opens any round from its descriptor: an event round it may then hold alone,
        a window that has not ended yet, a malformed descriptor, or a round already open."""
        target = draw(st.integers(0, len(self.targets) - 1), label="descriptor")
        self.touched = self.targets[target][1]
        sender = self.accounts[draw(ACCOUNT, label="who")]
        self.cast(sender, target, RESULTS[draw(RESULT, label="result")], self.sealed, True)

    def reveal_commitments(self, draw):
        """Workers reveal their commitments (tamper 0: another result); unless `early` is 0,
        time first moves past a commit window that is still open."""
        target = self.pick_round(draw, lambda r, now: bool(r.commitments) and r.status in OPEN)
        r = self.model.rounds.get(self.targets[target][1])
        early = draw(st.integers(0, 3), label="early")
        if early and r and r.status == Status.COMMITTING and r.deadline and not self.model.paused:
            self.wait_until(self.deadline_of(r) + 1)
        picks = st.lists(st.tuples(PICK, st.integers(0, 3)), min_size=1, max_size=5)
        for pick, tamper in draw(picks, label="picks, tamper"):
            pending = sorted(r.commitments.items()) if r else []
            pending = [(address, c) for address, c in pending if c[2] == r.attempt]
            if pending:
                address, (result, salt, _) = pending[pick % len(pending)]
                if tamper == 0:
                    result = next(other for other in RESULTS.values() if other != result)
                sender = next(a for a in self.accounts if a.address == address)
                if not self.reveal(sender, r.voting_id, result, salt) and tamper != 0:
                    break

    def cast_odd(self, draw, kind=None):
        """Casts that are often refused: by any account, twice in an attempt, by a worker that
        joined after the round opened, in the other mode, a zero result, or a reveal by any
        account (with its salt if it committed)."""
        kinds = ["anyone", "again", "newcomer", "other mode", "zero", "reveal"]
        kind = kind or draw(st.sampled_from(kinds))
        target = self.pick_round(draw)
        descriptor, voting_id = self.targets[target]
        who, result = draw(ACCOUNT, label="who"), RESULTS[draw(RESULT, label="result")]
        sender, r = self.accounts[who], self.model.rounds.get(voting_id)
        if kind == "reveal":
            stored = r.commitments.get(sender.address) if r else None
            self.reveal(sender, voting_id, result, stored[1] if stored else bytes(32))
            return
        if kind == "zero":
            if self.sealed:
                self.act(
                    lambda now: self.model.reveal(sender.address, voting_id, bytes(32), b"", now),
                    lambda: self.voting.reveal(voting_id, bytes(32), bytes(32), sender=sender),
                )
            else:
                self.act(
                    lambda now: self.model.vote(sender.address, descriptor, bytes(32), now),
                    lambda: self.voting.openAndVote(descriptor, bytes(32), sender=sender),
                )
            return
        if kind in ("again", "newcomer") and r is not None:
            done = r.committed if self.sealed else set(r.votes)
            workers = [(a, self.model.active.get(a.address)) for a in self.env.workers]
            if kind == "again":
                found = [a for a, w in workers if w and w.index in done]
            else:
                found = [a for a, w in workers if w and w.joined_seq > r.seq]
            sender = found[who % len(found)] if found else sender
        other = kind == "other mode"
        self.cast(sender, target, result, self.sealed != other, draw(VIA_OPEN))

    def wait(self, draw):
        """A few seconds pass, or the next transaction runs at a deadline of a round or one second
        after it (sealed mode, committing: also after the reveal window). While paused, deadlines
        move on with the time: a stretch of time passes instead."""
        r = self.model.rounds.get(self.targets[self.pick_round(draw)][1])
        until = draw(st.sampled_from(["after deadline", "deadline", "after reveal", "briefly"]))
        if self.model.paused:
            self.chain.pending_timestamp += draw(st.integers(1, 5400), label="seconds")
            return
        if until == "briefly" or r is None or r.deadline == 0:
            self.chain.pending_timestamp += draw(st.integers(1, 59), label="seconds")
            return
        at = self.deadline_of(r) + (until != "deadline")
        if until == "after reveal" and r.status == Status.COMMITTING:
            at += self.model.config.reveal_duration
        self.wait_until(at)

    def lapse(self, draw):
        """An open round (or one awaiting failover) runs out of time, reveal window included,
        then someone finalizes it."""
        target = self.pick_round(draw)
        r = self.model.rounds.get(self.targets[target][1])
        waiting = r is not None and (r.status in OPEN or r.status == Status.AWAITING_FAILOVER)
        if waiting and r.deadline and not self.model.paused:
            reveal = self.model.config.reveal_duration if r.status == Status.COMMITTING else 0
            self.wait_until(self.deadline_of(r) + reveal + 1)
        self.finalize(draw, target)

    def finalize(self, draw, target=None):
        """Anyone finalizes any round, at any moment."""
        if target is None:
            target = draw(st.integers(0, len(self.targets) - 1), label="round")
        voting_id = self.targets[target][1]
        self.touched = voting_id
        sender = self.accounts[draw(ACCOUNT, label="who")]
        self.act(
            lambda now: self.model.finalize(voting_id, now),
            lambda: self.voting.finalize(voting_id, sender=sender),
        )

    def resolve_by_failover(self, draw):
        target = self.pick_round(draw, lambda r, _: r.status == Status.AWAITING_FAILOVER)
        voting_id = self.targets[target][1]
        result = RESULTS[draw(RESULT, label="result")]
        by_failover = draw(st.integers(0, 3), label="by outsider") != 0
        sender = self.env.failover if by_failover else self.env.outsider
        r = self.model.rounds.get(voting_id)
        if draw(st.booleans(), label="at timeout") and r and r.deadline and not self.model.paused:
            self.wait_until(self.deadline_of(r) + draw(st.integers(0, 1), label="after"))
        self.act(
            lambda now: self.model.resolve(sender.address, voting_id, result, now),
            lambda: self.voting.resolveByFailover(voting_id, result, sender=sender),
        )

    def change_pool(self, draw):
        """The owner adds a new worker or removes an active one (or tries any account), often
        while rounds are open."""
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

    def toggle_pause(self, draw):
        """The owner pauses or unpauses (or repeats the current state, which reverts)."""
        repeat = draw(st.integers(0, 4), label="repeat") == 0
        self.set_paused(self.model.paused == repeat)

    def while_paused(self, draw):
        """Pauses, tries one action, unpauses: votes, commits and reveals stop, finalize works
        only for attempts that can no longer reach the threshold."""
        action = draw(st.sampled_from(["cast", "reveal", "finalize", "lapse", "pause"]))
        if not self.model.paused:
            self.set_paused(True)
        if action == "pause":
            self.set_paused(True)
        elif action == "finalize":
            self.finalize(draw)
        elif action == "lapse":
            self.chain.pending_timestamp += draw(st.integers(1, 2 * 3600), label="seconds")
            self.finalize(draw, self.pick_round(draw))
        else:
            self.cast_odd(draw, "anyone" if action == "cast" else "reveal")
        self.set_paused(False)
        if action == "pause":
            self.set_paused(False)

    # -- checks ----------------------------------------------------------------------------------

    def check_round(self, voting_id: bytes, now: int) -> None:
        state = self.voting.roundState(voting_id, **self.caller)
        expected = self.model.round_view(voting_id, now)
        actual = {name: getattr(state, name) for name in expected}
        actual["result"] = bytes(actual["result"])
        assert actual == expected, f"round {voting_id.hex()[:8]}"

    def pool_state(self, now: int) -> tuple:
        m = self.model
        return (len(m.active), m.generation, len(m.chain), 0, m.paused, m.paused_for(now))

    @invariant()
    def matches_model(self):
        """After every step: pool counters, the chain head (which rounds are chained, in order),
        and every opened round (status, attempt, deadline, votes) and the touched one."""
        if self.model is None:
            return
        self.healthy = False
        now = self.chain.blocks.head.timestamp  # views run at the head block
        head, length = self.voting.chainHead(**self.caller)
        assert (bytes(head), length) == (self.model.head, len(self.model.chain))
        assert tuple(self.voting.poolState(**self.caller)) == self.pool_state(now)
        for voting_id in {*self.model.round_log, self.touched} - {None}:
            self.check_round(voting_id, now)
        self.touched = None
        self.healthy = True

    def teardown(self):
        """Compares everything: rounds, results, the chain from genesis, epochs, the pool."""
        if self.model is None or not self.healthy:
            return
        model, voting, caller = self.model, self.voting, self.caller
        now = self.chain.blocks.head.timestamp
        for _, voting_id in self.targets:
            self.check_round(voting_id, now)
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
        batch = voting.settledRounds(0, len(entries) + 1, **caller)
        assert [bytes(s.votingId) for s in batch] == [e[0] for e in entries]
        unchained = {voting_id for _, voting_id in self.targets} - {e[0] for e in entries}
        for voting_id in unchained:  # never chained: settled neither by quorum nor by fallback
            r = model.rounds.get(voting_id)
            assert r is None or r.status in (*OPEN, Status.AWAITING_FAILOVER)
        for epoch in {*model.epochs, 0, max(model.epochs, default=0) + 1}:
            assert tuple(voting.epochEntries(epoch, **caller)) == model.epoch_entries(epoch)
        sample = (
            RESULTS["A"],
            keccak(text="salt"),
            self.env.outsider.address,
            self.targets[0][1],
            2,
        )
        assert bytes(voting.commitmentOf(*sample, **caller)) == model.commitment(*sample)
        assert bytes(voting.chainHead(**caller)[0]) == head
        length = len(entries)
        with ape.reverts(voting.VotingNoSuchEntry, index=length, length=length):
            voting.chainEntry(length, **caller)
        assert tuple(voting.poolState(**caller)) == self.pool_state(now)
        by_index = sorted(model.active, key=lambda address: model.active[address].index)
        assert list(voting.workers(**caller)) == by_index
        for address, w in model.workers.items():
            info = voting.workerInfo(address, **caller)
            expected = (w.active, not w.active, w.index, w.joined_seq, w.left_seq, w.late)
            assert tuple(info) == (*expected, w.joined_index), address


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
