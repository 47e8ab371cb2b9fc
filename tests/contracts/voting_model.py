"""A plain Python model of the WorkerVoting rules, for the stateful test.

Every action either raises `Revert` (the contract must revert with that custom error) before it
changes anything, or applies its effects. Times are block timestamps.
"""

from dataclasses import dataclass, field, replace
from enum import IntEnum

from eth_abi import encode
from eth_utils import keccak

MAX_WORKERS = 64
VOTE_DURATION, REVEAL_DURATION = 3600, 1800
CHAIN_LINK_TYPES = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"]


class Status(IntEnum):
    NONE = 0
    VOTING = 1
    COMMITTING = 2
    REVEALING = 3
    CONSENSUS = 4
    PLURALITY = 5
    FAILOVER_RESOLVED = 6
    FAILED = 7
    AWAITING_FAILOVER = 8


RECORDED = (Status.CONSENSUS, Status.PLURALITY, Status.FAILOVER_RESOLVED)
OPEN = (Status.VOTING, Status.COMMITTING, Status.REVEALING)


class Fallback(IntEnum):
    ALERT = 0
    PLURALITY = 1
    FAILOVER = 2


class Revert(Exception):
    """The contract must revert with custom error `name` and these inputs."""

    def __init__(self, name: str, **inputs):
        super().__init__(f"{name}{inputs}")
        self.name = name
        self.inputs = inputs


@dataclass(frozen=True)
class Config:
    threshold: int
    sealed: bool
    fallback: Fallback
    plurality_min_votes: int
    speed_rank: int
    failover: str | None
    vote_duration: int = VOTE_DURATION

    @property
    def reveal_duration(self) -> int:
        return REVEAL_DURATION if self.sealed else 0


@dataclass
class Worker:
    index: int
    joined_seq: int  # rounds opened when it joined
    joined_index: int  # chain length when it joined
    active: bool = True
    left_seq: int = 0
    late: int = 0


NOBODY = Worker(index=0, joined_seq=0, joined_index=0, active=False)  # never in the pool


@dataclass
class Stats:
    eligible: int = 0
    cast: int = 0
    inConsensus: int = 0
    dissenting: int = 0
    late: int = 0
    missed: int = 0
    syncedIndex: int = 0


def mask(indices) -> int:
    return sum(1 << i for i in set(indices))


def chain_link(head: bytes, index: int, entry: tuple) -> bytes:
    """keccak256(abi.encode(head, uint32 index, votingId, result, attempt, votes, uint8 kind))."""
    return keccak(encode(CHAIN_LINK_TYPES, [head, index, *entry]))


@dataclass
class Round:
    voting_id: bytes
    seq: int
    threshold: int
    eligible: int
    speed_rank: int
    deadline: int
    status: Status
    attempt: int = 1
    votes: dict = field(default_factory=dict)  # pool index -> result (sealed mode: revealed)
    committed: set = field(default_factory=set)  # pool indices that committed in this attempt
    commitments: dict = field(default_factory=dict)  # worker -> (result, salt, attempt)
    early: int = 0
    leader: bytes | None = None
    leader_votes: int = 0
    tied: bool = False

    def tally(self, result: bytes) -> int:
        return sum(vote == result for vote in self.votes.values())

    def view(self, sealed: bool) -> dict:
        """The fields `roundState` reports."""
        return {
            "status": int(self.status),
            "attempt": self.attempt,
            "threshold": self.threshold,
            "eligibleCount": self.eligible,
            "leaderVotes": self.leader_votes,
            "tied": self.tied,
            "sealedMode": sealed and self.status != Status.NONE,
            "deadline": self.deadline,
            "seq": self.seq,
            "configVersion": 0,
            "voted": mask(self.votes),
            "early": self.early,
            "committed": mask(self.committed),
            "dissent": mask(i for i, vote in self.votes.items() if vote != self.leader),
            "result": self.leader if self.status in RECORDED else bytes(32),
        }


class VotingModel:
    """Pool, rounds, result chain and worker counters of one WorkerVoting contract."""

    def __init__(self, config: Config, genesis: bytes, chain_id: int, address: str):
        self.config, self.chain_id, self.address = config, chain_id, address
        self.workers: dict[str, Worker] = {}
        self.rounds: dict[bytes, Round] = {}
        self.round_log: list[bytes] = []
        self.chain: list[tuple] = []
        self.genesis = self.head = genesis
        self.recorded: dict[bytes, bytes] = {}
        self.stored: dict[str, Stats] = {}
        self.paused = False

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
        self.workers[address] = Worker(index, len(self.round_log), len(self.chain))

    def remove_worker(self, address: str) -> None:
        worker = self.workers.get(address)
        if not (worker and worker.active):
            raise Revert("VotingNotWorker", account=address)
        worker.active = False
        worker.left_seq = len(self.round_log)

    def set_paused(self, paused: bool) -> None:
        if self.paused == paused:
            raise Revert("VotingPauseUnchanged", paused=paused)
        self.paused = paused

    # -- votes -----------------------------------------------------------------------------------

    def round_view(self, voting_id: bytes) -> dict:
        """What `roundState` reports: zeros for a round that never opened."""
        r = self.rounds.get(voting_id)
        r = r or Round(voting_id, 0, 0, 0, 0, 0, Status.NONE, attempt=0)
        return r.view(self.config.sealed)

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

    def _enter(self, sender: str, voting_id: bytes, now: int) -> tuple[Round, Worker]:
        """Checks common to vote and commit; a round opened here is stored by `_store`."""
        if self.paused:
            raise Revert("VotingPaused")
        worker = self.workers.get(sender)
        if not (worker and worker.active):
            raise Revert("VotingNotWorker", account=sender)
        r = self.rounds.get(voting_id) or self._open(voting_id, now)
        if worker.joined_seq > r.seq:
            raise Revert("VotingNotEligible", votingId=voting_id, worker=sender)
        if worker.index in r.votes:
            raise Revert("VotingAlreadyVoted", votingId=voting_id, worker=sender)
        return r, worker

    def _open(self, voting_id: bytes, now: int) -> Round:
        c, eligible = self.config, len(self.active)
        threshold = c.threshold or eligible // 2 + 1
        if threshold > eligible:
            raise Revert("VotingThresholdUnreachable", threshold=threshold, eligible=eligible)
        status = Status.COMMITTING if c.sealed else Status.VOTING
        seq = len(self.round_log)
        deadline = now + c.vote_duration
        return Round(voting_id, seq, threshold, eligible, c.speed_rank, deadline, status)

    def _store(self, r: Round) -> None:
        if r.voting_id not in self.rounds:
            self.rounds[r.voting_id] = r
            self.round_log.append(r.voting_id)

    def vote(self, sender: str, voting_id: bytes, result: bytes, now: int) -> None:
        r, worker = self._enter(sender, voting_id, now)
        if r.status == Status.VOTING:
            if now > r.deadline:
                raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=r.deadline)
            self._store(r)
            if len(r.votes) < r.speed_rank:
                r.early |= 1 << worker.index
            self._count(r, worker.index, result)
        elif r.status == Status.CONSENSUS and not self.config.sealed:
            if now > r.deadline:
                raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=r.deadline)
            self._late(r, worker, result)
        elif r.status in (Status.COMMITTING, Status.REVEALING):
            raise Revert("VotingWrongMode", votingId=voting_id, sealedMode=True)
        else:
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(r.status))

    def commit(self, sender: str, voting_id: bytes, result: bytes, salt: bytes, now: int) -> None:
        r, worker = self._enter(sender, voting_id, now)
        if r.status != Status.COMMITTING:
            if r.status == Status.VOTING:
                raise Revert("VotingWrongMode", votingId=voting_id, sealedMode=False)
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(r.status))
        if now > r.deadline:
            raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=r.deadline)
        if worker.index in r.committed:
            raise Revert("VotingAlreadyVoted", votingId=voting_id, worker=sender)
        self._store(r)
        if len(r.committed) < r.speed_rank:
            r.early |= 1 << worker.index
        r.committed.add(worker.index)
        r.commitments[sender] = (result, salt, r.attempt)
        if len(r.committed) == r.eligible:
            r.status = Status.REVEALING
            r.deadline = now + self.config.reveal_duration

    def reveal(self, sender: str, voting_id: bytes, result: bytes, salt: bytes, now: int) -> None:
        if self.paused:
            raise Revert("VotingPaused")
        r = self.rounds.get(voting_id)
        status = r.status if r else Status.NONE
        if status == Status.COMMITTING:
            if now <= r.deadline:
                raise Revert("VotingRevealNotOpen", votingId=voting_id, opensAt=r.deadline + 1)
            deadline = r.deadline + self.config.reveal_duration
        elif status in (Status.REVEALING, Status.CONSENSUS):
            deadline = r.deadline
        else:
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(status))
        if now > deadline:
            raise Revert("VotingDeadlinePassed", votingId=voting_id, deadline=deadline)
        # NOTE: the contract answers NotCommitted (not NotWorker / NotEligible) for removed and
        # later-joined workers, and CommitmentMismatch when a later-joined worker holds the pool
        # index of a retired worker that committed.
        worker = self.workers.get(sender)
        if not (worker and worker.active and worker.index in r.committed):
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
            self._count(r, worker.index, result)

    def _count(self, r: Round, index: int, result: bytes) -> None:
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
        if r.leader_votes >= r.threshold:
            self._append(r, Status.CONSENSUS)

    def _late(self, r: Round, worker: Worker, result: bytes) -> None:
        r.votes[worker.index] = result
        worker.late += 1

    def _append(self, r: Round, kind: Status) -> None:
        """Settles the round: a recorded result, or a failure with a zero result."""
        assert all(entry[0] != r.voting_id for entry in self.chain), "a round settles once"
        result = bytes(32) if kind == Status.FAILED else r.leader
        entry = (r.voting_id, result, r.attempt, r.leader_votes, int(kind))
        self.head = chain_link(self.head, len(self.chain), entry)
        self.chain.append(entry)
        if kind != Status.FAILED:
            self.recorded[r.voting_id] = r.leader
        r.status = kind

    # -- no consensus ----------------------------------------------------------------------------

    def failed(self, r: Round, now: int) -> bool:
        """Whether the current attempt can no longer reach the threshold."""
        if r.status == Status.VOTING:
            deadline, possible = r.deadline, r.eligible - len(r.votes)
        else:
            committing = r.status == Status.COMMITTING
            deadline = r.deadline + (self.config.reveal_duration if committing else 0)
            commits_open = committing and now <= r.deadline
            possible = (r.eligible if commits_open else len(r.committed)) - len(r.votes)
        return now > deadline or r.leader_votes + possible < r.threshold

    def finalize(self, voting_id: bytes, now: int) -> None:
        r, c = self.rounds.get(voting_id), self.config
        status = r.status if r else Status.NONE
        if status not in OPEN:
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(status))
        if not self.failed(r, now):
            raise Revert("VotingNothingToFinalize", votingId=voting_id)
        if r.attempt == 1:
            r.attempt, r.votes, r.committed, r.early = 2, {}, set(), 0
            r.leader, r.leader_votes, r.tied = None, 0, False
            r.status = Status.COMMITTING if c.sealed else Status.VOTING
            r.deadline = now + c.vote_duration
        elif c.fallback == Fallback.FAILOVER:
            r.status = Status.AWAITING_FAILOVER
        elif (
            c.fallback == Fallback.PLURALITY
            and not r.tied
            and r.leader_votes >= c.plurality_min_votes
        ):
            self._append(r, Status.PLURALITY)
        else:
            self._append(r, Status.FAILED)

    def resolve(self, sender: str, voting_id: bytes, result: bytes) -> None:
        r = self.rounds.get(voting_id)
        status = r.status if r else Status.NONE
        if status != Status.AWAITING_FAILOVER:
            raise Revert("VotingWrongStatus", votingId=voting_id, status=int(status))
        if sender != self.config.failover:
            raise Revert("VotingNotFailover", account=sender)
        if result != r.leader:
            r.leader, r.leader_votes = result, r.tally(result)
        self._append(r, Status.FAILOVER_RESOLVED)

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

    # -- worker counters -------------------------------------------------------------------------

    def _accumulate(self, worker: Worker, stats: Stats, now: int) -> Stats:
        """Adds the chain entries from the worker's cursor on, up to a round in its late window."""
        s = replace(stats)
        index = max(s.syncedIndex, worker.joined_index)
        while index < len(self.chain):
            r = self.rounds[self.chain[index][0]]
            if r.status == Status.CONSENSUS and now <= r.deadline:
                break
            index += 1
            if r.seq < worker.joined_seq or (not worker.active and r.seq >= worker.left_seq):
                continue
            s.eligible += 1
            vote = r.votes.get(worker.index)
            if vote is None:
                s.missed += 1
            elif r.status in RECORDED and vote == r.leader:
                s.cast += 1
                s.inConsensus += 1
            else:
                s.cast += 1
                s.dissenting += 1
        s.syncedIndex = index
        return s

    def sync_stats(self, address: str, now: int) -> None:
        worker = self.workers.get(address)
        if worker is None:
            raise Revert("VotingNotWorker", account=address)
        self.stored[address] = self._accumulate(worker, self.stored.get(address, Stats()), now)

    def worker_stats(self, address: str, now: int) -> Stats:
        """What the `workerStats` view reports at time `now`."""
        worker = self.workers.get(address, NOBODY)
        stats = self._accumulate(worker, self.stored.get(address, Stats()), now)
        stats.late = worker.late
        return stats
