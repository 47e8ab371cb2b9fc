"""Per-worker counters (eligible, cast, in consensus, dissenting, late, missed), computed off chain
from `settledRounds` and `workerInfo` by the rules the contract documents.

The contract keeps no counters of its own but `late`; `count` below is the reference reading of
its views: a chain entry concerns a worker iff the entry is not below its `joinedIndex` and
joinedSeq <= seq and (active or seq < leftSeq); a Consensus entry whose late votes are still open
(lateUntil >= now) is not final, and counting stops before it.
"""

from dataclasses import dataclass

import pytest
from eth_utils import keccak

from tests.conftest import descriptor_id, event_descriptor

A, B, C = (keccak(text=f"root {x}") for x in "ABC")
CONSENSUS, FAILED = 4, 7


@dataclass
class Counters:
    eligible: int = 0
    cast: int = 0
    in_consensus: int = 0
    dissenting: int = 0
    late: int = 0
    missed: int = 0
    cursor: int = 0  # chain index where counting stopped (resume from here)

    def as_tuple(self) -> tuple:
        return (self.eligible, self.cast, self.in_consensus, self.dissenting, self.late,
                self.missed, self.cursor)  # fmt: skip


def count(voting, worker, now: int, start: int = 0, limit: int | None = None) -> Counters:
    """Counters of `worker` over chain entries [start, start + limit) that are final at `now`."""
    info = voting.workerInfo(worker)
    if not (info.active or info.retired):
        raise LookupError(f"{worker} was never in the pool")
    length = voting.chainHead()[1]
    first = max(start, info.joinedIndex)
    end = length if limit is None else min(length, start + limit)
    settled = voting.settledRounds(first, max(end - first, 0)) if first < end else []
    counters, bit = Counters(late=info.late, cursor=max(first, start)), 1 << info.index
    for r in settled:
        if r.kind == CONSENSUS and r.lateUntil >= now:
            break  # late votes still open: not final yet
        counters.cursor += 1
        if r.seq < info.joinedSeq or (not info.active and r.seq >= info.leftSeq):
            continue
        counters.eligible += 1
        if not r.voted & bit:
            counters.missed += 1
        elif r.agreed & bit:
            counters.cast += 1
            counters.in_consensus += 1
        else:
            counters.cast += 1
            counters.dissenting += 1
    return counters


def descriptor(i: int) -> tuple:
    return event_descriptor(f"hour {i}")


def round_id(i: int) -> bytes:
    return descriptor_id(descriptor(i))


def head_time(chain) -> int:
    """Views run at the head block: mine one so that its time is the pending time."""
    chain.mine()
    return chain.blocks.head.timestamp


def test_count__settled_rounds(create_voting, chain):
    net = create_voting("2/3")
    voting, (w0, w1, w2) = net.voting, net.workers
    voting.openAndVote(descriptor(0), A, sender=w0)
    voting.vote(round_id(0), A, sender=w1)  # consensus
    voting.vote(round_id(0), B, sender=w2)  # late, dissenting
    voting.openAndVote(descriptor(1), A, sender=w1)
    voting.vote(round_id(1), A, sender=w2)  # w0 misses round 1
    now = head_time(chain)
    assert count(voting, w0, now).as_tuple() == (0, 0, 0, 0, 0, 0, 0)  # nothing final yet
    chain.pending_timestamp = voting.roundState(round_id(1)).deadline + 1
    now = head_time(chain)
    assert count(voting, w0, now).as_tuple() == (2, 1, 1, 0, 0, 1, 2)
    assert count(voting, w1, now).as_tuple() == (2, 2, 2, 0, 0, 0, 2)
    assert count(voting, w2, now).as_tuple() == (2, 2, 1, 1, 1, 0, 2)


def test_count__resumes_from_its_cursor(create_voting, chain):
    net = create_voting("1/2")
    voting, worker = net.voting, net.workers[0]
    for i in range(3):
        voting.openAndVote(descriptor(i), A, sender=worker)
    chain.pending_timestamp = voting.roundState(round_id(2)).deadline + 1
    now = head_time(chain)
    part = count(voting, worker, now, limit=2)
    assert part.as_tuple() == (2, 2, 2, 0, 0, 0, 2)
    rest = count(voting, worker, now, start=part.cursor)
    assert rest.as_tuple() == (1, 1, 1, 0, 0, 0, 3)
    assert count(voting, worker, now).as_tuple() == (3, 3, 3, 0, 0, 0, 3)
    assert count(voting, net.workers[1], now).as_tuple() == (3, 0, 0, 0, 0, 3, 3)


def test_count__stops_at_first_round_with_open_late_votes(create_voting, chain):
    net = create_voting("1/2")
    voting, worker = net.voting, net.workers[0]
    voting.openAndVote(descriptor(0), A, sender=worker)
    late_until = voting.roundState(round_id(0)).deadline
    chain.pending_timestamp = late_until
    now = head_time(chain)
    assert count(voting, worker, now).cursor == 0  # lateUntil >= now: not final
    voting.openAndVote(descriptor(1), A, sender=worker)  # still within its late-vote window
    now = head_time(chain)
    assert now == late_until + 2
    assert count(voting, worker, now).as_tuple() == (1, 1, 1, 0, 0, 0, 1)


def test_count__failed_round_counts_votes_as_dissent(create_voting):
    net = create_voting("3/3")
    voting, w = net.voting, net.workers
    for worker, result in zip(w, [A, B, C]):  # the quorum; best 1 + 0 left < 3
        voting.openAndVote(descriptor(0), result, sender=worker)
    voting.finalize(round_id(0), sender=w[2])
    voting.vote(round_id(0), A, sender=w[0])
    voting.vote(round_id(0), B, sender=w[1])
    voting.finalize(round_id(0), sender=w[2])  # 1 + 1 left < 3
    assert voting.roundState(round_id(0)).status == FAILED
    now = voting.settledRound(0).lateUntil + 1  # 0: a failed round is final at once
    assert count(voting, w[0], now).as_tuple()[:6] == (1, 1, 0, 1, 0, 0)
    assert count(voting, w[2], now).as_tuple()[:6] == (1, 0, 0, 0, 0, 1)


def test_count__newcomer_and_removed_worker(create_voting, chain, owner, workers):
    net = create_voting("1/2")
    voting, (w0, w1) = net.voting, net.workers
    voting.openAndVote(descriptor(0), A, sender=w0)
    newcomer = workers[5]
    voting.addWorker(newcomer, sender=owner)
    voting.removeWorker(w1, sender=owner)
    voting.openAndVote(descriptor(1), A, sender=newcomer)
    chain.pending_timestamp = voting.roundState(round_id(1)).deadline + 1
    now = head_time(chain)
    assert count(voting, newcomer, now).as_tuple() == (1, 1, 1, 0, 0, 0, 2)
    assert count(voting, w1, now).as_tuple() == (1, 0, 0, 0, 0, 1, 2)  # left after round 0


def test_count__newcomer_on_a_reused_index_skips_earlier_rounds(create_voting, chain, owner,
                                                                workers):  # fmt: skip
    net = create_voting("1/2")
    voting, (w0, w1) = net.voting, net.workers
    voting.openAndVote(descriptor(0), A, sender=w1)  # settled before the newcomer joined
    voting.openAndVote(descriptor(1), A, sender=w0)  # open (late votes) when it joined
    voting.removeWorker(w1, sender=owner)
    newcomer = workers[5]
    voting.addWorker(newcomer, sender=owner)
    info = voting.workerInfo(newcomer)
    assert (info.index, info.joinedSeq, info.joinedIndex) == (1, 4, 2)  # w1's index
    voting.openAndVote(descriptor(2), B, sender=newcomer)
    chain.pending_timestamp = voting.roundState(round_id(2)).deadline + 1
    now = head_time(chain)
    assert count(voting, newcomer, now).as_tuple() == (1, 1, 1, 0, 0, 0, 3)
    assert count(voting, w1, now).as_tuple() == (2, 1, 1, 0, 0, 1, 3)


def test_count__round_below_quorum_counts_for_nobody(create_voting, chain):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    voting.openAndVote(descriptor(0), A, sender=w[0])  # a lone worker's round: never chained
    voting.openAndVote(descriptor(1), A, sender=w[1])
    voting.vote(round_id(1), A, sender=w[2])
    chain.pending_timestamp = voting.roundState(round_id(1)).deadline + 1
    now = head_time(chain)
    assert voting.chainHead()[1] == 1
    assert count(voting, w[0], now).as_tuple() == (1, 0, 0, 0, 0, 1, 1)
    assert count(voting, w[1], now).as_tuple() == (1, 1, 1, 0, 0, 0, 1)


def test_count__unknown_account_refused(create_voting, outsider):
    net = create_voting("1/1")
    with pytest.raises(LookupError):
        count(net.voting, outsider, 0)
