"""Sending votes, commits, reveals and other transactions: each action once, resumed after a crash,
replaced when stuck, never leaving a nonce gap."""

import time
from contextlib import ExitStack, contextmanager

import pytest
from eth_utils import keccak
from web3.exceptions import TransactionNotFound

from tests.conftest import HOUR
from tests.worker.chainutil import connection_for
from worker.descriptor import RoundNaming
from worker.errors import TransactionError
from worker.state import StateStore
from worker.submit import FEE_BUMP, Submitter, commitment

DESC = RoundNaming.of("submit-test", {}, ["uint256"]).event("round 1")
VID = DESC.voting_id
RESULT, OTHER = keccak(text="root A"), keccak(text="root B")
SALT = keccak(text="salt")


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Stands in for `worker.metrics.Metrics`: records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name: str):
        return lambda *args: self.calls.append((name, *args))


@pytest.fixture
def pool(create_voting):
    return create_voting("2/3")


@pytest.fixture
def client(pool, tmp_path):
    """(connection, store, submitter, clock) of worker 0."""
    conn = connection_for(pool.workers[0], pool.voting)
    clock = FakeClock()
    with StateStore(tmp_path / "state") as store:
        yield conn, store, Submitter(conn, store, clock=clock, replace_after=30), clock


def nonce(conn, block: str = "latest") -> int:
    return conn.web3.eth.get_transaction_count(conn.address, block)


def poll_confirmed(submitter, timeout: float = 5.0) -> list:
    """`poll()` until it confirms something: anvil mines a raw transaction just after the send
    returns, so the receipt may be a moment late."""
    deadline = time.monotonic() + timeout
    while not (confirmed := submitter.poll()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return confirmed


def votes_of(pool, worker, chain) -> list:
    return [e for e in pool.voting.VoteCast.range(0, chain.blocks.height + 1)
            if e.worker == worker.address]  # fmt: skip


def split(pool) -> None:
    """Workers 1 and 2 open the round with different results: its clock runs, no consensus."""
    pool.voting.openAndVote(DESC, RESULT, sender=pool.workers[1])
    pool.voting.vote(VID, OTHER, sender=pool.workers[2])


def past_deadline(chain, voting, vid: bytes) -> None:
    chain.pending_timestamp = int(voting.roundState(vid).deadline) + 1
    chain.mine()


@contextmanager
def manual_mining(chain):
    """Anvil mines only on `chain.mine()` inside the block."""
    chain.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        chain.provider.make_request("evm_setAutomine", [True])


# -------------------------------------------------------------------------------------------------
# Commitment (a view call: embedded chain and anvil)
# -------------------------------------------------------------------------------------------------


@pytest.mark.smoke
@pytest.mark.parametrize("attempt", [1, 2])
def test_commitment__equals_contract_commitment_of(pool, chain, attempt):
    worker = pool.workers[1]
    expected = pool.voting.commitmentOf(RESULT, SALT, worker, VID, attempt)
    value = commitment(RESULT, SALT, worker.address, VID, attempt, chain.chain_id,
                       pool.voting.address)  # fmt: skip
    assert value == bytes(expected)
    assert value != commitment(OTHER, SALT, worker.address, VID, attempt, chain.chain_id,
                               pool.voting.address)  # fmt: skip


# -------------------------------------------------------------------------------------------------
# Votes
# -------------------------------------------------------------------------------------------------


@pytest.mark.anvil
def test_ensure__vote_sent_once_then_confirmed_by_poll(pool, client, chain):
    conn, store, submitter, _clock = client
    before = nonce(conn)
    assert submitter.ensure("vote", VID, 1, RESULT, DESC) == "pending"
    row = store.vote(VID, 1, "vote")
    assert (row.state, row.nonce, row.tries, row.result) == ("sent", before, 1, "0x" + RESULT.hex())
    assert submitter.ensure("vote", VID, 1, RESULT) == "pending"
    assert nonce(conn, "pending") == before + 1
    (confirmed,) = poll_confirmed(submitter)
    assert (confirmed.voting_id, confirmed.attempt, confirmed.kind) == ("0x" + VID.hex(), 1, "vote")
    assert store.vote(VID, 1, "vote").state == "confirmed"
    assert submitter.poll() == []
    assert submitter.ensure("vote", VID, 1, RESULT) == "confirmed"
    assert nonce(conn, "pending") == before + 1
    assert conn.voting.roundState(VID).voted == 1 << conn.pool_index
    receipt = conn.web3.eth.get_transaction_receipt(row.tx_hash)
    assert receipt["status"] == 1


@pytest.mark.anvil
def test_ensure__vote_already_on_chain_confirmed_without_sending(pool, client, chain):
    conn, store, submitter, _clock = client
    pool.voting.openAndVote(DESC, RESULT, sender=pool.workers[0])
    before = nonce(conn)
    assert submitter.ensure("vote", VID, 1, RESULT) == "confirmed"
    row = store.vote(VID, 1, "vote")
    assert (row.state, row.tx_hash, row.nonce) == ("confirmed", None, None)
    assert nonce(conn, "pending") == before
    assert len(votes_of(pool, pool.workers[0], chain)) == 1


@pytest.mark.anvil
@pytest.mark.parametrize("why", ["VotingPaused", "VotingDeadlinePassed"])
def test_ensure__rejected_estimate_sends_nothing(pool, client, chain, owner, why):
    conn, store, submitter, _clock = client
    split(pool)
    if why == "VotingPaused":
        pool.voting.pause(sender=owner)
    else:
        past_deadline(chain, pool.voting, VID)
    before = nonce(conn, "pending")
    assert submitter.ensure("vote", VID, 1, RESULT) == f"rejected:{why}"
    assert store.vote(VID, 1, "vote") is None
    assert nonce(conn, "pending") == before
    assert submitter.ensure("vote", VID, 1, RESULT) == f"rejected:{why}"
    assert store.vote(VID, 1, "vote") is None


@pytest.mark.anvil
def test_ensure__planned_row_left_by_crash_is_sent(pool, client, chain):
    conn, store, submitter, _clock = client
    store.plan_vote(VID, 1, "vote", RESULT)  # the crash came before the broadcast
    before = nonce(conn)
    assert submitter.ensure("vote", VID, 1, RESULT, DESC) == "pending"
    row = store.vote(VID, 1, "vote")
    assert (row.state, row.nonce, row.tries) == ("sent", before, 1)
    assert [r.kind for r in poll_confirmed(submitter)] == ["vote"]
    assert store.vote(VID, 1, "vote").state == "confirmed"
    assert len(votes_of(pool, pool.workers[0], chain)) == 1


@pytest.mark.anvil
def test_poll__sent_row_unknown_to_node_resent_with_same_nonce(pool, client, chain):
    conn, store, submitter, _clock = client
    before = nonce(conn)
    store.plan_vote(VID, 1, "vote", RESULT)
    lost = "0x" + "ab" * 32  # signed and recorded, then the process died before the broadcast
    store.set_vote_state(VID, 1, "vote", "sent", tx_hash=lost, nonce=before)
    assert submitter.ensure("vote", VID, 1, RESULT, DESC) == "pending"  # no second transaction
    assert nonce(conn, "pending") == before
    assert submitter.poll() == []  # re-sent
    row = store.vote(VID, 1, "vote")
    assert (row.state, row.nonce) == ("sent", before)
    assert row.tx_hash != lost
    assert conn.web3.eth.get_transaction(row.tx_hash)["nonce"] == before
    assert [r.kind for r in poll_confirmed(submitter)] == ["vote"]
    assert store.vote(VID, 1, "vote").state == "confirmed"
    assert nonce(conn) == before + 1
    assert len(votes_of(pool, pool.workers[0], chain)) == 1


@pytest.mark.anvil
def test_poll__confirmations_wait_for_blocks_on_top(pool, client, chain):
    conn, store, _submitter, clock = client
    submitter = Submitter(conn, store, clock=clock, confirmations=2)
    assert submitter.ensure("vote", VID, 1, RESULT, DESC) == "pending"
    conn.web3.eth.wait_for_transaction_receipt(store.vote(VID, 1, "vote").tx_hash, timeout=5)
    assert submitter.poll() == []  # one block deep
    assert store.vote(VID, 1, "vote").state == "sent"
    chain.mine()
    assert [r.kind for r in submitter.poll()] == ["vote"]
    assert store.vote(VID, 1, "vote").state == "confirmed"


@pytest.mark.anvil
def test_poll__reverted_vote_marked_failed_without_burning_more_tries(pool, client, chain):
    conn, store, submitter, _clock = client
    split(pool)
    with manual_mining(chain):
        assert submitter.ensure("vote", VID, 1, RESULT) == "pending"
        past_deadline(chain, pool.voting, VID)  # mined after the deadline: reverts
    tx_hash = store.vote(VID, 1, "vote").tx_hash
    assert conn.web3.eth.get_transaction_receipt(tx_hash)["status"] == 0
    assert submitter.poll() == []
    row = store.vote(VID, 1, "vote")
    assert (row.state, row.tries) == ("failed", 1)
    assert submitter.ensure("vote", VID, 1, RESULT) == "rejected:VotingDeadlinePassed"
    row = store.vote(VID, 1, "vote")
    assert (row.state, row.tries, row.tx_hash) == ("failed", 1, tx_hash)


@pytest.mark.anvil
def test_poll__stuck_vote_replaced_with_same_nonce_and_higher_price(pool, client, chain):
    conn, store, submitter, clock = client
    before = nonce(conn)
    with manual_mining(chain):
        assert submitter.ensure("vote", VID, 1, RESULT, DESC) == "pending"
        first = store.vote(VID, 1, "vote").tx_hash
        first_price = conn.web3.eth.get_transaction(first)["gasPrice"]
        clock.now += 29
        assert submitter.poll() == []
        assert store.vote(VID, 1, "vote").tx_hash == first  # not yet
        clock.now += 2
        assert submitter.poll() == []
        row = store.vote(VID, 1, "vote")
        assert (row.state, row.nonce) == ("sent", before)
        assert row.tx_hash != first
        assert conn.voting.roundState(VID).voted == 0  # neither copy is mined yet
        replacement = conn.web3.eth.get_transaction(row.tx_hash)
        assert replacement["nonce"] == before
        assert replacement["gasPrice"] == int(first_price * FEE_BUMP) + 1
        chain.mine()
    assert [r.kind for r in poll_confirmed(submitter)] == ["vote"]
    assert store.vote(VID, 1, "vote").state == "confirmed"
    assert conn.web3.eth.get_transaction_receipt(row.tx_hash)["status"] == 1
    with pytest.raises(TransactionNotFound):
        conn.web3.eth.get_transaction_receipt(first)
    assert nonce(conn) == before + 1
    assert len(votes_of(pool, pool.workers[0], chain)) == 1


@pytest.mark.anvil
def test_poll__after_restart_stuck_replacement_replaced_above_its_price(pool, client, chain):
    conn, store, submitter, clock = client
    before = nonce(conn)
    with manual_mining(chain):
        assert submitter.ensure("vote", VID, 1, RESULT, DESC) == "pending"
        clock.now += 31
        assert submitter.poll() == []  # replaced once
        paid = conn.web3.eth.get_transaction(store.vote(VID, 1, "vote").tx_hash)["gasPrice"]
        restarted = Submitter(conn, store, clock=clock, replace_after=30)  # price forgotten
        assert restarted.poll() == []  # replaced again at once: its age is unknown
        row = store.vote(VID, 1, "vote")
        again = conn.web3.eth.get_transaction(row.tx_hash)
        assert (again["nonce"], again["gasPrice"]) == (before, int(paid * FEE_BUMP) + 1)
        chain.mine()
    assert [r.kind for r in restarted.poll()] == ["vote"]
    assert store.vote(VID, 1, "vote").state == "confirmed"
    assert conn.web3.eth.get_transaction_receipt(row.tx_hash)["status"] == 1
    assert nonce(conn) == before + 1
    assert len(votes_of(pool, pool.workers[0], chain)) == 1


# -------------------------------------------------------------------------------------------------
# Sealed mode
# -------------------------------------------------------------------------------------------------


@pytest.mark.anvil
def test_ensure__commit_then_reveal_records_result(create_voting, chain, tmp_path):
    sealed = create_voting("2/3", sealed=True, reveal_duration=HOUR)
    with ExitStack() as stack:
        submitters = []
        for i, worker in enumerate(sealed.workers[:2]):
            store = stack.enter_context(StateStore(tmp_path / f"w{i}"))
            salt = store.ensure_salt(VID, 1, RESULT)
            assert store.salt(VID, 1) == (salt, "0x" + RESULT.hex())
            submitter = Submitter(connection_for(worker, sealed.voting), store)
            assert submitter.ensure("commit", VID, 1, RESULT, DESC) == "pending"
            assert [r.kind for r in poll_confirmed(submitter)] == ["commit"]
            submitters.append(submitter)
        state = sealed.voting.roundState(VID)
        assert (state.status, state.committed, state.voted) == (2, 0b11, 0)  # Committing
        assert submitters[0].ensure("reveal", VID, 1, RESULT) == "rejected:VotingRevealNotOpen"
        past_deadline(chain, sealed.voting, VID)
        for submitter in submitters:
            assert submitter.ensure("reveal", VID, 1, RESULT) == "pending"
            assert [r.kind for r in poll_confirmed(submitter)] == ["reveal"]
            assert submitter.ensure("commit", VID, 1, RESULT) == "confirmed"
    state = sealed.voting.roundState(VID)
    assert (state.status, state.voted) == (4, 0b11)  # Consensus
    assert sealed.voting.resultOf(VID) == RESULT


@pytest.mark.anvil
def test_ensure__commit_without_salt_raises(client):
    _conn, store, submitter, _clock = client
    with pytest.raises(TransactionError, match=r"^commit: no salt stored for this attempt$"):
        submitter.ensure("commit", VID, 1, RESULT)
    assert store.vote(VID, 1, "commit") is None


# -------------------------------------------------------------------------------------------------
# Other transactions
# -------------------------------------------------------------------------------------------------


@pytest.mark.anvil
def test_send__finalize_returns_hash_and_poll_follows_it(pool, client, chain):
    conn, store, _submitter, clock = client
    metrics = Recorder()
    submitter = Submitter(conn, store, metrics, clock=clock)
    split(pool)
    past_deadline(chain, pool.voting, VID)
    tx_hash = submitter.send("finalize 0x1234", conn.voting, "finalize", VID)
    assert metrics.calls == [("vote_sent", "finalize")]
    receipt = conn.web3.eth.wait_for_transaction_receipt(tx_hash, timeout=5)
    assert receipt["status"] == 1
    assert submitter.poll() == []
    cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert metrics.calls[1:] == [("gas_spent", receipt["gasUsed"], cost),
                                 ("pending_transactions", 0)]  # fmt: skip
    state = pool.voting.roundState(VID)
    assert (state.status, state.attempt) == (1, 2)  # Voting, attempt 2


@pytest.mark.anvil
def test_send__estimate_revert_raises_with_error_name(pool, client):
    conn, _store, submitter, _clock = client
    pool.voting.openAndVote(DESC, RESULT, sender=pool.workers[1])
    before = nonce(conn, "pending")
    with pytest.raises(TransactionError) as raised:
        submitter.send("finalize r1", conn.voting, "finalize", VID)
    assert raised.value.error == "VotingNothingToFinalize"
    assert raised.value.action == "finalize r1"
    assert str(raised.value).startswith("finalize r1: reverts: VotingNothingToFinalize")
    assert nonce(conn, "pending") == before


@pytest.mark.anvil
def test_send__broadcast_refused_raises_and_leaves_no_nonce_gap(pool, client, chain):
    conn, _store, submitter, _clock = client
    split(pool)
    past_deadline(chain, pool.voting, VID)
    before = nonce(conn)
    submitter.gas_margin = 1_000_000  # a gas limit far above the block's: the node refuses it
    with pytest.raises(TransactionError, match=r"^finalize: the node refused it: ") as raised:
        submitter.send("finalize", conn.voting, "finalize", VID)
    assert raised.value.error is None
    assert nonce(conn, "pending") == before
    submitter.gas_margin = 1.2
    tx_hash = submitter.send("finalize", conn.voting, "finalize", VID)
    assert conn.web3.eth.get_transaction(tx_hash)["nonce"] == before
    assert submitter.wait(tx_hash)["status"] == 1
    assert nonce(conn) == before + 1
