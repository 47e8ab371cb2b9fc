"""`ape run deploy`: end to end on a chain with Volta's chain id, the manifest it writes, the
`check` command and the confirmation asked first."""

import json
from datetime import datetime

import pytest
from ape import chain, project

from scripts._params import namehash
from tests.deploy.conftest import MANIFEST, deploy_args

pytestmark = pytest.mark.anvil

ZERO = "0x" + "00" * 20


# -------------------------------------------------------------------------------------------------
# Deploying
# -------------------------------------------------------------------------------------------------


def test_deploy__end_to_end_with_ape_run(
    ape_run, volta, write_params, deployments_dir, volta_workers, on_volta, deployer
):
    params = write_params(pool={"initial_workers": volta_workers[:3]})

    result = ape_run(
        "deploy", *deploy_args(params, "--fund", "1.5 ether"), "--network", volta,
        "--deployments-dir", str(deployments_dir),
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((deployments_dir / MANIFEST).read_text())
    voting = manifest["contracts"]["WorkerVoting"]["address"]
    rewards = manifest["contracts"]["WorkerRewards"]["address"]
    for record in manifest["transactions"]:
        assert record["action"] in result.stdout
        assert f"{record['gas_used']:,} gas  tx {record['tx_hash']}" in result.stdout
    assert (
        f"Deployed WorkerVoting at {voting} and WorkerRewards at {rewards} on energyweb:volta "
        "(chain id 73799)"
    ) in result.stdout
    with on_volta():
        voting, rewards = project.WorkerVoting.at(voting), project.WorkerRewards.at(rewards)
        assert voting.owner() == deployer.address  # --account TEST::0 is test account 0
        assert voting.workers() == volta_workers[:3]
        assert rewards.voting() == voting.address
        assert rewards.token() == ZERO
        assert voting.epochLength() == rewards.epochLength() == 7 * 24 * 3600
        assert rewards.start() == voting.epochStart()
        assert voting.maxWindow() == 24 * 3600  # half of the 2-day registration window
        assert rewards.registrationWindow() == 2 * 24 * 3600
        assert rewards.epochInfo(0).pot == 15 * 10**17
        config, version = voting.currentConfig()
        assert (tuple(config), version) == ((0, False, 900, 0, 0, 0, 3, ZERO, 0), 0)


def test_deploy__manifest_records_everything(
    run_deploy, write_params, deployments_dir, volta_workers, on_volta, deployer
):
    role = "worker.roles.matching.apps.ewc-workers.iam.ewc"
    with on_volta():
        gate = deployer.deploy(project.MockClaimManager)
        token = deployer.deploy(project.MockToken)
        token.mint(deployer, 10**21, sender=deployer)
        for worker in volta_workers[:2]:
            gate.grant(worker, namehash(role), 2, sender=deployer)
    params = write_params(
        pool={"initial_workers": volta_workers[:2]},
        voting={"mode": "sealed", "reveal_duration": "10m", "threshold": 2},
        reward={"token": token.address, "weights": {"availability": 1000, "consistency": 1000,
                                                    "accuracy": 5000, "speed": 3000}},
        eligibility_gate={"address": gate.address, "role": role, "version": 2},
    )  # fmt: skip

    result = run_deploy(*deploy_args(params, "--fund", "5 token"))

    assert result.exit_code == 0, result.output
    manifest = json.loads((deployments_dir / MANIFEST).read_text())
    assert manifest["status"] == "complete"
    assert (manifest["network"], manifest["chain_id"]) == ("energyweb:volta", 73799)
    assert manifest["deployer"] == deployer.address
    assert manifest["params_file"] == str(params)
    assert datetime.fromisoformat(manifest["started_at"]) <= datetime.fromisoformat(
        manifest["completed_at"]
    )
    assert manifest["compiler"]["configured_version"] == "0.8.28"
    assert manifest["compiler"]["version"].startswith("0.8.28")
    assert manifest["compiler"]["evm_version"] == "london"
    assert manifest["parameters"]["reward"]["weights"] == [1000, 1000, 5000, 3000]
    assert manifest["parameters"]["voting"]["reveal_duration"] == 600
    assert manifest["parameters"]["voting"]["max_window"] == 24 * 3600  # as deployed
    assert manifest["parameters"]["eligibility_gate"] == {
        "address": gate.address,
        "role": role,
        "version": 2,
    }
    actions = [record["action"] for record in manifest["transactions"]]
    assert actions == [
        "deploy WorkerPoolAdmin",
        "deploy WorkerVoting",
        "deploy WorkerRewards",
        "setEligibilityGate",
        *(f"addWorker {worker}" for worker in volta_workers[:2]),
        "approve reward token",
        "fund epoch 0",
    ]
    assert manifest["gas_used"] == sum(r["gas_used"] for r in manifest["transactions"])
    with on_volta():
        for record in manifest["transactions"]:
            receipt = chain.get_receipt(record["tx_hash"])
            assert (receipt.block_number, receipt.gas_used) == (
                record["block_number"],
                record["gas_used"],
            )
        for name, entry in manifest["contracts"].items():
            assert chain.get_receipt(entry["tx_hash"]).contract_address == entry["address"], name
        voting = project.WorkerVoting.at(manifest["contracts"]["WorkerVoting"]["address"])
        rewards = project.WorkerRewards.at(manifest["contracts"]["WorkerRewards"]["address"])
        assert tuple(voting.eligibilityGate()) == (gate.address, namehash(role), 2)
        assert voting.configAt(0).sealedMode
        assert rewards.token() == token.address
        assert rewards.epochInfo(0).pot == 5 * 10**18 == token.balanceOf(rewards)


def test_deploy__check_validates_and_sends_nothing(
    run_deploy, write_params, deployments_dir, volta_workers, nonce_unchanged
):
    params = write_params(pool={"initial_workers": volta_workers[:3]})

    result = run_deploy("check", "--params", str(params), "--fund", "2 VT")

    assert result.exit_code == 0, result.output
    assert "threshold        simple majority" in result.output
    assert f"initial worker   {volta_workers[2]}" in result.output
    assert "Fund the current epoch with 2 VT (2000000000000000000 base units)" in result.output
    assert "max window       86400 s (1d) (longest vote or reveal window)" in result.output
    assert "Warning" not in result.output
    assert "Parameters are valid for energyweb:volta (chain id 73799); nothing sent." in (
        result.output
    )
    assert not deployments_dir.exists()


def test_deploy__check_warns_of_windows_too_short_for_5s_blocks(
    run_deploy, write_params, deployments_dir, nonce_unchanged
):
    params = write_params(voting={"vote_duration": 30})

    result = run_deploy("check", "--params", str(params))

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith("Warning: voting.vote_duration is 30 s, 6 blocks of 5 s")
    assert "Parameters are valid for energyweb:volta" in result.output


def test_deploy__asks_first_and_stops_when_declined(
    run_deploy, write_params, deployments_dir, nonce_unchanged
):
    params = write_params()
    args = deploy_args(params)
    args.remove("--yes")

    result = run_deploy(*args, user_input="n\n")

    assert result.exit_code == 1
    assert "Deploy to energyweb:volta? [y/N]: n" in result.output
    assert "Aborted" in result.output
    assert not deployments_dir.exists()


def test_deploy__local_example_checked_on_ape_foundry(ape_run, tmp_path):
    result = ape_run(
        "deploy", "check", "--params", "networks/local.yaml", "--network",
        "ethereum:local:foundry", "--deployments-dir", str(tmp_path),
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Parameters are valid for ethereum:local (chain id 31337)" in result.stdout
