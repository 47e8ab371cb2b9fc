"""The random actions of the WorkerVoting stateful test (test_voting_stateful.py): each sends its
transactions and applies them to the model, with the helpers they share."""

import ape
from eth_utils import keccak
from hypothesis import strategies as st

from tests.contracts.voting_types import OPEN, Revert, Status

RESULTS = {name: keccak(text=f"result {name}") for name in "ABC"}
ACCOUNT = st.integers(0, 9)  # position in workers + [outsider]
ROUND = st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7])  # 0: the round most fit
RESULT = st.sampled_from(sorted(RESULTS))  # a name: drawn values print readably
PICK = st.integers(0, 63)
VIA_OPEN = st.sampled_from([True, True, False])  # openAndVote/openAndCommit, else vote/commit


class VotingActions:
    """Helpers and actions of `VotingMachine` (test_voting_stateful.py), which sets what they use:
    the contract and its model, the round targets, the accounts, the chain."""

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
