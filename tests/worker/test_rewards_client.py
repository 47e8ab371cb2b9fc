"""The worker's rewards client: status, registration after an epoch, claims and their refusals."""

import logging

import pytest
from eth_utils import keccak

from tests.conftest import ZERO_ADDRESS, descriptor_id, event_descriptor
from tests.contracts import rewards_model as model
from tests.worker.chainutil import connection_for
from worker.gas import GAS_FLOORS
from worker.registration import Registrar, step
from worker.rewards import (
    EpochClaim,
    NothingToClaimError,
    RewardsError,
    claim_rewards,
    epoch_claims,
    worker_status,
)
from worker.state import StateStore
from worker.status_text import format_amount, format_status, symbol_for
from worker.submit import Submitter

DAY, HOUR = 86_400, 3_600
WEIGHTS = [1000, 2000, 4000, 3000]
REG_WINDOW, EXPIRY = 3 * HOUR, 30 * DAY  # longer than the voting contract's 2 h maxWindow
POT = 10**18 + 7  # not divisible: the shares are rounded
A, B = keccak(text="root A"), keccak(text="root B")
# Round 0: w0 and w1 agree, w2 votes B late. Round 1: w0 and w2 agree, w1 misses it.
ROUNDS = [
    model.SettledRound(seq=0, voted={0, 1, 2}, early={0, 1}, agreed={0, 1}),
    model.SettledRound(seq=1, voted={0, 2}, early={0, 2}, agreed={0, 2}),
]
POINTS = [model.points(ROUNDS, model.Tenure(i)) for i in range(3)]  # w0: [1, 1, 2, 2]


def rid(i: int) -> bytes:
    return descriptor_id(event_descriptor(f"hour {i}"))


def vote(net, i: int, result: bytes, worker) -> None:
    """A vote in round `i`, opening it if needed."""
    net.voting.openAndVote(event_descriptor(f"hour {i}"), result, sender=worker)


def goto(chain, timestamp: int) -> None:
    chain.pending_timestamp = timestamp
    chain.mine()


@pytest.fixture
def env(project, owner, create_voting):
    """A 2-of-3 pool with a funded rewards contract and two rounds played in epoch 0."""
    net = create_voting("2/3", speed_rank=2)
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, REG_WINDOW, EXPIRY, WEIGHTS
    )
    rewards.fund(0, POT, value=POT, sender=owner)
    w = net.workers
    vote(net, 0, A, w[0])
    vote(net, 0, A, w[1])
    vote(net, 0, B, w[2])  # late, after consensus
    vote(net, 1, A, w[0])
    vote(net, 1, A, w[2])
    return net, rewards


@pytest.fixture
def client(env, tmp_path):
    """(connection, submitter) of worker 0, as the node builds them."""
    net, rewards = env
    conn = connection_for(net.workers[0], net.voting, rewards)
    with StateStore(tmp_path / "state") as store:
        yield conn, Submitter(conn, store)


def times(rewards, epoch: int = 0) -> tuple[int, int, int]:
    return tuple(int(v) for v in rewards.epochTimes(epoch))


def register_others(net, rewards, owner) -> None:
    for worker in net.workers[1:]:
        rewards.register(0, worker, 100, sender=owner)


# -------------------------------------------------------------------------------------------------
# Reading (no Submitter: embedded chain and anvil)
# -------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_epoch_claims__ended_epochs_newest_first_bounded(env, chain, owner):
    net, rewards = env
    conn = connection_for(net.workers[0], net.voting, rewards)
    assert epoch_claims(conn) == []  # epoch 0 has not ended
    goto(chain, times(rewards)[1] + 1)
    for worker in net.workers:
        rewards.register(0, worker, 100, sender=owner)
    goto(chain, times(rewards, 3)[0] + 1)  # epoch 3: epochs 0..2 ended
    claims = epoch_claims(conn)
    assert [c.epoch for c in claims] == [2, 1, 0]
    assert [c.epoch for c in epoch_claims(conn, lookback=2)] == [2, 1]
    expected = model.payouts(POT, WEIGHTS, POINTS)[0]
    begins, ends, registration_ends = times(rewards, 0)
    assert claims[-1] == EpochClaim(0, begins, ends, registration_ends, True, False,
                                    tuple(POINTS[0]), tuple(expected))  # fmt: skip
    assert claims[-1].total == sum(expected)
    assert claims[0].registered is False and claims[0].total == 0


@pytest.mark.smoke
def test_worker_status__json_ready_and_formatted(env, chain, owner):
    net, rewards = env
    goto(chain, times(rewards)[1] + 1)
    for worker in net.workers:
        rewards.register(0, worker, 100, sender=owner)
    goto(chain, times(rewards)[2] + 1)
    conn = connection_for(net.workers[0], net.voting, rewards)
    status = worker_status(conn)
    assert status["address"] == net.workers[0].address
    assert status["contracts"] == {"WorkerVoting": net.voting.address,
                                   "WorkerRewards": rewards.address}  # fmt: skip
    assert status["enrolment"] == {"active": True, "retired": False, "index": 0, "joinedSeq": 1,
                                   "leftSeq": 0, "joinedIndex": 0}  # fmt: skip
    assert status["counters"] == {"eligible": 2, "cast": 2, "inConsensus": 2, "dissenting": 0,
                                  "late": 0, "missed": 0, "pending": 0,
                                  "counted_to": 2}  # fmt: skip
    late = worker_status(connection_for(net.workers[2], net.voting, rewards))["counters"]
    assert late == {"eligible": 2, "cast": 2, "inConsensus": 1, "dissenting": 1, "late": 1,
                    "missed": 0, "pending": 0, "counted_to": 2}  # fmt: skip
    assert status["epoch"] == {
        "current": 1,
        "ends": times(rewards, 1)[1],
        "next_claim": {"epoch": 1, "opens": times(rewards, 1)[2] + 1},
    }
    assert status["balance"] == net.workers[0].balance
    total = sum(model.payouts(POT, WEIGHTS, POINTS)[0])
    assert [(e["epoch"], e["total"]) for e in status["epochs"]] == [(0, total)]
    text = format_status(status)
    assert f"Claimable now: {format_amount(total, 'ETH')}" in text
    assert "2 eligible, 2 voted (2 in consensus, 0 dissenting), 0 missed" in text
    assert f"epoch 0: {format_amount(total, 'ETH')} to claim" in text
    assert "EWT" in format_status(status, symbol="EWT")


def test_symbols_and_amounts():
    assert [symbol_for(i) for i in (246, 73799, 31337)] == ["EWT", "VT", "ETH"]
    assert format_amount(10**18 + 7, "EWT") == "1.000000000000000007 EWT"
    assert format_amount(15 * 10**17, "VT") == "1.5 VT"
    assert format_amount(0, "ETH") == "0 ETH"


# -------------------------------------------------------------------------------------------------
# Registration and claims (raw transactions through Submitter: anvil)
# -------------------------------------------------------------------------------------------------


@pytest.mark.anvil
def test_full_epoch__registered_in_chunks_from_first_tick_then_claim_pays(env, client, chain,
                                                                          owner):  # fmt: skip
    net, rewards = env
    conn, submitter = client
    worker = net.workers[0]
    registrar = Registrar(conn, submitter, chunk=1)
    _begins, ends, registration_ends = times(rewards)
    assert registrar.tick(ends - 1) is None  # epoch 0 still open
    assert registrar._next == ends  # the next look: the moment the epoch ends
    goto(chain, ends)
    chunks = []
    for _ in range(2):  # two entries, one per chunk, each after the previous one's receipt
        found = registrar.tick(ends)
        assert (found.state, found.epoch) == ("sent", 0)
        chunks.append(submitter.wait(found.tx_hash))
    assert [conn.web3.eth.get_transaction(c["transactionHash"])["gas"] >= GAS_FLOORS["register"]
            for c in chunks] == [True, True]  # fmt: skip
    registered, claimed, points, cursor, end = rewards.registration(0, worker)
    assert (registered, claimed, list(points), cursor, end) == (True, False, POINTS[0], 2, 2)
    assert registrar.tick(ends + 5) is None  # registered: nothing more to send
    assert 0 in registrar._finished
    with pytest.raises(NothingToClaimError, match="registration is still open until"):
        claim_rewards(conn, submitter, [0])
    assert claim_rewards(conn, submitter) == []  # nothing claimable yet
    register_others(net, rewards, owner)
    goto(chain, registration_ends + 1)
    expected = sum(model.payouts(POT, WEIGHTS, POINTS)[0])
    assert sum(rewards.claimable(0, worker)) == expected
    before = conn.web3.eth.get_balance(worker.address)
    claims = claim_rewards(conn, submitter)
    assert [(epoch, amount) for epoch, amount, _tx in claims] == [(0, expected)]
    receipt = conn.web3.eth.get_transaction_receipt(claims[0].tx_hash)
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert gas > 0
    assert conn.web3.eth.get_balance(worker.address) - before == expected - gas
    assert claim_rewards(conn, submitter) == []
    with pytest.raises(NothingToClaimError, match="epoch 0: already claimed"):
        claim_rewards(conn, submitter, [0])


@pytest.mark.anvil
def test_claim_rewards__without_wait_returns_previewed_amount(env, client, chain, owner):
    net, rewards = env
    conn, submitter = client
    goto(chain, times(rewards)[1] + 1)
    for worker in net.workers:
        rewards.register(0, worker, 100, sender=owner)
    goto(chain, times(rewards)[2] + 1)
    (claim,) = claim_rewards(conn, submitter, [0], wait=False)
    assert claim.amount == sum(model.payouts(POT, WEIGHTS, POINTS)[0])
    assert submitter.wait(claim.tx_hash)["status"] == 1
    assert rewards.registration(0, net.workers[0])[1] is True  # claimed


@pytest.mark.anvil
def test_claim_rewards__registers_first_while_window_open(env, client, chain):
    net, rewards = env
    conn, submitter = client
    goto(chain, times(rewards)[1] + 1)
    lines = []
    assert claim_rewards(conn, submitter, [0], notify=lines.append) == []
    assert rewards.registration(0, net.workers[0])[0] is True
    assert len(lines) == 1
    assert lines[0].startswith("epoch 0: registered; claim its rewards after ")
    with pytest.raises(NothingToClaimError, match="registration is still open"):
        claim_rewards(conn, submitter, [0])


@pytest.mark.anvil
def test_claim_rewards__default_registers_open_epochs(env, client, chain):
    net, rewards = env
    conn, submitter = client
    goto(chain, times(rewards)[1] + 1)
    assert claim_rewards(conn, submitter) == []
    assert rewards.registration(0, net.workers[0])[0] is True


@pytest.mark.anvil
@pytest.mark.parametrize(
    ("epochs", "when", "reason"),
    [
        ([1], "ended", "epoch 1: it has not ended yet (it ends "),
        ([0], "open", "epoch 0: it has not ended yet (it ends "),
        ([0], "closed", "epoch 0: not registered, and its registration window closed "),
        ([-1], "ended", "epoch -1: not an epoch number"),
    ],
)
def test_claim_rewards__explicit_epoch_without_claim_raises(env, client, chain, epochs, when,
                                                            reason):  # fmt: skip
    _net, rewards = env
    conn, submitter = client
    _begins, ends, registration_ends = times(rewards)
    if when != "open":
        goto(chain, (ends if when == "ended" else registration_ends) + 1)
    sent = conn.web3.eth.get_transaction_count(conn.address)
    with pytest.raises(RewardsError) as raised:
        claim_rewards(conn, submitter, epochs)
    assert str(raised.value).startswith("nothing to claim for " + reason)
    assert conn.web3.eth.get_transaction_count(conn.address, "pending") == sent


@pytest.mark.anvil
def test_claim_rewards__no_points_raises(project, owner, create_voting, chain, tmp_path):
    net = create_voting("2/3")
    rewards = owner.deploy(
        project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, REG_WINDOW, EXPIRY, WEIGHTS
    )
    for worker in net.workers[:2]:
        vote(net, 0, A, worker)
    ends = times(rewards)[1]
    goto(chain, ends + 1)
    conn = connection_for(net.workers[2], net.voting, rewards)  # never voted
    with StateStore(tmp_path) as store:
        submitter = Submitter(conn, store)
        with pytest.raises(NothingToClaimError, match="epoch 0: no points earned in it"):
            claim_rewards(conn, submitter, [0])
        found = step(conn, submitter, 0, ends + 1)  # a late vote could still bring points
        assert (found.state, found.retry_at) == ("wait", ends + 61)
        found = step(conn, submitter, 0, ends + 2 * HOUR + 1)  # past every late vote
        assert found.state == "nothing" and "no points earned" in found.message
    assert rewards.registration(0, net.workers[2])[0] is False


@pytest.mark.anvil
def test_registrar__refused_estimate_sends_nothing_and_logs(env, client, chain, caplog):
    net, rewards = env
    conn, submitter = client
    _begins, ends, registration_ends = times(rewards)
    goto(chain, registration_ends + 1)
    registrar = Registrar(conn, submitter)
    with caplog.at_level(logging.INFO, logger="worker.registration"):
        found = registrar.tick(ends + 1)  # the chain is past the window already
    assert found.state == "refused" and "RewardsRegistrationClosed" in caplog.text
    assert registrar._next == ends + 61  # tried again a minute later, not every tick
    assert rewards.registration(0, net.workers[0])[0] is False


@pytest.mark.anvil
def test_registrar__waits_for_late_votes_then_registers_at_once(env, client, chain):
    net, rewards = env
    conn, submitter = client
    ends = times(rewards)[1]
    goto(chain, ends - 60)
    for worker in net.workers[:2]:
        vote(net, 9, A, worker)
    late_until = int(net.voting.roundState(rid(9)).deadline)  # after the epoch's end
    goto(chain, ends + 1)
    registrar = Registrar(conn, submitter, chunk=100)
    sent = conn.web3.eth.get_transaction_count(conn.address, "pending")
    found = registrar.tick(ends + 1)
    assert found.state == "sent"  # entries 0 and 1; the walk stops before entry 2
    submitter.wait(found.tx_hash)
    assert rewards.registration(0, net.workers[0])[3:] == (2, 3)
    found = registrar.tick(ends + 2)
    assert (found.state, found.retry_at) == ("wait", late_until + 1)  # no chunk without progress
    assert registrar._next == late_until + 1
    assert registrar.tick(late_until) is None
    assert conn.web3.eth.get_transaction_count(conn.address, "pending") == sent + 1
    goto(chain, late_until + 1)
    found = registrar.tick(late_until + 1)
    assert found.state == "sent" and submitter.wait(found.tx_hash)["status"] == 1
    assert rewards.registration(0, net.workers[0])[0] is True


@pytest.mark.anvil
def test_claim_rewards__expired_epoch_raises(env, client, chain, owner):
    net, rewards = env
    conn, submitter = client
    goto(chain, times(rewards)[1] + 1)
    rewards.register(0, net.workers[0], 100, sender=owner)
    goto(chain, times(rewards)[2] + EXPIRY + 1)
    rewards.sweep(0, sender=owner)
    with pytest.raises(NothingToClaimError, match="claim period expired"):
        claim_rewards(conn, submitter, [0])
    assert claim_rewards(conn, submitter) == []  # epoch 0 is beyond the lookback by now


@pytest.mark.anvil
def test_claim_preview__says_what_is_claimable_and_when_the_next_claim_opens(env, client, chain,
                                                                             owner):  # fmt: skip
    from worker.status_text import claim_preview, when

    net, rewards = env
    conn, _ = client
    first = claim_preview(conn, None)  # epoch 0 runs: nothing to claim, nothing to register
    assert first.anything is False
    assert first.lines[0] == f"Nothing to claim now for {conn.address}."
    assert first.lines[-1] == f"Next claim opens {when(times(rewards)[2] + 1)} (epoch 0)."
    goto(chain, times(rewards)[1] + 1)
    for worker in net.workers:
        rewards.register(0, worker, 100, sender=owner)
    goto(chain, times(rewards)[2] + 1)
    ready = claim_preview(conn, None)
    amount = sum(model.payouts(POT, WEIGHTS, POINTS)[0])
    assert ready.anything is True
    assert ready.lines[0] == f"Epoch 0: {format_amount(amount, 'ETH')} claimable"
    assert ready.question == f"Claim {format_amount(amount, 'ETH')} for {conn.address}?"
