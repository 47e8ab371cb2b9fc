"""A plain Python model of the WorkerVoting rules, for the stateful test.

Every action either raises `Revert` (the contract must revert with that custom error) before it
changes anything, or applies its effects. `now` is the block time of the transaction. Like the
contract, the model keeps the deadlines of running phases on the round clock (block time minus
the time spent paused; it stands still while paused) and a Consensus round's deadline (the end
of its late votes) in block time; `deadline` 0 is attempt 1 waiting for its quorum.
"""

from eth_abi import encode
from eth_utils import keccak

from tests.contracts.voting_types import (
    MAX_WORKERS,
    OPEN,
    RECORDED,
    ZERO,
    Config,
    Fallback,
    Revert,
    Round,
    Status,
    Worker,
    chain_link,
    descriptor_id,
    mask,
)


class VotingModel:
    """Pool, pause clock, rounds and result chain of one WorkerVoting contract."""

    def __init__(self, config: Config, genesis: bytes, chain_id: int, address: str, epochs: tuple):
        self.config, self.chain_id, self.address = config, chain_id, address
        self.epoch_start, self.epoch_length = epochs  # the contract's epochs: start, length
        self.now = self.epoch_start  # block time of the action being modelled (set by the test)
        self.workers: dict[str, Worker] = {}
        self.rounds: dict[bytes, Round] = {}
        self.round_log: list[bytes] = []
        self.chain: list[tuple] = []
        self.epochs: list[int] = []  # epoch (by block time) of each chain entry
        self.genesis = self.head = genesis
        self.recorded: dict[bytes, bytes] = {}
        self.paused, self.paused_at, self.paused_total = False, 0, 0
        self.generation = 0  # +1 per addition and removal: a round opening now gets it as seq

    # -- clock -----------------------------------------------------------------------------------

    def clock(self, now: int) -> int:
        """The round clock at block time `now`: it stands still while paused."""
        return (self.paused_at if self.paused else now) - self.paused_total

    def block_time(self, at: int, now: int) -> int:
        """Block time at which the round clock reads `at` (while paused: as if unpaused now)."""
        if at == 0:
            return 0
        return at + self.paused_total + (now - self.paused_at if self.paused else 0)

    def paused_for(self, now: int) -> int:
        return now - self.clock(now)

    def set_paused(self, paused: bool, now: int) -> None:
        if self.paused == paused:
            raise Revert("VotingPauseUnchanged", paused=paused)
        if paused:
            self.paused_at = now
        else:
            self.paused_total += now - self.paused_at
        self.paused = paused

    # -- pool ------------------------------------------------------------------------------------

    @property
    def active(self) -> dict[str, Worker]:
        return {address: w for address, w in self.workers.items() if w.active}

    def add_worker(self, address: str) -> None:
        worker = self.workers.get(address)
        if worker and worker.active:
            raise Revert("VotingWorkerExists", worker=address)
        if worker:
            raise Revert("VotingWorkerRetired", worker=address)
        if len(self.active) >= MAX_WORKERS:
            raise Revert("VotingPoolFull", max=MAX_WORKERS)
        taken = {w.index for w in self.active.values()}
        index = min(i for i in range(MAX_WORKERS) if i not in taken)
        self.generation += 1
        self.workers[address] = Worker(index, self.generation, len(self.chain))

    def remove_worker(self, address: str) -> None:
        worker = self.workers.get(address)
        if not (worker and worker.active):
            raise Revert("VotingNotWorker", account=address)
        worker.active = False
        self.generation += 1
        worker.left_seq = self.generation

    # -- views -----------------------------------------------------------------------------------

    def round_view(self, voting_id: bytes, now: int) -> dict:
        """What `roundState` reports at (head block) time `now`: zeros for an unopened round."""
        r = self.rounds.get(voting_id)
        if r is None:
            r = Round(voting_id, 0, 0, 0, 0, Status.NONE, attempt=0)
        if r.status == Status.CONSENSUS:
            deadline = r.deadline  # block time: the end of late votes
        elif r.status in (Status.PLURALITY, Status.FAILOVER_RESOLVED, Status.FAILED):
            deadline = 0  # settled: no deadline applies
        else:
            deadline = self.block_time(r.deadline, now)
        return {
            "status": int(r.status),
            "attempt": r.attempt,
            "threshold": r.threshold,
            "eligibleCount": r.eligible,
            "leaderVotes": r.leader_votes,
            "tied": r.tied,
            "sealedMode": self.config.sealed and r.status != Status.NONE,
            "deadline": deadline,
            "seq": r.seq,
            "configVersion": 0,
            "voted": mask(r.votes),
            "early": r.early,
            "committed": mask(r.committed),
            "dissent": mask(i for i, vote in r.votes.items() if vote != r.leader),
            "result": r.leader if r.status in RECORDED else ZERO,
        }

    def settled_round(self, index: int) -> dict:
        """What `settledRound(index)` reports for chain entry `index`."""
        r = self.rounds[self.chain[index][0]]
        recorded = r.status != Status.FAILED
        agreed = [i for i, vote in r.votes.items() if recorded and vote == r.leader]
        return {
            "votingId": r.voting_id,
            "kind": int(r.status),
            "seq": r.seq,
            "lateUntil": r.deadline if r.status == Status.CONSENSUS else 0,
            "voted": mask(r.votes),
            "early": r.early,
            "agreed": mask(agreed),
        }

    def epoch_entries(self, epoch: int) -> tuple[int, int]:
        """What `epochEntries(epoch)` reports: the chain entries appended during the epoch."""
        indices = [i for i, e in enumerate(self.epochs) if e == epoch]
        return (indices[0], indices[-1] + 1) if indices else (0, 0)

    # -- votes -----------------------------------------------------------------------------------

    def may_cast(self, address: str, voting_id: bytes) -> bool:
        """Whether an active worker may still vote (sealed mode: commit) in this attempt."""
        worker, r = self.active.get(address), self.rounds.get(voting_id)
        if worker is None or r is None:
            return worker is not None
        done = r.committed if self.config.sealed else r.votes
        return worker.joined_seq <= r.seq and worker.index not in done

    def commitment(self, result: bytes, salt: bytes, worker: str, voting_id: bytes, attempt: int):
        """keccak256(abi.encode(result, salt, worker, votingId, attempt, chainid, contract))."""
        types = ["bytes32", "bytes32", "address", "bytes32", "uint8", "uint256", "address"]
        values = [result, salt, worker, voting_id, attempt, self.chain_id, self.address]
        return keccak(encode(types, values))

    def attempt_of(self, voting_id: bytes) -> int:
        return self.rounds[voting_id].attempt if voting_id in self.rounds else 1

    def describe(self, descriptor: tuple, now: int) -> bytes:
        """`openAndVote` / `openAndCommit`: the descriptor of a round not open yet is checked."""
        voting_id = descriptor_id(descriptor)
        if voting_id in self.rounds:
            return voting_id
        schedule, start, end, key, encoding = descriptor
        if schedule == ZERO or encoding == ZERO:
            raise Revert("VotingInvalidDescriptor", votingId=voting_id)
        if key == ZERO:
            if end <= start:
                raise Revert("VotingInvalidDescriptor", votingId=voting_id)
            if end > now:
                raise Revert("VotingWindowNotEnded", votingId=voting_id, windowEnd=end)
        elif start != 0 or end != 0:
            raise Revert("VotingInvalidDescriptor", votingId=voting_id)
        return voting_id

    def _enter(self, sender: str, voting_id: bytes, value: bytes, may_open: bool):
        """Checks common to vote and commit; a round opened here is stored by `_store`."""
        if value == ZERO:
            raise Revert("VotingZeroResult")
        worker = self.workers.get(sender)
        if not (worker and worker.active):
            raise Revert("VotingNotWorker", account=sender)
        r = self.rounds.get(voting_id)
        if self.paused and not (r and r.status == Status.CONSENSUS):
            raise Revert("VotingPaused")  # a pause stops rounds, not late votes
        if r is None:
            if not may_open:
                raise Revert("VotingUnknownRound", votingId=voting_id)
            r = self._open(voting_id)
        if worker.joined_seq > r.seq:
            raise Revert("VotingNotEligible", votingId=voting_id, worker=sender)
        if worker.index in r.votes:
            raise Revert("VotingAlreadyVoted", votingId=voting_id, worker=sender)
        return r, worker

    def _open(self, voting_id: bytes) -> Round:
        c, eligible = self.config, len(self.active)
        threshold = c.threshold or eligible // 2 + 1
        if threshold > eligible:
            raise Revert("VotingThresholdUnreachable", threshold=threshold, eligible=eligible)
        status = Status.COMMITTING if c.sealed else Status.VOTING
        return Round(voting_id, self.generation, threshold, eligible, c.speed_rank, status)

    def _store(self, r: Round) -> None:
        if r.voting_id not in self.rounds:
            self.rounds[r.voting_id] = r
            self.round_log.append(r.voting_id)

    def vote(self, sender: str, target, result: bytes, now: int) -> None:
        """`openAndVote(descriptor)` when `target` is a descriptor, else `vote(votingId)`."""
        voting_id, may_open = self._target(target, now)
        r, worker = self._enter(sender, voting_id, result, may_open)
        clock = self.clock(now)
        if r.status == Status.VOTING:
            if r.deadline and clock > r.deadline:
                deadline = self.block_time(r.deadline, now)
                raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=deadline)
            self._store(r)
            if len(r.votes) < r.speed_rank:
                r.early |= 1 << worker.index
            self._count(r, worker.index, result, clock)
        elif r.status == Status.CONSENSUS and not self.config.sealed:
            if now > r.deadline:
                raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=r.deadline)
            self._late(r, worker, result)
        elif r.status in (Status.COMMITTING, Status.REVEALING):
            raise Revert("VotingWrongMode", votingId=voting_id, sealedMode=True)
        else:
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(r.status))

    def _target(self, target, now: int) -> tuple[bytes, bool]:
        if isinstance(target, tuple):
            return self.describe(target, now), True
        return target, False

    def commit(self, sender: str, target, result: bytes, salt: bytes, now: int) -> None:
        """`openAndCommit(descriptor)` when `target` is a descriptor, else `commit(votingId)`;
        the commitment is the one for `result` and `salt`."""
        voting_id, may_open = self._target(target, now)
        attempt = self.attempt_of(voting_id)
        value = self.commitment(result, salt, sender, voting_id, attempt)
        r, worker = self._enter(sender, voting_id, value, may_open)
        if r.status != Status.COMMITTING:
            if r.status == Status.VOTING:
                raise Revert("VotingWrongMode", votingId=voting_id, sealedMode=False)
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(r.status))
        clock = self.clock(now)
        if r.deadline and clock > r.deadline:
            deadline = self.block_time(r.deadline, now)
            raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=deadline)
        if worker.index in r.committed:
            raise Revert("VotingAlreadyVoted", votingId=voting_id, worker=sender)
        self._store(r)
        if r.attempt == 1 and len(r.committed) < r.speed_rank:
            r.early |= 1 << worker.index
        r.committed.add(worker.index)
        r.commitments[sender] = (result, salt, r.attempt)
        starts = r.deadline == 0
        if len(r.committed) == r.eligible:
            r.status, r.deadline = Status.REVEALING, clock + self.config.reveal_duration
        elif starts and len(r.committed) >= r.threshold:
            r.deadline = clock + self.config.vote_duration
        if starts and r.deadline:
            r.quorum = True

    def reveal(self, sender: str, voting_id: bytes, result: bytes, salt: bytes, now: int) -> None:
        if result == ZERO:
            raise Revert("VotingZeroResult")
        r = self.rounds.get(voting_id)
        status = r.status if r else Status.NONE
        if self.paused and status != Status.CONSENSUS:
            raise Revert("VotingPaused")
        clock = self.clock(now)
        if status == Status.CONSENSUS:
            if now > r.deadline:
                raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=r.deadline)
            deadline = r.deadline
        else:
            if status == Status.COMMITTING:
                if r.deadline == 0:
                    raise Revert("VotingRevealNotOpen", votingId=voting_id, opensAt=0)
                if clock <= r.deadline:
                    opens = self.block_time(r.deadline, now) + 1
                    raise Revert("VotingRevealNotOpen", votingId=voting_id, opensAt=opens)
                deadline = r.deadline + self.config.reveal_duration
            elif status == Status.REVEALING:
                deadline = r.deadline
            else:
                raise Revert("VotingWrongStatus", votingId=voting_id, status=int(status))
            if clock > deadline:
                passed = self.block_time(deadline, now)
                raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=passed)
        worker = self.workers.get(sender)
        if not (worker and worker.active):
            raise Revert("VotingNotWorker", account=sender)
        if worker.joined_seq > r.seq:
            raise Revert("VotingNotEligible", votingId=voting_id, worker=sender)
        if worker.index not in r.committed:
            raise Revert("VotingNotCommitted", votingId=voting_id, worker=sender)
        if worker.index in r.votes:
            raise Revert("VotingAlreadyVoted", votingId=voting_id, worker=sender)
        if r.commitments.get(sender) != (result, salt, r.attempt):
            raise Revert("VotingCommitmentMismatch", votingId=voting_id, worker=sender)
        del r.commitments[sender]
        if status == Status.CONSENSUS:
            self._late(r, worker, result)
        else:
            r.status, r.deadline = Status.REVEALING, deadline
            self._count(r, worker.index, result, clock)

    def _count(self, r: Round, index: int, result: bytes, clock: int) -> None:
        r.votes[index] = result
        votes = r.tally(result)
        if r.leader is None:
            r.leader, r.leader_votes = result, 1
        elif result == r.leader:
            r.leader_votes, r.tied = votes, False
        elif votes > r.leader_votes:
            r.leader, r.leader_votes, r.tied = result, votes, False
        else:
            r.tied = r.tied or votes == r.leader_votes
        if r.deadline == 0 and len(r.votes) >= r.threshold:
            r.deadline, r.quorum = clock + self.config.vote_duration, True
        if r.leader_votes >= r.threshold:
            r.deadline += self.paused_total  # from here on: the end of late votes, block time
            self._append(r, Status.CONSENSUS)

    def _late(self, r: Round, worker: Worker, result: bytes) -> None:
        r.votes[worker.index] = result
        worker.late += 1

    def _append(self, r: Round, kind: Status) -> None:
        """Settles the round: a recorded result, or a failure with a zero result."""
        assert all(entry[0] != r.voting_id for entry in self.chain), "a round settles once"
        assert r.quorum, "only a round that reached its quorum is chained"
        result = ZERO if kind == Status.FAILED else r.leader
        entry = (r.voting_id, result, r.attempt, r.leader_votes, int(kind))
        self.head = chain_link(self.head, len(self.chain), entry)
        self.chain.append(entry)
        self.epochs.append((self.now - self.epoch_start) // self.epoch_length)
        if kind != Status.FAILED:
            self.recorded[r.voting_id] = r.leader
        r.status = kind

    # -- no consensus ----------------------------------------------------------------------------

    def failed(self, r: Round, clock: int) -> bool:
        """Whether the current attempt can no longer reach the threshold."""
        if r.deadline == 0:
            return False  # attempt 1 before its quorum has no clock
        deadline = r.deadline
        if r.status == Status.VOTING:
            possible = r.eligible - len(r.votes)
        else:
            committing = r.status == Status.COMMITTING
            if committing and clock > deadline:
                deadline += self.config.reveal_duration
            commits_open = committing and clock <= r.deadline
            possible = (r.eligible if commits_open else len(r.committed)) - len(r.votes)
        if r.attempt == 2 and self.config.fallback == Fallback.PLURALITY:
            # Votes still to come could tie or overtake the leader: wait for all or the deadline.
            return clock > deadline or possible == 0
        return clock > deadline or r.leader_votes + possible < r.threshold

    def finalize(self, voting_id: bytes, now: int) -> None:
        r, c, clock = self.rounds.get(voting_id), self.config, self.clock(now)
        status = r.status if r else Status.NONE
        if status == Status.AWAITING_FAILOVER:
            if clock <= r.deadline:
                raise Revert("VotingNothingToFinalize", votingId=voting_id)
            self._append(r, Status.FAILED)
            return
        if status not in OPEN:
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(status))
        if not self.failed(r, clock):
            raise Revert("VotingNothingToFinalize", votingId=voting_id)
        if r.attempt == 1:
            r.attempt, r.votes, r.committed = 2, {}, set()
            r.early = 0  # attempt 2 ranks no speed in sealed mode (attempt 1's reveals are out)
            r.leader, r.leader_votes, r.tied = None, 0, False
            r.status = Status.COMMITTING if c.sealed else Status.VOTING
            r.deadline = clock + c.vote_duration
        elif c.fallback == Fallback.FAILOVER:
            r.status, r.deadline = Status.AWAITING_FAILOVER, clock + c.failover_timeout
        elif (
            c.fallback == Fallback.PLURALITY
            and not r.tied
            and r.leader_votes >= c.plurality_min_votes
            and len(r.votes) >= r.threshold
        ):
            self._append(r, Status.PLURALITY)
        else:
            self._append(r, Status.FAILED)

    def resolve(self, sender: str, voting_id: bytes, result: bytes, now: int) -> None:
        if result == ZERO:
            raise Revert("VotingZeroResult")
        r = self.rounds.get(voting_id)
        status = r.status if r else Status.NONE
        if status != Status.AWAITING_FAILOVER:
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(status))
        if self.clock(now) > r.deadline:
            deadline = self.block_time(r.deadline, now)
            raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=deadline)
        if sender != self.config.failover:
            raise Revert("VotingNotFailover", account=sender)
        if result != r.leader:
            r.leader, r.leader_votes = result, r.tally(result)
        self._append(r, Status.FAILOVER_RESOLVED)
