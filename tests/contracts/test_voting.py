"""Rounds in open mode: opening, thresholds, consensus, late votes, the result chain."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

VOTING_ID = keccak(text="matching:2026-11-23T10:00Z/PT1H")
RESULT = keccak(text="root A")
OTHER = keccak(text="root B")
THIRD = keccak(text="root C")

VOTING, CONSENSUS = 1, 4


def chain_link(head: bytes, index: int, voting_id: bytes, result: bytes, attempt, votes, kind):
    """head' = keccak256(abi.encode(head, index, votingId, result, attempt, votes, kind))."""
    types = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"]
    return keccak(encode(types, [head, index, voting_id, result, attempt, votes, kind]))


@pytest.mark.parametrize("threshold", ["1/1", "2/3", "3/5", "4/7", "33/64"])
def test_vote__consensus_at_threshold(create_voting, threshold):
    net = create_voting(threshold)
    voting, m = net.voting, net.threshold
    for worker in net.workers[: m - 1]:
        voting.vote(VOTING_ID, RESULT, sender=worker)
        assert voting.resultOf(VOTING_ID) == b"\x00" * 32
    receipt = voting.vote(VOTING_ID, RESULT, sender=net.workers[m - 1])
    head = chain_link(voting.genesis(), 0, VOTING_ID, RESULT, 1, m, CONSENSUS)
    assert receipt.events[-1] == voting.ResultRecorded(
        votingId=VOTING_ID,
        result=RESULT,
        kind=CONSENSUS,
        attempt=1,
        votes=m,
        chainIndex=0,
        head=head,
    )
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.threshold, state.eligibleCount) == (CONSENSUS, m, len(net.workers))
    assert voting.resultOf(VOTING_ID) == RESULT
    assert voting.chainHead() == (head, 1)


def test_vote__opening_fixes_threshold_and_emits(create_voting, chain):
    net = create_voting("0/7")
    voting = net.voting
    receipt = voting.vote(VOTING_ID, RESULT, sender=net.workers[0])
    deadline = receipt.timestamp + 3600
    assert receipt.events == [
        voting.RoundOpened(
            votingId=VOTING_ID, attempt=1, seq=0, threshold=4, eligible=7, deadline=deadline
        ),
        voting.VoteCast(
            votingId=VOTING_ID, worker=net.workers[0], attempt=1, result=RESULT, late=False
        ),
    ]


@pytest.mark.parametrize(("n", "majority"), [(1, 1), (2, 2), (3, 2), (4, 3), (7, 4), (10, 6)])
def test_open__default_threshold_is_simple_majority(create_voting, n, majority):
    net = create_voting(f"0/{n}")
    net.voting.vote(VOTING_ID, RESULT, sender=net.workers[0])
    assert net.voting.roundState(VOTING_ID).threshold == majority


def test_open__threshold_above_pool_reverts(create_voting):
    net = create_voting("4/3")
    with ape.reverts(net.voting.VotingThresholdUnreachable, threshold=4, eligible=3):
        net.voting.vote(VOTING_ID, RESULT, sender=net.workers[0])


def test_vote__twice_in_one_attempt_reverts(create_voting):
    net = create_voting("2/3")
    net.voting.vote(VOTING_ID, RESULT, sender=net.workers[0])
    with ape.reverts(net.voting.VotingAlreadyVoted, votingId=VOTING_ID, worker=net.workers[0]):
        net.voting.vote(VOTING_ID, OTHER, sender=net.workers[0])


def test_vote__zero_result_reverts(create_voting):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingZeroResult):
        net.voting.vote(VOTING_ID, b"\x00" * 32, sender=net.workers[0])


def test_vote__by_outsider_reverts(create_voting, outsider):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingNotWorker, account=outsider):
        net.voting.vote(VOTING_ID, RESULT, sender=outsider)


def test_vote__worker_added_after_opening_reverts(create_voting, owner, workers):
    net = create_voting("2/3")
    net.voting.vote(VOTING_ID, RESULT, sender=net.workers[0])
    newcomer = workers[5]
    net.voting.addWorker(newcomer, sender=owner)
    with ape.reverts(net.voting.VotingNotEligible, votingId=VOTING_ID, worker=newcomer):
        net.voting.vote(VOTING_ID, RESULT, sender=newcomer)
    net.voting.vote(OTHER, RESULT, sender=newcomer)  # a round opened after joining is fine


def test_vote__removal_keeps_threshold_of_open_round(create_voting, owner):
    net = create_voting("0/5")
    voting = net.voting
    voting.vote(VOTING_ID, RESULT, sender=net.workers[0])
    voting.removeWorker(net.workers[4], sender=owner)
    voting.removeWorker(net.workers[3], sender=owner)
    assert voting.roundState(VOTING_ID).threshold == 3
    voting.vote(VOTING_ID, RESULT, sender=net.workers[1])
    assert voting.resultOf(VOTING_ID) == b"\x00" * 32
    voting.vote(VOTING_ID, RESULT, sender=net.workers[2])
    assert voting.resultOf(VOTING_ID) == RESULT
    voting.vote(OTHER, RESULT, sender=net.workers[0])
    assert voting.roundState(OTHER).threshold == 2  # 3 left: majority is 2


def test_vote__after_deadline_reverts(create_voting, chain):
    net = create_voting("2/3")
    receipt = net.voting.vote(VOTING_ID, RESULT, sender=net.workers[0])
    deadline = receipt.timestamp + 3600
    chain.pending_timestamp = deadline + 1
    with ape.reverts(net.voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=deadline):
        net.voting.vote(VOTING_ID, RESULT, sender=net.workers[1])


def test_vote__leader_overtaken_by_other_result(create_voting):
    net = create_voting("3/5")
    voting, w = net.voting, net.workers
    for worker, result in zip(w, [RESULT, OTHER, OTHER, RESULT]):
        voting.vote(VOTING_ID, result, sender=worker)
    state = voting.roundState(VOTING_ID)
    assert (state.leaderVotes, state.tied, state.status) == (2, True, VOTING)
    assert voting.votersOf(VOTING_ID, RESULT) == 0b1001
    assert voting.votersOf(VOTING_ID, OTHER) == 0b0110
    receipt = voting.vote(VOTING_ID, OTHER, sender=w[4])
    assert receipt.events[-1].result == OTHER
    assert voting.resultOf(VOTING_ID) == OTHER
    assert voting.votersOf(VOTING_ID, OTHER) == 0b10110
    assert voting.votersOf(VOTING_ID, RESULT) == 0b01001
    assert voting.roundState(VOTING_ID).dissent == 0b01001


def test_vote__three_results_first_to_threshold_wins(create_voting):
    net = create_voting("3/7")
    votes = [RESULT, OTHER, THIRD, OTHER, THIRD, THIRD]
    for worker, result in zip(net.workers, votes):
        net.voting.vote(VOTING_ID, result, sender=worker)
    assert net.voting.resultOf(VOTING_ID) == THIRD
    assert net.voting.roundState(VOTING_ID).leaderVotes == 3


def test_late_vote__accepted_and_recorded(create_voting):
    net = create_voting("2/4")
    voting, w = net.voting, net.workers
    voting.vote(VOTING_ID, RESULT, sender=w[0])
    voting.vote(VOTING_ID, RESULT, sender=w[1])
    receipt = voting.vote(VOTING_ID, RESULT, sender=w[2])
    assert receipt.events == [
        voting.VoteCast(votingId=VOTING_ID, worker=w[2], attempt=1, result=RESULT, late=True)
    ]
    voting.vote(VOTING_ID, OTHER, sender=w[3])
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.leaderVotes, state.voted, state.dissent) == (
        CONSENSUS,
        2,
        0b1111,
        0b1000,
    )
    assert voting.resultOf(VOTING_ID) == RESULT
    assert voting.chainHead()[1] == 1
    assert voting.workerStats(w[2], 0).late == 1
    with ape.reverts(voting.VotingAlreadyVoted, votingId=VOTING_ID, worker=w[3]):
        voting.vote(VOTING_ID, RESULT, sender=w[3])


def test_vote__on_sealed_round_reverts(create_voting):
    net = create_voting("2/3", sealed=True)
    with ape.reverts(net.voting.VotingWrongMode, votingId=VOTING_ID, sealedMode=True):
        net.voting.vote(VOTING_ID, RESULT, sender=net.workers[0])


def test_chain__links_every_result_to_the_previous_head(create_voting):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    ids = [keccak(text=f"hour {i}") for i in range(4)]
    for i, voting_id in enumerate(ids):
        result = keccak(text=f"root {i}")
        voting.vote(voting_id, result, sender=w[i % 3])
        voting.vote(voting_id, result, sender=w[(i + 1) % 3])
    head, length = voting.chainHead()
    assert length == 4
    walked = voting.genesis()
    for index in range(length):
        entry = voting.chainEntry(index)
        assert entry.votingId == ids[index]
        assert entry.result == keccak(text=f"root {index}")
        walked = chain_link(
            walked, index, entry.votingId, entry.result, entry.attempt, entry.votes, entry.kind
        )
    assert walked == head
    with ape.reverts(voting.VotingNoSuchEntry, index=4, length=4):
        voting.chainEntry(4)
    with ape.reverts(voting.VotingNoSuchEntry, index=4, length=4):
        voting.settledRound(4)


def test_genesis__binds_chain_and_contract(create_voting, chain):
    net = create_voting("1/1")
    expected = keccak(encode(["uint256", "address"], [chain.chain_id, net.voting.address]))
    assert net.voting.genesis() == expected


def test_late_vote__after_deadline_reverts(create_voting, chain):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    voting.vote(VOTING_ID, RESULT, sender=w[0])
    voting.vote(VOTING_ID, RESULT, sender=w[1])
    deadline = voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline + 1
    with ape.reverts(voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=deadline):
        voting.vote(VOTING_ID, OTHER, sender=w[2])
    assert voting.roundState(VOTING_ID).voted == 0b011


def test_vote__smaller_result_keeps_tie(create_voting):
    net = create_voting("4/5")
    for worker, result in zip(net.workers, [RESULT, RESULT, OTHER, OTHER, THIRD]):
        net.voting.vote(VOTING_ID, result, sender=worker)
    assert net.voting.roundState(VOTING_ID).tied is True
