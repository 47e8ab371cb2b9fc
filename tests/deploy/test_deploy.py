"""`ape run deploy`: end to end on a chain with Volta's chain id, the manifest, and every refusal
(existing manifest, wrong chain, bad parameters) happening before anything is sent."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from ape import accounts, chain, project
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3

from scripts._params import load_params, namehash
from scripts._voting import deployment_gas

pytestmark = pytest.mark.anvil

MANIFEST = "energyweb-volta.json"
ZERO = "0x" + "00" * 20
# Test accounts 1-3 of the test mnemonic.
WORKERS = (
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
)
NO_CODE = to_checksum_address("0x" + "ab" * 20)


def deploy_args(params, *extra: str) -> list[str]:
    return ["contracts", "--params", str(params), "--account", "TEST::0", "--yes", *extra]


@pytest.fixture
def nonce_unchanged(nonce_of, deployer):
    """Asserts, after the test, that the deployer sent no transaction during it."""
    before = nonce_of(deployer.address)
    yield
    assert nonce_of(deployer.address) == before


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


BAD_PARAMS = {
    "weights": (
        {"reward": {"weights": [2000, 2000, 3000, 2000]}},
        "params.reward.weights: must sum to 10000, got 9000",
    ),
    "weight names": (
        {"reward": {"weights": {"availability": 5000, "speed": 5000}}},
        "params.reward.weights: missing categories ['consistency', 'accuracy']",
    ),
    "pool limit": (
        {"pool": {"max_workers": 65}},
        "params.pool.max_workers: Input should be less than or equal to 64, got 65",
    ),
    "too many workers": (
        {"pool": {"max_workers": 2, "initial_workers": list(WORKERS)}},
        "params.pool.initial_workers: 3 workers exceed pool.max_workers (2)",
    ),
    "duplicate worker": (
        {"pool": {"initial_workers": [WORKERS[0], WORKERS[0].lower()]}},
        f"params.pool.initial_workers: listed more than once: {WORKERS[0]}",
    ),
    "bad address": (
        {"pool": {"initial_workers": ["0x1234"]}},
        "params.pool.initial_workers[0]: not an address: '0x1234'",
    ),
    "threshold": (
        {"voting": {"threshold": 6}},
        "params.voting.threshold: 6 exceeds pool.max_workers (5)",
    ),
    "registration window": (
        {
            "voting": {"mode": "sealed", "reveal_duration": "5m"},
            "reward": {"registration_window": 1200},
        },
        "params.reward.registration_window: must be at least the longest vote or reveal window "
        "+ 1 h (4500 s), so every late vote of an epoch is in before its registration closes, "
        "got 1200",
    ),
    "max window too short": (
        {"voting": {"max_window": "10m"}},
        "params.voting.max_window: 600 s is shorter than voting.vote_duration / reveal_duration "
        "(900 s)",
    ),
    "max window not below registration": (
        {"voting": {"max_window": "2d"}},
        "params.voting.max_window: 172800 s must be at most reward.registration_window - 1 h "
        "(169200 s)",
    ),
    "sealed without reveal": (
        {"voting": {"mode": "sealed"}},
        "params.voting.reveal_duration: sealed mode needs a reveal duration >= 1 s",
    ),
    "open with reveal": (
        {"voting": {"reveal_duration": 60}},
        "params.voting.reveal_duration: must be 0 in open mode, got 60",
    ),
    "plurality without minimum": (
        {"voting": {"fallback": {"policy": "plurality"}}},
        "params.voting.fallback.min_votes: policy plurality needs min_votes >= 2",
    ),
    "timeout without failover": (
        {"voting": {"fallback": {"policy": "alert", "failover_timeout": "1d"}}},
        "params.voting.fallback.failover_timeout: only policy failover uses failover_timeout; "
        "policy is alert",
    ),
    "failover timeout too long": (
        {
            "voting": {
                "fallback": {
                    "policy": "failover",
                    "failover": WORKERS[0],
                    "failover_timeout": "31d",
                }
            }
        },
        "params.voting.fallback.failover_timeout: must be 1 s to 30 d (2592000 s), got 2678400",
    ),
    "failover without address": (
        {"voting": {"fallback": {"policy": "failover"}}},
        "params.voting.fallback.failover: policy failover needs a failover address",
    ),
    "mode": (
        {"voting": {"mode": "secret"}},
        "params.voting.mode: Input should be 'open' or 'sealed', got 'secret'",
    ),
    "duration": (
        {"voting": {"vote_duration": "soon"}},
        "params.voting.vote_duration: not a duration (seconds, or a number with s, m, h, d or w)",
    ),
    "typo": (
        {"voting": {"treshold": 2}},
        "params.voting.treshold: Extra inputs are not permitted, got 2",
    ),
    "missing chain id": ({"chain_id": None}, "params.chain_id: Field required"),
    "epoch length": (
        {"reward": {"epoch_length": "30m"}},
        "params.reward.epoch_length: Input should be greater than or equal to 3600, got 1800",
    ),
    "claim expiry": (
        {"reward": {"claim_expiry": "7d"}},
        "params.reward.claim_expiry: Input should be greater than or equal to 2592000",
    ),
    "token": (
        {"reward": {"token": "ewt"}},
        "params.reward.token: must be native or an ERC-20 address; not an address: 'ewt'",
    ),
    "token without code": (
        {"reward": {"token": NO_CODE}},
        f"params.reward.token: no contract at {NO_CODE} on energyweb:volta",
    ),
    "gate role": (
        {"eligibility_gate": {"address": NO_CODE, "role": "Worker Role"}},
        "params.eligibility_gate.role: must be 0x and 64 hex digits, or a lower-case dotted role "
        "name, got 'Worker Role'",
    ),
}


@pytest.mark.parametrize("case", BAD_PARAMS, ids=list(BAD_PARAMS))
def test_deploy__bad_params_rejected_before_sending(
    case, run_deploy, write_params, deployments_dir, nonce_unchanged
):
    sections, message = BAD_PARAMS[case]
    params = write_params(**sections)

    result = run_deploy(*deploy_args(params))

    assert result.exit_code == 2
    assert "Invalid value for --params" in result.output
    assert message in result.output
    assert not deployments_dir.exists()


ONE_LINE_REFUSALS = {
    "plurality of one": (
        {"policy": "plurality", "min_votes": 1},
        "params.voting.fallback.min_votes: policy plurality needs min_votes >= 2 (one worker "
        "alone never decides), got 1",
    ),
    "failover without timeout": (
        {"policy": "failover", "failover": WORKERS[0]},
        "params.voting.fallback.failover_timeout: policy failover needs failover_timeout (how long "
        "the failover address may decide before anyone may fail the round), e.g. 1d",
    ),
}


@pytest.mark.parametrize("case", ONE_LINE_REFUSALS, ids=list(ONE_LINE_REFUSALS))
def test_deploy__refuses_what_the_contract_refuses_in_one_line(
    case, ape_run, volta, write_params, deployments_dir, nonce_unchanged
):
    fallback, message = ONE_LINE_REFUSALS[case]
    params = write_params(voting={"fallback": fallback})

    result = ape_run(
        "deploy", *deploy_args(params), "--network", volta,
        "--deployments-dir", str(deployments_dir),
    )  # fmt: skip

    assert result.returncode == 2
    problems = [line.strip() for line in result.stderr.splitlines() if "params." in line]
    assert problems == [message], result.stderr
    assert "Traceback" not in result.stderr
    assert not deployments_dir.exists()


def test_deploy__every_problem_listed_at_once(
    run_deploy, write_params, deployments_dir, nonce_unchanged
):
    params = write_params(
        pool={"max_workers": 0}, voting={"mode": "secret"}, reward={"weights": [1, 2, 3, 4]}
    )

    result = run_deploy(*deploy_args(params))

    assert result.exit_code == 2
    for field in ("params.pool.max_workers", "params.voting.mode", "params.reward.weights"):
        assert field in result.output


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
