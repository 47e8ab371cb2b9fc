"""Per-worker counters: eligible, cast, in consensus, dissenting, late, missed."""

import ape
from eth_utils import keccak

A, B = keccak(text="root A"), keccak(text="root B")
MAX = 100


def round_id(i: int) -> bytes:
    return keccak(text=f"hour {i}")


def counters(stats) -> tuple:
    return (
        stats.eligible,
        stats.cast,
        stats.inConsensus,
        stats.dissenting,
        stats.late,
        stats.missed,
        stats.syncedIndex,
    )


def test_stats__count_settled_rounds(create_voting, chain):
    net = create_voting("2/3")
    voting, (w0, w1, w2) = net.voting, net.workers
    voting.vote(round_id(0), A, sender=w0)
    voting.vote(round_id(0), A, sender=w1)  # consensus
    voting.vote(round_id(0), B, sender=w2)  # late, dissenting
    voting.vote(round_id(1), A, sender=w1)
    voting.vote(round_id(1), A, sender=w2)  # w0 misses round 1
    assert counters(voting.workerStats(w0, MAX)) == (0, 0, 0, 0, 0, 0, 0)  # nothing settled yet
    chain.pending_timestamp = voting.roundState(round_id(1)).deadline + 1
    chain.mine()
    assert counters(voting.workerStats(w0, MAX)) == (2, 1, 1, 0, 0, 1, 2)
    assert counters(voting.workerStats(w1, MAX)) == (2, 2, 2, 0, 0, 0, 2)
    assert counters(voting.workerStats(w2, MAX)) == (2, 2, 1, 1, 1, 0, 2)
    synced = voting.syncStats(w2, MAX, sender=w0).return_value
    assert counters(synced) == (2, 2, 1, 1, 1, 0, 2)


def test_sync__stores_counters_bounded_by_max_rounds(create_voting, chain, outsider):
    net = create_voting("1/2")
    voting, worker = net.voting, net.workers[0]
    for i in range(3):
        voting.vote(round_id(i), A, sender=worker)
    chain.pending_timestamp = voting.roundState(round_id(2)).deadline + 1
    receipt = voting.syncStats(worker, 2, sender=outsider)
    assert receipt.events == [voting.StatsSynced(worker=worker, syncedIndex=2)]
    assert counters(voting.workerStats(worker, 0)) == (2, 2, 2, 0, 0, 0, 2)
    voting.syncStats(worker, MAX, sender=outsider)
    assert counters(voting.workerStats(worker, 0)) == (3, 3, 3, 0, 0, 0, 3)
    assert counters(voting.workerStats(net.workers[1], MAX)) == (3, 0, 0, 0, 0, 3, 3)


def test_sync__stops_at_first_unsettled_round(create_voting, chain):
    net = create_voting("1/2")
    voting, worker = net.voting, net.workers[0]
    voting.vote(round_id(0), A, sender=worker)
    chain.pending_timestamp = voting.roundState(round_id(0)).deadline + 1
    voting.vote(round_id(1), A, sender=worker)  # still within its late-vote window
    voting.syncStats(worker, MAX, sender=worker)
    assert voting.workerStats(worker, 0).syncedIndex == 1


def test_stats__failed_round_counts_votes_as_dissent(create_voting, chain):
    net = create_voting("3/3")
    voting, w = net.voting, net.workers
    for _attempt in (1, 2):
        voting.vote(round_id(0), A, sender=w[0])
        voting.vote(round_id(0), B, sender=w[1])
        voting.finalize(round_id(0), sender=w[2])  # 1 + 1 left < 3
    assert voting.roundState(round_id(0)).status == 7
    chain.pending_timestamp = voting.roundState(round_id(0)).deadline + 1
    chain.mine()
    assert counters(voting.workerStats(w[0], MAX))[:6] == (1, 1, 0, 1, 0, 0)
    assert counters(voting.workerStats(w[2], MAX))[:6] == (1, 0, 0, 0, 0, 1)


def test_stats__newcomer_and_removed_worker(create_voting, chain, owner, workers):
    net = create_voting("1/2")
    voting, (w0, w1) = net.voting, net.workers
    voting.vote(round_id(0), A, sender=w0)
    newcomer = workers[5]
    voting.addWorker(newcomer, sender=owner)
    voting.removeWorker(w1, sender=owner)
    voting.vote(round_id(1), A, sender=newcomer)
    chain.pending_timestamp = voting.roundState(round_id(1)).deadline + 1
    chain.mine()
    assert counters(voting.workerStats(newcomer, MAX)) == (1, 1, 1, 0, 0, 0, 2)
    assert counters(voting.workerStats(w1, MAX)) == (1, 0, 0, 0, 0, 1, 2)  # left after round 0
    voting.syncStats(w1, MAX, sender=owner)  # a retired worker's counters stay readable


def test_sync__unknown_account_reverts(create_voting, outsider):
    net = create_voting("1/1")
    with ape.reverts(net.voting.VotingNotWorker, account=outsider):
        net.voting.syncStats(outsider, MAX, sender=outsider)
