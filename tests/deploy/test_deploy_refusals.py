"""`ape run deploy` refusing before anything is sent (existing manifest, wrong chain, a worker
without the gate's role, other code as admin module, small blocks, too little to fund), and what
fits: Energy Web Chain's 6M blocks, an admin module already on chain."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from ape import accounts, project
from web3 import HTTPProvider, Web3

from scripts._params import load_params
from scripts._voting import deployment_gas
from tests.deploy.conftest import MANIFEST, deploy_args

pytestmark = pytest.mark.anvil


# -------------------------------------------------------------------------------------------------
# Refusals: nothing is sent
# -------------------------------------------------------------------------------------------------


def test_deploy__existing_manifest_refused_unless_forced(
    run_deploy, write_params, deployments_dir, nonce_of, deployer
):
    params = write_params()
    assert run_deploy(*deploy_args(params)).exit_code == 0
    first = (deployments_dir / MANIFEST).read_text()
    nonce = nonce_of(deployer.address)

    refused = run_deploy(*deploy_args(params))

    assert refused.exit_code == 2
    assert "already records a deployment on energyweb:volta; pass --force" in refused.output
    assert (deployments_dir / MANIFEST).read_text() == first
    assert nonce_of(deployer.address) == nonce

    forced = run_deploy(*deploy_args(params, "--force"))

    assert forced.exit_code == 0, forced.output
    second = json.loads((deployments_dir / MANIFEST).read_text())
    assert second["contracts"] != json.loads(first)["contracts"]


def test_deploy__chain_id_mismatch_refused(
    run_deploy, write_params, deployments_dir, nonce_unchanged
):
    params = write_params(network="energyweb:mainnet", chain_id=246)

    result = run_deploy(*deploy_args(params))

    assert result.exit_code == 2
    assert (
        "connected to chain id 73799 (energyweb:volta), but parameter file "
        f"{params} expects chain id 246; nothing was sent"
    ) in result.output.replace("\n", " ")
    assert not deployments_dir.exists()


def test_deploy__network_mismatch_refused(
    run_deploy, volta_node, write_params, deployments_dir, nonce_unchanged
):
    params = write_params()

    result = run_deploy(*deploy_args(params), network=f"ethereum:local:{volta_node}")

    assert result.exit_code == 2
    assert "connected to network ethereum:local, but parameter file" in result.output
    assert "expects energyweb:volta; nothing was sent" in result.output.replace("\n", " ")
    assert not deployments_dir.exists()


def test_deploy__node_and_signer_chain_ids_disagree_refused(
    run_deploy, volta_node, write_params, deployments_dir, nonce_unchanged
):
    params = write_params(network=None)

    result = run_deploy(*deploy_args(params), network=f"ethereum:local:{volta_node}")

    assert result.exit_code == 2
    assert (
        "the node reports chain id 73799, but Ape signs for chain id 1337 on ethereum:local"
    ) in result.output
    assert not deployments_dir.exists()


def test_deploy__worker_without_gate_role_refused(
    run_deploy, write_params, deployments_dir, volta_workers, on_volta, deployer, nonce_of
):
    with on_volta():
        gate = deployer.deploy(project.MockClaimManager)
    role = "0x" + "11" * 32
    params = write_params(
        pool={"initial_workers": volta_workers[:1]},
        eligibility_gate={"address": gate.address, "role": role, "version": 1},
    )
    nonce = nonce_of(deployer.address)

    result = run_deploy(*deploy_args(params))

    assert result.exit_code == 2
    assert (
        f"params.pool.initial_workers[0]: {volta_workers[0]} does not hold role {role} "
        f"(version >= 1) in the eligibility gate {gate.address}"
    ) in result.output.replace("\n", " ")
    assert nonce_of(deployer.address) == nonce


@contextmanager
def block_gas_limit(uri: str, limit: int) -> Iterator[None]:
    node = Web3(HTTPProvider(uri)).provider
    node.make_request("evm_setBlockGasLimit", [hex(limit)])
    node.make_request("evm_mine", [])
    try:
        yield
    finally:
        node.make_request("evm_setBlockGasLimit", [hex(30_000_000)])
        node.make_request("evm_mine", [])


def test_deploy__fits_energy_web_chains_6m_blocks(run_deploy, write_params, deployments_dir,
                                                  volta_node):  # fmt: skip
    """Every deployment transaction fits a 6M block, below the bound the pre-check uses."""
    params = write_params()
    with block_gas_limit(volta_node, 6_000_000):
        result = run_deploy(*deploy_args(params))
    assert result.exit_code == 0, result.output
    manifest = json.loads((deployments_dir / "energyweb-volta.json").read_text())
    assert manifest["status"] == "complete"
    deployed = load_params(params)
    bounds = deployment_gas(deployed.voting.as_config(), deployed.reward.epoch_length,
                            deployed.max_window)  # fmt: skip
    for record in manifest["transactions"]:
        assert record["gas_used"] <= 6_000_000
        name = record["action"].removeprefix("deploy ")
        if name in bounds:  # the bound holds, and is not so loose that it refuses what fits
            assert record["gas_used"] <= bounds[name] <= record["gas_used"] * 1.1, (name, record)


def test_deploy__reuses_an_admin_module_already_on_chain(run_deploy, write_params, deployments_dir,
                                                         on_volta):  # fmt: skip
    """The module keeps no state: a second network on the chain reuses the first's."""
    assert run_deploy(*deploy_args(write_params())).exit_code == 0
    first = json.loads((deployments_dir / MANIFEST).read_text())
    module = first["contracts"]["WorkerPoolAdmin"]["address"]

    result = run_deploy(*deploy_args(write_params(voting={"admin_module": module}), "--force"))

    assert result.exit_code == 0, result.output
    assert f"admin module     reuse {module}" in result.output
    second = json.loads((deployments_dir / MANIFEST).read_text())
    assert second["contracts"]["WorkerPoolAdmin"] == {"address": module, "reused": True}
    assert "deploy WorkerPoolAdmin" not in [r["action"] for r in second["transactions"]]
    with on_volta():
        voting = project.WorkerVoting.at(second["contracts"]["WorkerVoting"]["address"])
        assert voting.admin() == module
        assert voting.address != first["contracts"]["WorkerVoting"]["address"]


def test_deploy__admin_module_of_other_code_refused_before_sending(
    run_deploy, write_params, deployments_dir, nonce_unchanged, on_volta
):
    with on_volta():  # a contract, not the module, from an account other than the deployer
        other = accounts.test_accounts[6].deploy(project.MockToken).address

    result = run_deploy(*deploy_args(write_params(voting={"admin_module": other})))

    assert result.exit_code == 2
    assert f"params.voting.admin_module: {other} holds other code" in result.output.replace(
        "\n", " "
    )
    assert not deployments_dir.exists()


def test_deploy__refused_when_voting_does_not_fit_a_block(
    run_deploy, write_params, deployments_dir, volta_node, nonce_unchanged
):
    with block_gas_limit(volta_node, 5_000_000):
        result = run_deploy(*deploy_args(write_params()))

    assert result.exit_code == 2
    assert "deploying WorkerVoting needs up to" in result.output
    assert "the block gas limit 5,000,000 of energyweb:volta" in result.output
    assert not deployments_dir.exists()


def test_deploy__fund_more_than_the_balance_refused(
    run_deploy, write_params, deployments_dir, nonce_unchanged
):
    params = write_params()

    result = run_deploy(*deploy_args(params, "--fund", "1000000 ether"))

    assert result.exit_code == 2
    assert "not enough to fund 1000000000000000000000000 wei and pay for gas" in result.output
    assert not deployments_dir.exists()
