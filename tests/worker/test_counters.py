"""worker.counters: a worker's round counters from settled rounds and its membership."""

from types import SimpleNamespace

import pytest

from worker.counters import Counters, count, worker_counters

NOW = 1_000_000
CONSENSUS, PLURALITY, FAILED = 4, 5, 7
ME = 1 << 2  # pool index 2


def entry(seq, kind=CONSENSUS, voted=0, agreed=0, late_until=0):
    return SimpleNamespace(seq=seq, kind=kind, voted=voted, agreed=agreed, lateUntil=late_until)


def member(joined=0, left=0, active=True, late=0, joined_index=0):
    return SimpleNamespace(index=2, joinedSeq=joined, leftSeq=left, active=active,
                           retired=not active, late=late, joinedIndex=joined_index)  # fmt: skip


def test_count__each_rule():
    entries = [
        entry(0, voted=ME, agreed=ME),  # in consensus
        entry(1, voted=ME | 1, agreed=1),  # dissenting
        entry(2, kind=FAILED, voted=ME),  # a vote in a failed round: dissenting
        entry(3, kind=PLURALITY, voted=1, agreed=1),  # missed
        entry(4, voted=ME, agreed=ME, late_until=NOW),  # still taking late votes: pending
        entry(5, voted=ME, agreed=ME, late_until=NOW - 1),  # late votes over: counted
    ]
    assert count(entries, member(late=3), NOW) == Counters(
        eligible=5, cast=4, inConsensus=2, dissenting=2, late=3, missed=1, pending=1,
        counted_to=6,
    )  # fmt: skip


def test_count__membership_bounds_eligibility():
    entries = [entry(seq, voted=0) for seq in range(6)]
    joined_late = count(entries, member(joined=2), NOW)
    assert (joined_late.eligible, joined_late.missed) == (4, 4)
    removed = count(entries, member(joined=1, left=4, active=False), NOW)
    assert (removed.eligible, removed.missed) == (3, 3)  # seqs 1, 2, 3
    assert count(entries, member(joined=1, left=4, active=True), NOW).eligible == 5


class FakeVoting:
    """`settledRounds` pages over a list of entries; records each call."""

    def __init__(self, entries, info):
        self.entries, self.info, self.calls = entries, info, []

    def workerInfo(self, address):
        return self.info

    def chainHead(self):
        return b"", len(self.entries)

    def settledRounds(self, start, size):
        self.calls.append((start, size))
        return self.entries[start : start + size]


@pytest.mark.parametrize(("joined_index", "pages"), [(0, [(0, 4), (4, 4), (8, 2)]), (7, [(7, 3)])])
def test_worker_counters__pages_from_joined_index(joined_index, pages):
    entries = [entry(seq, voted=ME, agreed=ME) for seq in range(10)]
    voting = FakeVoting(entries, member(joined_index=joined_index))
    counters = worker_counters(voting, "0xworker", NOW, page=4)
    assert voting.calls == pages  # entries below joinedIndex are never read
    assert (counters.eligible, counters.inConsensus, counters.counted_to) == (
        10 - joined_index, 10 - joined_index, 10)  # fmt: skip


def test_worker_counters__never_a_member_reads_nothing():
    voting = FakeVoting([entry(0, voted=ME)], SimpleNamespace(active=False, retired=False,
                                                              joinedIndex=0))  # fmt: skip
    assert worker_counters(voting, "0xstranger", NOW) == Counters(counted_to=1)
    assert voting.calls == []


def test_format_status__pending_rounds_and_next_claim_are_said():
    from worker.status_text import format_status, when

    counters = Counters(eligible=2, cast=1, inConsensus=1, missed=1, late=4, pending=3).to_dict()
    status = {
        "address": "0xw", "chain_id": 246, "balance": 0, "time": NOW, "chain_length": 5,
        "contracts": {"WorkerVoting": "0xv", "WorkerRewards": "0xr"},
        "enrolment": {"active": True, "retired": False, "index": 2, "joinedSeq": 1},
        "counters": counters, "epochs": [],
        "epoch": {"current": 4, "ends": NOW + 10, "next_claim": {"epoch": 3, "opens": NOW + 60}},
    }  # fmt: skip
    text = format_status(status)
    assert "Final rounds: 2 eligible, 1 voted (1 in consensus, 0 dissenting), 1 missed\n" in text
    # NOTE: late votes are counted when cast, pending rounds included: apart from the rounds.
    assert "Late votes cast (all rounds, as counted when cast): 4" in text
    assert "3 more settled, still taking late votes: counted once their late votes close" in text
    assert f"Next claim opens {when(NOW + 60)} (epoch 3)" in text
    counters["pending"] = 0
    assert "still taking late votes" not in format_status(status)
