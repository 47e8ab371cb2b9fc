"""Gas limits: a vote never runs out of gas because of what lands before it in its block, and the
worker counts a vote as agreeing only once the chain counted it."""

import logging
import time
from contextlib import contextmanager

import pytest
from eth_utils import keccak

from tests.contracts.test_sealed import salt_of
from tests.worker.chainutil import connection_for
from worker.config import ChainConfig
from worker.gas import GAS_FLOORS, gas_floors, gas_limit
from worker.metrics import Metrics
from worker.rounds import RoundDriver
from worker.state import StateStore
from worker.submit import Submitter, commitment
from worker.workflow import load_workflow

VID = keccak(text="gas round")
A, B = keccak(text="root A"), keccak(text="root B")
HEADROOM = 1.3  # the floors stay this far above the costliest path measured today


def test_gas_limit__estimate_times_margin_or_the_floor():
    floors = {"vote": 200_000}
    assert gas_limit("vote", 42_000, 1.2, floors) == 200_000
    assert gas_limit("vote", 190_000, 1.2, floors) == 228_000
    assert gas_limit("register", 1_000_001, 1.2, floors) == 1_200_002  # no floor: rounded up
    assert gas_limit("vote", 42_000, 1.2, {"vote": 0}) == 50_400


def test_gas_floors__one_table_the_config_overrides_and_extends():
    assert {GAS_FLOORS[m] for m in ("vote", "commit", "reveal", "finalize")} == {200_000}
    assert GAS_FLOORS["openAndVote"] == GAS_FLOORS["openAndCommit"] == 200_000
    config = ChainConfig(network="ethereum:local", account="x",
                         gas_floors={"vote": 250_000, "newMethod": 90_000})  # fmt: skip
    floors = gas_floors(config.gas_floors)
    assert (floors["vote"], floors["newMethod"], floors["reveal"]) == (250_000, 90_000, 200_000)
    with pytest.raises(ValueError, match="gas_floors"):
        ChainConfig(network="ethereum:local", account="x", gas_floors={"vote": -1})


# -------------------------------------------------------------------------------------------------
# The floors cover the costliest path of each call (embedded chain)
# -------------------------------------------------------------------------------------------------


def _opening_deciding_vote(create_voting, chain):
    net = create_voting("1/1")
    return net.voting.vote(VID, A, sender=net.workers[0])


def _deciding_vote_4_of_7(create_voting, chain):
    net = create_voting("4/7")
    for worker in net.workers[:3]:
        net.voting.vote(VID, A, sender=worker)
    net.voting.vote(VID, B, sender=net.workers[4])
    return net.voting.vote(VID, A, sender=net.workers[3])


def _finalize(create_voting, chain, fallback: str):
    options = {"plurality_min_votes": 1} if fallback == "plurality" else {}
    net = create_voting("3/4", fallback=fallback, **options)
    receipt = None
    for _attempt in (1, 2):
        net.voting.vote(VID, A, sender=net.workers[0])
        net.voting.vote(VID, A, sender=net.workers[1])
        net.voting.vote(VID, B, sender=net.workers[2])
        chain.pending_timestamp = net.voting.roundState(VID).deadline + 1
        receipt = net.voting.finalize(VID, sender=net.workers[3])
    return receipt


def _deciding_reveal(create_voting, chain):
    net = create_voting("3/4", sealed=True, speed_rank=2)
    voting, w = net.voting, net.workers
    for worker in w:
        voting.commit(VID, commitment_for(voting, chain, worker, A), sender=worker)
    for worker in w[:2]:
        voting.reveal(VID, A, salt_of(worker), sender=worker)
    return voting.reveal(VID, A, salt_of(w[2]), sender=w[2])


def _opening_commit(create_voting, chain):
    net = create_voting("3/4", sealed=True)
    worker = net.workers[0]
    return net.voting.commit(VID, commitment_for(net.voting, chain, worker, A), sender=worker)


def commitment_for(voting, chain, worker, result):
    return commitment(result, salt_of(worker), worker.address, VID, 1, chain.chain_id,
                      voting.address)  # fmt: skip


PATHS = {
    "vote opens and decides (1/1)": ("vote", _opening_deciding_vote),
    "deciding vote (4/7)": ("vote", _deciding_vote_4_of_7),
    "finalize applies plurality": ("finalize", lambda c, ch: _finalize(c, ch, "plurality")),
    "finalize fails the round": ("finalize", lambda c, ch: _finalize(c, ch, "alert")),
    "deciding reveal": ("reveal", _deciding_reveal),
    "opening commit": ("commit", _opening_commit),
}


@pytest.mark.parametrize(("method", "path"), PATHS.values(), ids=PATHS.keys())
def test_gas_floor__covers_the_costliest_path(create_voting, chain, method, path):
    receipt = path(create_voting, chain)
    assert receipt.status == 1
    print(f"{method}: {receipt.gas_used:,} gas")
    assert receipt.gas_used * HEADROOM < GAS_FLOORS[method], receipt.gas_used


# -------------------------------------------------------------------------------------------------
# Estimated as a plain vote, mined as the deciding vote (anvil, one block)
# -------------------------------------------------------------------------------------------------


@contextmanager
def manual_mining(chain):
    chain.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        chain.provider.make_request("evm_setAutomine", [True])


def mined(conn, tx_hash: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return conn.web3.eth.get_transaction_receipt(tx_hash)
        except Exception:
            time.sleep(0.05)
    raise AssertionError(f"{tx_hash} was not mined")


def overtake(submitter: Submitter) -> None:
    """Prices `submitter`'s transactions above the node's price: a block orders them first."""
    price = submitter._gas_price()
    submitter._gas_price = lambda: 3 * price


def team(create_voting, tmp_path, threshold: str, **submitter_options):
    net = create_voting(threshold)
    conns = [connection_for(w, net.voting) for w in net.workers]
    stores = [StateStore(tmp_path / f"w{i}") for i in range(len(conns))]
    subs = [Submitter(c, s, **submitter_options) for c, s in zip(conns, stores)]
    return net, conns, stores, subs


@pytest.mark.anvil
@pytest.mark.parametrize(("floors", "status"), [(None, 1), ({"vote": 0}, 0)],
                         ids=["with floors", "without floors"])  # fmt: skip
def test_vote__estimated_plain_but_mined_deciding__has_the_gas(create_voting, chain, tmp_path,
                                                              caplog, floors, status):  # fmt: skip
    net, conns, stores, subs = team(create_voting, tmp_path, "3/5", floors=floors)
    net.voting.vote(VID, A, sender=net.workers[1])  # opens the round
    caplog.set_level(logging.WARNING, logger="worker.submit")
    with manual_mining(chain):
        assert subs[0].ensure("vote", VID, 1, A) == "pending"  # estimated as the second vote
        overtake(subs[2])
        assert subs[2].ensure("vote", VID, 1, A) == "pending"  # lands first in the block
        chain.mine()
    receipt = mined(conns[0], stores[0].vote(VID, 1, "vote").tx_hash)
    assert receipt["status"] == status
    subs[0].poll()
    if status == 1:  # the third vote of three: it decided the round
        assert net.voting.roundState(VID).status == 4
        assert stores[0].vote(VID, 1, "vote").state == "confirmed"
    else:  # what the floor prevents: out of gas, and the log says so
        assert stores[0].vote(VID, 1, "vote").state == "failed"
        assert "vote reverted" in caplog.text and "out of gas" in caplog.text
    for store in stores:
        store.close()


# -------------------------------------------------------------------------------------------------
# "Agreed" only for a vote the chain counted
# -------------------------------------------------------------------------------------------------


def driver_for(conn, store, submitter, chain, metrics=None) -> RoundDriver:
    workflow = load_workflow("worker.workflows.matching:run")
    return RoundDriver(conn, store, submitter, workflow, None, metrics,
                       clock=lambda: chain.pending_timestamp)  # fmt: skip


@pytest.mark.anvil
def test_settle__waits_for_the_receipt_then_a_reverted_vote_is_voted_again_late(
    create_voting, chain, tmp_path
):
    from tests.worker import localnet as ln
    from worker.workflow import output_root, run_workflow

    hour = 1_750_464_000
    payload = ln.hour_payload(hour)
    result = bytes.fromhex(output_root(run_workflow(load_workflow(
        "worker.workflows.matching:run"), [payload], None))[2:])  # fmt: skip
    net, conns, stores, subs = team(create_voting, tmp_path, "3/5", floors={"vote": 0},
                                    gas_margin=1.0)  # fmt: skip
    metrics = Metrics()
    driver = driver_for(conns[0], stores[0], subs[0], chain, metrics)
    stores[0].put_input("grid", "h1", hour, hour + 3600, payload)
    driver.track(VID, (hour, hour + 3600), "settle", "trigger")
    net.voting.vote(VID, result, sender=net.workers[1])
    with manual_mining(chain):
        driver.drive(VID)  # votes, estimated as the second vote, with no floor: it runs out of gas
        overtake(subs[2])
        subs[2].ensure("vote", VID, 1, result)
        chain.mine()
    assert mined(conns[0], stores[0].vote(VID, 1, "vote").tx_hash)["status"] == 0
    net.voting.vote(VID, result, sender=net.workers[3])  # consensus without this worker
    assert driver.drive(VID) == "Consensus"
    assert stores[0].outcome(VID) is None  # its vote is in flight: no verdict yet
    subs[0].poll()
    assert stores[0].vote(VID, 1, "vote").state == "failed"
    driver.drive(VID)  # the late vote, counted
    deadline = time.monotonic() + 10
    while stores[0].vote(VID, 1, "vote").state != "confirmed" and time.monotonic() < deadline:
        subs[0].poll()
        time.sleep(0.05)
    driver.drive(VID)
    outcome = stores[0].outcome(VID)
    assert (outcome.kind, outcome.agreed) == ("Consensus", True)
    assert net.voting.roundState(VID).voted >> conns[0].pool_index & 1
    for store in stores:
        store.close()


def test_settle__a_vote_the_chain_did_not_count_is_absent(create_voting, chain, tmp_path):
    net = create_voting("2/3")
    conn = connection_for(net.workers[0], net.voting)
    with StateStore(tmp_path / "w0") as store:
        driver = driver_for(conn, store, Submitter(conn, store), chain)
        driver.track(VID, (0, 3600), "settle", "test")
        # A vote the store holds as confirmed that the chain never counted (another chain's
        # state, a lost transaction): it must not be reported as agreeing.
        store.plan_vote(VID, 1, "vote", A)
        store.set_vote_state(VID, 1, "vote", "confirmed")
        for worker in net.workers[1:]:
            net.voting.vote(VID, A, sender=worker)
        assert driver.drive(VID) == "Consensus"
        outcome = store.outcome(VID)
        assert (outcome.kind, outcome.agreed) == ("Consensus", None)
