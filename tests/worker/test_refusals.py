"""Broadcasts the node refuses: reported as refused, counted, retried after a backoff."""

import pytest
from eth_utils import keccak

from tests.worker.chainutil import connection_for
from worker.descriptor import RoundNaming
from worker.metrics import Metrics
from worker.refusals import BACKOFF_FIRST, Refusals, classify
from worker.state import StateStore
from worker.submit import Submitter

DESC = RoundNaming.of("refusals-test", {}, ["uint256"]).event("refused round")
VID, RESULT = DESC.voting_id, keccak(text="root")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Insufficient funds for gas * price + value", "funds"),
        ("insufficient funds for gas * price + value: balance 0, tx cost 400", "funds"),
        ("nonce too low", "nonce"),
        ("Nonce too high", "nonce"),
        ("replacement transaction underpriced", "underpriced"),
        ("max fee per gas less than block base fee", "underpriced"),
        ("intrinsic gas too low", "gas"),
        ("exceeds block gas limit", "gas"),
        ("something else", "other"),
        ("already known", None),
    ],
)
def test_classify__node_messages(message, reason):
    assert classify(message) == reason


class Clock:
    now = 100.0

    def __call__(self):
        return self.now


def test_refusals__backoff_doubles_and_an_accepted_broadcast_resets_it():
    clock = Clock()
    refusals = Refusals(clock)
    assert not refusals.waiting("vote")
    assert refusals.refused("vote", "vote 0x1", "insufficient funds") == "funds"
    assert refusals.waiting("vote") and refusals.short_of_funds
    clock.now += BACKOFF_FIRST + 0.01  # the first delay is at most BACKOFF_FIRST
    assert not refusals.waiting("vote")
    refusals.refused("vote", "vote 0x1", "insufficient funds")
    clock.now += BACKOFF_FIRST / 2  # the second is at least BACKOFF_FIRST (half of 2x)
    assert refusals.waiting("vote")
    refusals.accepted("vote")
    assert not refusals.waiting("vote") and not refusals.short_of_funds


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.mark.anvil
def test_ensure__drained_account_refused_not_sent_then_sent_after_top_up(
    create_voting, chain, tmp_path, caplog
):
    net = create_voting("2/3")
    conn = connection_for(net.workers[0], net.voting)
    metrics, clock = Metrics(), FakeClock()
    address = conn.address
    balance = conn.web3.eth.get_balance(address)
    chain.provider.make_request("anvil_setBalance", [address, hex(10**9)])  # 1 gwei: drained
    sends = []
    with StateStore(tmp_path) as store:
        submitter = Submitter(conn, store, metrics, clock=clock)
        raw_send = conn.web3.eth.send_raw_transaction
        try:
            conn.web3.eth.send_raw_transaction = lambda raw: sends.append(raw) or raw_send(raw)
            assert submitter.ensure("vote", VID, 1, RESULT, descriptor=DESC) == "refused:funds"
            assert "vote 0x" in caplog.text and "refused by the node (funds)" in caplog.text
            assert "vote sent" not in caplog.text
            for _ in range(5):  # within the backoff: nothing re-signed, nothing sent
                submitter.poll()
            assert len(sends) == 1
            text = metrics.render().decode()
            assert 'worker_tx_refused_total{reason="funds"} 1.0' in text
            assert 'worker_votes_sent_total{kind="vote"} 0.0' in text
            chain.provider.make_request("anvil_setBalance", [address, hex(balance)])
            clock.now += 120  # past the backoff
            submitter.poll()  # re-signed with its nonce and sent
            assert len(sends) == 2
        finally:
            del conn.web3.eth.send_raw_transaction
        chain.mine()
        for _ in range(50):
            if submitter.poll():
                break
        assert store.vote(VID, 1, "vote").state == "confirmed"
        assert net.voting.roundState(VID).voted == 1 << conn.pool_index
