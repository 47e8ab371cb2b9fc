"""Rewards: epochs by settlement time and resumable registration of a worker's points."""

import ape

from tests.contracts import rewards_model as model
from tests.contracts.rewards_helpers import (
    HOUR,
    NO_POINTS,
    POT,
    REG_WINDOW,
    A,
    B,
    assert_points_registered,
    epoch_end,
    goto,
    play_two_rounds,
    register_all,
    vid,
    vote,
)


def registration(rewards, epoch: int, worker) -> tuple:
    registered, claimed, points, cursor, end = rewards.registration(epoch, worker)
    return registered, claimed, list(points), cursor, end


# -------------------------------------------------------------------------------------------------
# Epochs: rounds belong to the epoch of the block that settled them
# -------------------------------------------------------------------------------------------------


def test_epoch_nobody_touched__owns_no_chain_entries_and_pays_nothing(env, chain, outsider):
    net, rewards = env
    rewards.fund(2, POT, value=POT, sender=outsider)
    goto(chain, epoch_end(rewards, 2) + 1)  # epochs 0, 1 and 2 pass without a single round
    play_two_rounds(net)  # settle in epoch 3
    info = rewards.epochInfo(1)
    assert (info.ended, info.firstIndex, info.endIndex) == (True, 0, 0)
    assert (rewards.epochInfo(3).firstIndex, rewards.epochInfo(3).endIndex) == (0, 2)
    assert list(rewards.previewPoints(2, net.workers[0])) == NO_POINTS
    receipt = rewards.register(2, net.workers[0], 1, sender=outsider)
    assert_points_registered(receipt, 2, net.workers[0], NO_POINTS)
    assert registration(rewards, 2, net.workers[0]) == (True, False, NO_POINTS, 0, 0)
    goto(chain, epoch_end(rewards, 2) + REG_WINDOW + 1)
    receipt = rewards.claim(2, net.workers[0], sender=outsider)
    assert receipt.events == [  # nobody earned anything: the whole pot rolls over, nothing paid
        rewards.EpochSettled(epoch=2, pot=POT, totals=[0] * 4, rolledOver=POT, toEpoch=3),
        rewards.Claimed(epoch=2, worker=net.workers[0], caller=outsider, amount=0),
    ]
    assert rewards.epochInfo(3).pot == POT


def test_epochs__round_settled_in_the_last_second_belongs_to_the_earlier_epoch(
    env, chain, outsider
):
    net, rewards = env
    w, end = net.workers, epoch_end(rewards, 0)
    goto(chain, end - 100)
    for key in ("before", "at", "after"):  # all three open in epoch 0
        vote(net, key, A, w[0])
        vote(net, key, A, w[1])
    chain.pending_timestamp = end - 1
    assert vote(net, "before", A, w[2]).timestamp == end - 1  # settles in epoch 0's last second
    chain.pending_timestamp = end
    assert vote(net, "at", A, w[2]).timestamp == end  # settles in epoch 1's first second
    chain.pending_timestamp = end + 50
    vote(net, "after", A, w[2])
    assert net.voting.epochEntries(0) == (0, 1)
    assert net.voting.epochEntries(1) == (1, 3)
    info0, info1 = rewards.epochInfo(0), rewards.epochInfo(1)
    assert (info0.firstIndex, info0.endIndex, info1.firstIndex, info1.endIndex) == (0, 1, 1, 3)
    assert list(rewards.previewPoints(0, w[2])) == [1, 1, 1, 0]  # w2's third vote: not early
    assert list(rewards.previewPoints(1, w[0])) == [1, 1, 2, 2]
    goto(chain, end + HOUR)  # "before" took late votes until end - 1 + 1 h
    receipt = rewards.register(0, w[0], 100, sender=outsider)
    assert_points_registered(receipt, 0, w[0], [1, 1, 1, 1])


def test_register__at_first_block_after_epoch_stops_before_round_taking_late_votes(
    env, chain, outsider
):
    net, rewards = env
    w, end = net.workers, epoch_end(rewards, 0)
    rounds = play_two_rounds(net)
    goto(chain, end - 60)
    vote(net, "last", A, w[0])
    vote(net, "last", A, w[1])
    chain.pending_timestamp = end - 1
    vote(net, "last", A, w[2])  # consensus in epoch 0's last second: late votes for an hour
    late_until = end - 1 + HOUR
    assert net.voting.roundState(vid("last")).deadline == late_until
    rounds.append(model.SettledRound(2, {0, 1, 2, 3}, {0, 1}, {0, 1, 2}, late_until))

    chain.pending_timestamp = end  # the first block after the epoch
    receipt = rewards.register(0, w[3], 100, sender=outsider)
    assert receipt.timestamp == end
    assert receipt.events == [rewards.RegistrationProgressed(epoch=0, worker=w[3], cursor=2, end=3)]
    assert registration(rewards, 0, w[3]) == (False, False, [0, 0, 1, 0], 2, 3)
    chain.pending_timestamp = end + 10
    vote(net, "last", B, w[3])  # a late vote after the epoch boundary counts in epoch 0's round
    goto(chain, late_until - 1)
    assert rewards.register.call(0, w[3], 100) is False
    chain.pending_timestamp = late_until  # the round's last second of late votes
    receipt = rewards.register(0, w[3], 100, sender=outsider)
    assert receipt.events == [rewards.RegistrationProgressed(epoch=0, worker=w[3], cursor=2, end=3)]

    goto(chain, late_until + 1)
    assert rewards.register.call(0, w[3], 100) is True
    receipt = rewards.register(0, w[3], 100, sender=outsider)
    expected = model.points(rounds, model.Tenure(3))
    assert expected == [1, 1, 1, 0]  # voted in all three, agreed in one, never early
    assert_points_registered(receipt, 0, w[3], expected)
    assert registration(rewards, 0, w[3]) == (True, False, expected, 3, 3)


def test_register__in_chunks_gives_the_points_of_one_call(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT, value=POT, sender=outsider)
    w, rounds = net.workers, []
    for i in range(9):  # worker i % 5 stays away; when all four vote, the second one dissents
        order = [(3, 1, 0, 2)[(k + i) % 4] for k in range(4)]
        votes = [(j, A) for j in order if j != i % 5]
        if len(votes) == 4:
            votes[1] = (votes[1][0], B)
        for j, result in votes:
            vote(net, f"chunked {i}", result, w[j])
        voted, early, agreed, deciding = model.attempt(votes, 3, 2)
        assert deciding == len(votes) - 1
        rounds.append(model.SettledRound(i, voted, early, agreed))
    expected = [model.points(rounds, model.Tenure(i)) for i in range(4)]
    goto(chain, epoch_end(rewards, 0) + 1)

    snapshot = chain.snapshot()
    single = register_all(rewards, net, outsider)
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)
    single_shares = [list(rewards.claimable(0, worker)) for worker in w]
    single_totals = list(rewards.epochInfo(0).totals)
    chain.restore(snapshot)

    for i, worker in enumerate(w):  # worker i registers in chunks of i + 1 entries
        walk = model.Walk(model.Tenure(i))
        while not walk.step(rounds, 0, 9, i + 1, now=2**64):
            receipt = rewards.register(0, worker, i + 1, sender=outsider)
            assert receipt.events == [
                rewards.RegistrationProgressed(epoch=0, worker=worker, cursor=walk.cursor, end=9)
            ]
            assert registration(rewards, 0, worker) == (False, False, walk.partial, walk.cursor, 9)
        receipt = rewards.register(0, worker, i + 1, sender=outsider)
        assert_points_registered(receipt, 0, worker, expected[i])
    assert single == expected
    assert list(rewards.epochInfo(0).totals) == single_totals
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW + 1)
    assert [list(rewards.claimable(0, worker)) for worker in w] == single_shares


def test_register__zero_max_rounds_reverts(env, chain, outsider):
    net, rewards = env
    goto(chain, epoch_end(rewards, 0) + 1)
    with ape.reverts(rewards.RewardsInvalidParameter, field="maxRounds"):
        rewards.register(0, net.workers[0], 0, sender=outsider)


def test_register__rules(env, chain, outsider):
    net, rewards = env
    rewards.fund(0, POT, value=POT, sender=outsider)
    play_two_rounds(net)
    worker = net.workers[0]
    with ape.reverts(rewards.RewardsEpochNotEnded, epoch=0):
        rewards.register(0, worker, 100, sender=outsider)
    goto(chain, epoch_end(rewards, 0) + 1)
    with ape.reverts(rewards.RewardsUnknownWorker, account=outsider):
        rewards.register(0, outsider, 100, sender=outsider)
    with ape.reverts(rewards.RewardsUnknownWorker, account=outsider):
        rewards.previewPoints(0, outsider)
    assert list(rewards.previewPoints(0, net.workers[2])) == [1, 0, 1, 0]  # missed round 1
    assert list(rewards.previewPoints(0, net.workers[3])) == [1, 1, 1, 0]  # dissented in round 0
    assert registration(rewards, 0, worker) == (False, False, NO_POINTS, 0, 2)
    receipt = rewards.register(0, worker, 100, sender=outsider)
    points = list(receipt.events[-1].points)
    assert registration(rewards, 0, worker) == (True, False, points, 2, 2)
    assert list(rewards.claimable(0, worker)) == [0] * 4  # registration still open
    with ape.reverts(rewards.RewardsAlreadyRegistered, epoch=0, worker=worker):
        rewards.register(0, worker, 100, sender=outsider)
    with ape.reverts(rewards.RewardsEpochNotEnded, epoch=1):
        rewards.claim(1, worker, sender=outsider)
    closes = epoch_end(rewards, 0) + REG_WINDOW
    goto(chain, closes + 1)
    with ape.reverts(rewards.RewardsRegistrationClosed, epoch=0, closedAt=closes):
        rewards.register(0, net.workers[1], 100, sender=outsider)
    with ape.reverts(rewards.RewardsNotRegistered, epoch=0, worker=net.workers[1]):
        rewards.claim(0, net.workers[1], sender=outsider)
    assert sum(rewards.claimable(0, worker)) > 0
    assert list(rewards.claimable(0, net.workers[1])) == [0] * 4  # not registered
    rewards.claim(0, worker, sender=outsider)
    assert registration(rewards, 0, worker) == (True, True, points, 2, 2)
    assert list(rewards.claimable(0, worker)) == [0] * 4  # claimed
    with ape.reverts(rewards.RewardsAlreadyClaimed, epoch=0, worker=worker):
        rewards.claim(0, worker, sender=outsider)
    assert rewards.settle(0, sender=outsider).events == []  # settled by the first claim


def test_round_without_quorum__changes_nobody_points(env, chain, outsider):
    net, rewards = env
    w = net.workers
    rounds = play_two_rounds(net)
    for i in range(3):
        vote(net, f"spam {i}", A, w[0])  # opened alone: never reaches the quorum of 3
    vote(net, "spam 3", B, w[0])
    vote(net, "spam 3", B, w[3])  # two of three
    goto(chain, epoch_end(rewards, 0) + REG_WINDOW - 10)
    with ape.reverts(net.voting.VotingNothingToFinalize, votingId=vid("spam 3")):
        net.voting.finalize(vid("spam 3"), sender=outsider)  # no clock: it never settles
    assert net.voting.chainHead()[1] == 2
    assert rewards.epochInfo(0).endIndex == 2
    expected = [model.points(rounds, model.Tenure(i)) for i in range(4)]
    assert expected[1] == [1, 1, 2, 2]  # w1 never voted in the spam rounds: still consistent
    assert register_all(rewards, net, outsider) == expected


def test_removed_worker__keeps_points_before_removal_only(env, chain, owner, outsider):
    net, rewards = env
    w = net.workers
    for worker in w:
        vote(net, "hour 0", A, worker)  # w3's vote is late, for the result
    net.voting.removeWorker(w[3], sender=owner)  # gone before round 1
    for worker in w[:3]:
        vote(net, "hour 1", A, worker)
    goto(chain, epoch_end(rewards, 0) + 1)
    assert list(rewards.previewPoints(0, w[3])) == [1, 1, 1, 0]  # round 1 never concerned it
    assert list(rewards.previewPoints(0, w[0])) == [1, 1, 2, 2]
    receipt = rewards.register(0, w[3], 1, sender=outsider)
    assert receipt.events == [rewards.RegistrationProgressed(epoch=0, worker=w[3], cursor=1, end=2)]
    assert_points_registered(rewards.register(0, w[3], 1, sender=outsider), 0, w[3], [1, 1, 1, 0])


def test_worker_joined_mid_epoch__counts_rounds_opened_after_it_joined(
    env, chain, owner, outsider, workers
):
    net, rewards = env
    w = net.workers
    vote(net, "hour 0", A, w[0])
    vote(net, "hour 0", A, w[1])
    net.voting.addWorker(workers[4], sender=owner)  # joins while round 0 is open (seq 1)
    vote(net, "hour 0", A, w[2])  # settles after it joined: entry 0, but not its round
    for worker in (w[0], w[1], workers[4]):
        vote(net, "hour 1", A, worker)
    net.voting.addWorker(workers[5], sender=owner)  # joins after entries 0 and 1
    goto(chain, epoch_end(rewards, 0) + 10)
    vote(net, "hour 2", A, w[0])
    vote(net, "hour 2", A, w[1])
    vote(net, "hour 2", A, w[2])  # entry 2, in epoch 1
    net.voting.addWorker(workers[6], sender=owner)  # joins in epoch 1, after entry 2
    goto(chain, epoch_end(rewards, 0) + HOUR + 20)

    assert list(rewards.previewPoints(0, workers[4])) == [1, 1, 1, 0]  # round 0 is not its own
    assert list(rewards.previewPoints(0, workers[5])) == NO_POINTS
    assert list(rewards.previewPoints(1, workers[5])) == NO_POINTS  # eligible, stayed away
    receipt = rewards.register(0, workers[4], 100, sender=outsider)
    assert_points_registered(receipt, 0, workers[4], [1, 1, 1, 0])
    assert registration(rewards, 0, workers[5]) == (False, False, NO_POINTS, 2, 2)  # joined at 2
    assert registration(rewards, 0, workers[6]) == (False, False, NO_POINTS, 2, 2)  # joined at 3
    assert registration(rewards, 1, w[0]) == (False, False, NO_POINTS, 2, 3)
    receipt = rewards.register(0, workers[5], 100, sender=outsider)
    assert_points_registered(receipt, 0, workers[5], NO_POINTS)
    assert registration(rewards, 0, workers[5]) == (True, False, NO_POINTS, 2, 2)
    receipt = rewards.register(0, workers[6], 100, sender=outsider)  # joined past epoch 0's end
    assert_points_registered(receipt, 0, workers[6], NO_POINTS)
    assert registration(rewards, 0, workers[6]) == (True, False, NO_POINTS, 2, 2)
