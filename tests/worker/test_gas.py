"""Gas limits: a vote estimated as a plain one that lands as the deciding one in the same block,
and finalize, never run out of gas (`worker.gas.GAS_FLOORS`)."""

from contextlib import ExitStack

import pytest
from eth_utils import keccak

from tests.worker.chainutil import connection_for
from worker.config import ChainConfig
from worker.descriptor import RoundNaming
from worker.gas import GAS_FLOORS, gas_floors, gas_limit
from worker.state import StateStore
from worker.submit import Submitter

DESC = RoundNaming.of("gas-test", {}, ["uint256"]).event("round 1")
VID = DESC.voting_id
RESULT, OTHER = keccak(text="root A"), keccak(text="root B")


def test_gas_floor__per_function_table():
    assert GAS_FLOORS == {"openAndVote": 200_000, "openAndCommit": 200_000, "vote": 200_000,
                         "commit": 200_000, "reveal": 200_000, "finalize": 200_000,
                         "register": 1_000_000}  # fmt: skip


@pytest.mark.anvil
def test_votes_estimated_plain_land_deciding_in_one_block(create_voting, chain, tmp_path):
    net = create_voting("3/4")
    net.voting.openAndVote(DESC, RESULT, sender=net.workers[3])
    with ExitStack() as stack:
        submitters = []
        for i, worker in enumerate(net.workers[:2]):
            store = stack.enter_context(StateStore(tmp_path / f"w{i}"))
            submitter = Submitter(connection_for(worker, net.voting), store)
            # NOTE: workers on different nodes do not see each other's pending votes: each
            # estimates on the latest block.
            submitter._pending_estimates = False
            submitters.append((store, submitter))
        chain.provider.make_request("evm_setAutomine", [False])
        try:
            # Both estimate a second vote (no quorum yet); in the block the later one is the
            # third: it starts the clock and decides the round.
            assert [s.ensure("vote", VID, 1, RESULT) for _store, s in submitters] == ["pending"] * 2
            chain.mine()
        finally:
            chain.provider.make_request("evm_setAutomine", [True])
        eth = chain.provider.web3.eth
        for store, _submitter in submitters:
            tx_hash = store.vote(VID, 1, "vote").tx_hash
            assert eth.get_transaction(tx_hash)["gas"] >= GAS_FLOORS["vote"]
            assert eth.get_transaction_receipt(tx_hash)["status"] == 1
    st = net.voting.roundState(VID)
    assert (st.status, st.leaderVotes) == (4, 3)  # Consensus with the three votes


@pytest.mark.anvil
def test_finalize__sent_with_the_floor(create_voting, chain, tmp_path):
    net = create_voting("2/3")
    net.voting.openAndVote(DESC, RESULT, sender=net.workers[1])
    net.voting.vote(VID, OTHER, sender=net.workers[2])
    chain.pending_timestamp = int(net.voting.roundState(VID).deadline) + 1
    chain.mine()
    with StateStore(tmp_path) as store:
        submitter = Submitter(connection_for(net.workers[0], net.voting), store)
        tx_hash = submitter.send("finalize", submitter.conn.voting, "finalize", VID)
        assert submitter.wait(tx_hash)["status"] == 1
    transaction = chain.provider.web3.eth.get_transaction(tx_hash)
    assert transaction["gas"] >= GAS_FLOORS["finalize"]


def test_gas_limit__estimate_times_margin_or_the_floor():
    floors = {"vote": 200_000}
    assert gas_limit("vote", 42_000, 1.2, floors) == 200_000
    assert gas_limit("vote", 190_000, 1.2, floors) == 228_000
    assert gas_limit("claim", 1_000_001, 1.2, floors) == 1_200_002  # no floor: rounded up
    assert gas_limit("vote", 42_000, 1.2, {"vote": 0}) == 50_400


def test_gas_floors__the_config_overrides_and_extends_the_table():
    config = ChainConfig(network="ethereum:local", account="x",
                         gas_floors={"vote": 250_000, "newMethod": 90_000})  # fmt: skip
    floors = gas_floors(config.gas_floors)
    assert (floors["vote"], floors["newMethod"], floors["reveal"]) == (250_000, 90_000, 200_000)
    with pytest.raises(ValueError, match="gas_floors"):
        ChainConfig(network="ethereum:local", account="x", gas_floors={"vote": -1})
