"""Rounds in open mode: descriptors, the participation quorum, thresholds, consensus, late votes,
the result chain."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.conftest import ENCODING, SCHEDULE, descriptor_id, event_descriptor, window_descriptor

DESCRIPTOR = event_descriptor("matching:2026-11-23T10:00Z/PT1H")
VOTING_ID = descriptor_id(DESCRIPTOR)
OTHER_DESCRIPTOR = event_descriptor("matching:2026-11-23T11:00Z/PT1H")
OTHER_ID = descriptor_id(OTHER_DESCRIPTOR)
RESULT = keccak(text="root A")
OTHER = keccak(text="root B")
THIRD = keccak(text="root C")
ZERO = b"\x00" * 32

VOTING, CONSENSUS = 1, 4


def chain_link(head: bytes, index: int, voting_id: bytes, result: bytes, attempt, votes, kind):
    """head' = keccak256(abi.encode(head, index, votingId, result, attempt, votes, kind))."""
    types = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"]
    return keccak(encode(types, [head, index, voting_id, result, attempt, votes, kind]))


def described(voting, descriptor):
    """The RoundDescribed event of a round opened from `descriptor`."""
    schedule, start, end, key, encoding = descriptor
    return voting.RoundDescribed(
        votingId=descriptor_id(descriptor),
        schedule=schedule,
        windowStart=start,
        windowEnd=end,
        eventKey=key,
        encoding=encoding,
    )


@pytest.mark.parametrize("threshold", ["1/1", "2/3", "3/5", "4/7", "33/64"])
def test_vote__consensus_at_threshold(create_voting, threshold):
    net = create_voting(threshold)
    voting, m = net.voting, net.threshold
    for worker in net.workers[: m - 1]:
        voting.openAndVote(DESCRIPTOR, RESULT, sender=worker)
        assert voting.resultOf(VOTING_ID) == ZERO
        assert voting.roundState(VOTING_ID).deadline == 0  # below the quorum: no clock
    receipt = voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[m - 1])
    head = chain_link(voting.genesis(), 0, VOTING_ID, RESULT, 1, m, CONSENSUS)
    opening = [described(voting, DESCRIPTOR), receipt.events[1]] if m == 1 else []
    # The quorum vote that also reaches consensus starts no clock of its own: no RoundStarted.
    assert receipt.events == [
        *opening,
        voting.VoteCast(
            votingId=VOTING_ID, worker=net.workers[m - 1], attempt=1, result=RESULT, late=False
        ),
        voting.ResultRecorded(
            votingId=VOTING_ID,
            result=RESULT,
            kind=CONSENSUS,
            attempt=1,
            votes=m,
            chainIndex=0,
            head=head,
        ),
    ]
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.threshold, state.eligibleCount) == (CONSENSUS, m, len(net.workers))
    assert state.deadline == receipt.timestamp + 3600  # late votes until then
    assert voting.resultOf(VOTING_ID) == RESULT
    assert voting.chainHead() == (head, 1)


def test_open_and_vote__opening_fixes_threshold_and_emits(create_voting):
    net = create_voting("0/7")
    voting = net.voting
    receipt = voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    assert receipt.events == [
        described(voting, DESCRIPTOR),
        voting.RoundOpened(
            votingId=VOTING_ID, attempt=1, seq=7, threshold=4, eligible=7, deadline=0
        ),
        voting.VoteCast(
            votingId=VOTING_ID, worker=net.workers[0], attempt=1, result=RESULT, late=False
        ),
    ]
    assert voting.descriptorId(DESCRIPTOR) == VOTING_ID
    assert voting.poolState()[1] == 7  # the membership generation (7 additions): the round's seq


def test_open_and_vote__existing_round_is_a_plain_vote(create_voting):
    net = create_voting("3/5")
    voting, w = net.voting, net.workers
    voting.openAndVote(DESCRIPTOR, RESULT, sender=w[0])
    receipt = voting.openAndVote(DESCRIPTOR, OTHER, sender=w[1])
    assert receipt.events == [
        voting.VoteCast(votingId=VOTING_ID, worker=w[1], attempt=1, result=OTHER, late=False)
    ]
    receipt = voting.vote(VOTING_ID, RESULT, sender=w[2])
    assert [e.event_name for e in receipt.events] == ["VoteCast", "RoundStarted"]


def test_vote__unknown_round_reverts(create_voting):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingUnknownRound, votingId=VOTING_ID):
        net.voting.vote(VOTING_ID, RESULT, sender=net.workers[0])


def test_vote__quorum_starts_the_clock(create_voting):
    net = create_voting("3/5")
    voting, w = net.voting, net.workers
    voting.openAndVote(DESCRIPTOR, RESULT, sender=w[0])
    voting.vote(VOTING_ID, OTHER, sender=w[1])
    assert voting.roundState(VOTING_ID).deadline == 0
    receipt = voting.vote(VOTING_ID, THIRD, sender=w[2])  # three distinct workers, no consensus
    deadline = receipt.timestamp + 3600
    assert receipt.events == [
        voting.VoteCast(votingId=VOTING_ID, worker=w[2], attempt=1, result=THIRD, late=False),
        voting.RoundStarted(votingId=VOTING_ID, attempt=1, deadline=deadline),
    ]
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.deadline, state.voted) == (VOTING, deadline, 0b111)
    receipt = voting.vote(VOTING_ID, RESULT, sender=w[3])  # after the quorum: no second start
    assert [e.event_name for e in receipt.events] == ["VoteCast"]
    assert voting.roundState(VOTING_ID).deadline == deadline


def test_vote__below_quorum_never_expires(create_voting, chain):
    net = create_voting("2/3")
    voting = net.voting
    voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    chain.pending_timestamp += 30 * 24 * 3600
    receipt = voting.vote(VOTING_ID, RESULT, sender=net.workers[1])
    assert receipt.events[-1].event_name == "ResultRecorded"


@pytest.mark.parametrize(
    "descriptor",
    [
        (ZERO, 0, 0, keccak(text="event"), ENCODING),  # no schedule
        (SCHEDULE, 0, 0, keccak(text="event"), ZERO),  # no encoding
        (SCHEDULE, 0, 0, ZERO, ENCODING),  # neither a window nor an event
        (SCHEDULE, 100, 100, ZERO, ENCODING),  # an empty window
        (SCHEDULE, 200, 100, ZERO, ENCODING),  # a window ending before it starts
        (SCHEDULE, 100, 0, keccak(text="event"), ENCODING),  # an event with a window start
        (SCHEDULE, 0, 100, keccak(text="event"), ENCODING),  # an event with a window end
    ],
)
def test_open_and_vote__invalid_descriptor_reverts(create_voting, descriptor):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingInvalidDescriptor, votingId=descriptor_id(descriptor)):
        net.voting.openAndVote(descriptor, RESULT, sender=net.workers[0])


def test_open_and_vote__window_opens_once_it_ended(create_voting, chain):
    net = create_voting("2/3")
    voting = net.voting
    end = chain.pending_timestamp + 600
    descriptor = window_descriptor(end - 3600, end)
    voting_id = descriptor_id(descriptor)
    chain.pending_timestamp = end - 1
    with ape.reverts(voting.VotingWindowNotEnded, votingId=voting_id, windowEnd=end):
        voting.openAndVote(descriptor, RESULT, sender=net.workers[0])
    chain.pending_timestamp = end
    receipt = voting.openAndVote(descriptor, RESULT, sender=net.workers[0])
    assert receipt.events[0] == described(voting, descriptor)
    assert voting.roundState(voting_id).status == VOTING


@pytest.mark.parametrize(("n", "majority"), [(1, 1), (2, 2), (3, 2), (4, 3), (7, 4), (10, 6)])
def test_open__default_threshold_is_simple_majority(create_voting, n, majority):
    net = create_voting(f"0/{n}")
    net.voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    assert net.voting.roundState(VOTING_ID).threshold == majority


def test_open__threshold_above_pool_reverts(create_voting):
    net = create_voting("4/3")
    with ape.reverts(net.voting.VotingThresholdUnreachable, threshold=4, eligible=3):
        net.voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])


def test_vote__twice_in_one_attempt_reverts(create_voting):
    net = create_voting("2/3")
    net.voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    with ape.reverts(net.voting.VotingAlreadyVoted, votingId=VOTING_ID, worker=net.workers[0]):
        net.voting.vote(VOTING_ID, OTHER, sender=net.workers[0])
    with ape.reverts(net.voting.VotingAlreadyVoted, votingId=VOTING_ID, worker=net.workers[0]):
        net.voting.openAndVote(DESCRIPTOR, OTHER, sender=net.workers[0])


def test_vote__zero_result_reverts(create_voting):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingZeroResult):
        net.voting.openAndVote(DESCRIPTOR, ZERO, sender=net.workers[0])


def test_vote__by_outsider_reverts(create_voting, outsider):
    net = create_voting("2/3")
    with ape.reverts(net.voting.VotingNotWorker, account=outsider):
        net.voting.openAndVote(DESCRIPTOR, RESULT, sender=outsider)  # cannot open either
    net.voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    with ape.reverts(net.voting.VotingNotWorker, account=outsider):
        net.voting.vote(VOTING_ID, RESULT, sender=outsider)


def test_vote__worker_added_after_opening_reverts(create_voting, owner, workers):
    net = create_voting("2/3")
    net.voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    newcomer = workers[5]
    net.voting.addWorker(newcomer, sender=owner)
    with ape.reverts(net.voting.VotingNotEligible, votingId=VOTING_ID, worker=newcomer):
        net.voting.vote(VOTING_ID, RESULT, sender=newcomer)
    net.voting.openAndVote(OTHER_DESCRIPTOR, RESULT, sender=newcomer)  # opened after joining


def test_vote__removal_keeps_threshold_of_open_round(create_voting, owner):
    net = create_voting("0/5")
    voting = net.voting
    voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    voting.removeWorker(net.workers[4], sender=owner)
    voting.removeWorker(net.workers[3], sender=owner)
    assert voting.roundState(VOTING_ID).threshold == 3
    voting.vote(VOTING_ID, RESULT, sender=net.workers[1])
    assert voting.resultOf(VOTING_ID) == ZERO
    voting.vote(VOTING_ID, RESULT, sender=net.workers[2])
    assert voting.resultOf(VOTING_ID) == RESULT
    voting.openAndVote(OTHER_DESCRIPTOR, RESULT, sender=net.workers[0])
    assert voting.roundState(OTHER_ID).threshold == 2  # 3 left: majority is 2


def test_vote__removed_worker_reverts_but_its_vote_counts(create_voting, owner):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    voting.openAndVote(DESCRIPTOR, RESULT, sender=w[0])
    voting.removeWorker(w[0], sender=owner)
    with ape.reverts(voting.VotingNotWorker, account=w[0]):
        voting.vote(VOTING_ID, OTHER, sender=w[0])
    receipt = voting.vote(VOTING_ID, RESULT, sender=w[1])
    assert receipt.events[-1].votes == 2  # the removed worker's vote was a member's when cast


def test_vote__at_deadline_still_counts(create_voting, chain):
    net = create_voting("2/3")
    net.voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    receipt = net.voting.vote(VOTING_ID, OTHER, sender=net.workers[1])  # the quorum
    deadline = receipt.timestamp + 3600
    chain.pending_timestamp = deadline
    net.voting.vote(VOTING_ID, RESULT, sender=net.workers[2])  # at the deadline: still taken
    assert net.voting.resultOf(VOTING_ID) == RESULT


def test_vote__after_deadline_reverts(create_voting, chain):
    net = create_voting("3/4")
    net.voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    net.voting.vote(VOTING_ID, OTHER, sender=net.workers[1])
    receipt = net.voting.vote(VOTING_ID, THIRD, sender=net.workers[2])
    deadline = receipt.timestamp + 3600
    chain.pending_timestamp = deadline + 1
    with ape.reverts(net.voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=deadline):
        net.voting.vote(VOTING_ID, RESULT, sender=net.workers[3])


def test_vote__leader_overtaken_by_other_result(create_voting):
    net = create_voting("3/5")
    voting, w = net.voting, net.workers
    voting.openAndVote(DESCRIPTOR, RESULT, sender=w[0])
    for worker, result in zip(w[1:], [OTHER, OTHER, RESULT]):
        voting.vote(VOTING_ID, result, sender=worker)
    state = voting.roundState(VOTING_ID)
    assert (state.leaderVotes, state.tied, state.status) == (2, True, VOTING)
    assert voting.votersOf(VOTING_ID, RESULT) == 0b1001
    assert voting.votersOf(VOTING_ID, OTHER) == 0b0110
    assert voting.votersOf(VOTING_ID, THIRD) == 0
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
        net.voting.openAndVote(DESCRIPTOR, result, sender=worker)
    assert net.voting.resultOf(VOTING_ID) == THIRD
    assert net.voting.roundState(VOTING_ID).leaderVotes == 3


def test_late_vote__accepted_and_recorded(create_voting):
    net = create_voting("2/4")
    voting, w = net.voting, net.workers
    voting.openAndVote(DESCRIPTOR, RESULT, sender=w[0])
    voting.vote(VOTING_ID, RESULT, sender=w[1])
    receipt = voting.vote(VOTING_ID, RESULT, sender=w[2])
    assert receipt.events == [
        voting.VoteCast(votingId=VOTING_ID, worker=w[2], attempt=1, result=RESULT, late=True)
    ]
    voting.openAndVote(DESCRIPTOR, OTHER, sender=w[3])
    state = voting.roundState(VOTING_ID)
    assert (state.status, state.leaderVotes, state.voted, state.dissent) == (
        CONSENSUS,
        2,
        0b1111,
        0b1000,
    )
    assert voting.resultOf(VOTING_ID) == RESULT
    assert voting.chainHead()[1] == 1
    assert [voting.workerInfo(worker).late for worker in w] == [0, 0, 1, 1]
    with ape.reverts(voting.VotingAlreadyVoted, votingId=VOTING_ID, worker=w[3]):
        voting.vote(VOTING_ID, RESULT, sender=w[3])


def test_vote__on_sealed_round_reverts(create_voting):
    net = create_voting("2/3", sealed=True)
    with ape.reverts(net.voting.VotingWrongMode, votingId=VOTING_ID, sealedMode=True):
        net.voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])
    net.voting.openAndCommit(DESCRIPTOR, RESULT, sender=net.workers[0])
    with ape.reverts(net.voting.VotingWrongMode, votingId=VOTING_ID, sealedMode=True):
        net.voting.vote(VOTING_ID, RESULT, sender=net.workers[1])


def test_chain__links_every_result_to_the_previous_head(create_voting):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    descriptors = [event_descriptor(f"hour {i}") for i in range(4)]
    for i, descriptor in enumerate(descriptors):
        result = keccak(text=f"root {i}")
        voting.openAndVote(descriptor, result, sender=w[i % 3])
        voting.vote(descriptor_id(descriptor), result, sender=w[(i + 1) % 3])
    head, length = voting.chainHead()
    assert length == 4
    walked = voting.genesis()
    for index in range(length):
        entry = voting.chainEntry(index)
        assert entry.votingId == descriptor_id(descriptors[index])
        assert entry.result == keccak(text=f"root {index}")
        walked = chain_link(
            walked, index, entry.votingId, entry.result, entry.attempt, entry.votes, entry.kind
        )
    assert walked == head
    with ape.reverts(voting.VotingNoSuchEntry, index=4, length=4):
        voting.chainEntry(4)
    with ape.reverts(voting.VotingNoSuchEntry, index=4, length=4):
        voting.settledRound(4)


def test_chain__round_below_quorum_is_never_chained(create_voting, chain):
    net = create_voting("2/3")
    voting = net.voting
    voting.openAndVote(DESCRIPTOR, RESULT, sender=net.workers[0])  # a lone worker's round
    chain.pending_timestamp += 7 * 24 * 3600
    with ape.reverts(voting.VotingNothingToFinalize, votingId=VOTING_ID):
        voting.finalize(VOTING_ID, sender=net.workers[0])
    assert voting.chainHead() == (voting.genesis(), 0)
    assert voting.settledRounds(0, 10) == []


def test_settled_rounds__batch_view(create_voting):
    net = create_voting("1/2")
    voting, w = net.voting, net.workers
    ids = []
    for i in range(3):
        descriptor = event_descriptor(f"batch {i}")
        voting.openAndVote(descriptor, RESULT, sender=w[i % 2])
        ids.append(descriptor_id(descriptor))
    assert [r.votingId for r in voting.settledRounds(0, 10)] == ids
    assert [r.votingId for r in voting.settledRounds(1, 1)] == ids[1:2]
    assert voting.settledRounds(3, 5) == []
    assert voting.settledRounds(1, 2)[1] == voting.settledRound(2)
    with ape.reverts(voting.VotingNoSuchEntry, index=4, length=3):
        voting.settledRounds(4, 1)


def test_genesis__binds_chain_and_contract(create_voting, chain):
    net = create_voting("1/1")
    expected = keccak(encode(["uint256", "address"], [chain.chain_id, net.voting.address]))
    assert net.voting.genesis() == expected


def test_late_vote__after_deadline_reverts(create_voting, chain):
    net = create_voting("2/3")
    voting, w = net.voting, net.workers
    voting.openAndVote(DESCRIPTOR, RESULT, sender=w[0])
    voting.vote(VOTING_ID, RESULT, sender=w[1])
    deadline = voting.roundState(VOTING_ID).deadline
    chain.pending_timestamp = deadline + 1
    with ape.reverts(voting.VotingDeadlinePassed, votingId=VOTING_ID, deadline=deadline):
        voting.vote(VOTING_ID, OTHER, sender=w[2])
    assert voting.roundState(VOTING_ID).voted == 0b011


def test_vote__smaller_result_keeps_tie(create_voting):
    net = create_voting("4/5")
    for worker, result in zip(net.workers, [RESULT, RESULT, OTHER, OTHER, THIRD]):
        net.voting.openAndVote(DESCRIPTOR, result, sender=worker)
    assert net.voting.roundState(VOTING_ID).tied is True


def test_epoch_entries__rounds_settled_per_epoch_by_block_time(create_voting, chain):
    net = create_voting("1/1")
    voting, worker = net.voting, net.workers[0]
    start, length = voting.epochStart(), voting.epochLength()
    assert (length, voting.maxWindow()) == (24 * 3600, 2 * 3600)
    for i in range(2):
        voting.openAndVote(event_descriptor(f"day 0 round {i}"), RESULT, sender=worker)
    assert voting.epochEntries(0) == (0, 2)  # the current epoch: its end still grows
    chain.pending_timestamp = start + 2 * length  # epoch 1 gets nothing
    voting.openAndVote(event_descriptor("day 2 round"), RESULT, sender=worker)
    assert voting.epochEntries(0) == (0, 2)
    assert voting.epochEntries(1) == (0, 0)
    assert voting.epochEntries(2) == (2, 3)
    chain.pending_timestamp = start + 3 * length
    voting.openAndVote(event_descriptor("day 3 round"), RESULT, sender=worker)
    assert voting.epochEntries(2) == (2, 3)
    assert voting.epochEntries(3) == (3, 4)
