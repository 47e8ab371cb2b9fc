"""`ape run deploy` and `ape run admin` on a chain that makes a block every 5 s (Energy Web Chain's
rhythm), through the Volta network definition (Ape's node provider) and through ape-foundry: each
step waits for its receipt and prints what the mined transaction did."""

import json

import pytest
from ape import config

from scripts import admin, deploy
from scripts._localnet import AnvilNode
from tests.deploy.conftest import VOLTA_CHAIN_ID, _invoke

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def timed_volta(tmp_path_factory) -> str:
    node = AnvilNode(tmp_path_factory.mktemp("volta5"), accounts=10, chain_id=VOLTA_CHAIN_ID,
                     block_time=5, mnemonic=config.get_config("test").mnemonic)  # fmt: skip
    node.start()
    yield f"energyweb:volta:{node.uri}"
    node.stop()


def test_deploy_then_remove_worker__on_5_s_blocks(timed_volta, write_params, tmp_path,
                                                  volta_workers):  # fmt: skip
    deployments = tmp_path / "deployments"
    common = ["--network", timed_volta, "--deployments-dir", str(deployments)]
    params = write_params(pool={"initial_workers": volta_workers[:3]})
    result = _invoke(deploy.cli, ["contracts", "--params", str(params), "--account", "TEST::0",
                                  "--yes", *common], None)  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((deployments / "energyweb-volta.json").read_text())
    assert manifest["status"] == "complete"
    voting = manifest["contracts"]["WorkerVoting"]["address"]
    assert f"Deployed WorkerVoting at {voting}" in result.output
    for record in manifest["transactions"]:
        assert record["gas_used"] > 0
        assert f"{record['gas_used']:,} gas  tx {record['tx_hash']}" in result.output

    result = _invoke(admin.cli, ["remove-worker", volta_workers[0], "--account", "TEST::0",
                                 "--yes", *common], None)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert " 0 gas" not in result.output
    assert f"Removed {volta_workers[0]}; 2 active workers" in result.output


@pytest.fixture
def timed_session_chain(chain):
    """The session's ape-foundry anvil, mining a block every 5 s instead of per transaction."""
    chain.provider.make_request("evm_setAutomine", [False])
    chain.provider.make_request("evm_setIntervalMining", [5])
    try:
        yield chain
    finally:
        chain.provider.make_request("evm_setIntervalMining", [0])
        chain.provider.make_request("evm_setAutomine", [True])


def test_deploy__ape_foundry_on_5_s_blocks_records_the_mined_transactions(
    timed_session_chain, tmp_path
):
    assert timed_session_chain.provider.auto_mine is False  # ape hands out placeholder receipts
    deployments = tmp_path / "deployments"
    common = ["--network", "ethereum:local:foundry", "--deployments-dir", str(deployments)]
    args = ["contracts", "--params", "networks/local.yaml", "--account", "TEST::0", "--yes"]
    result = _invoke(deploy.cli, [*args, *common], None)
    assert result.exit_code == 0, result.output
    manifest = json.loads((deployments / "ethereum-local.json").read_text())
    assert manifest["status"] == "complete"
    for record in manifest["transactions"]:
        assert record["block_number"] > 0 and record["gas_used"] > 0
        assert f"{record['gas_used']:,} gas  tx {record['tx_hash']}" in result.output
