"""`ape run admin`: every command against a network deployed by `ape run deploy` on a chain with
Volta's chain id, reading the manifest the deployment wrote."""

import json

import pytest
from ape import accounts, project
from eth_account import Account
from eth_utils import keccak

from tests.conftest import descriptor_id, event_descriptor

pytestmark = pytest.mark.anvil

ZERO = "0x" + "00" * 20


@pytest.fixture
def network(run_deploy, write_params, deployments_dir, volta_workers, on_volta):
    """A deployed network (pool limit 5, workers 1-3) and its contracts, connected."""
    params = write_params(pool={"max_workers": 5, "initial_workers": volta_workers[:3]})
    args = ["contracts", "--params", str(params), "--account", "TEST::0", "--yes"]
    result = run_deploy(*args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((deployments_dir / "energyweb-volta.json").read_text())
    with on_volta():
        yield (
            project.WorkerVoting.at(manifest["contracts"]["WorkerVoting"]["address"]),
            project.WorkerRewards.at(manifest["contracts"]["WorkerRewards"]["address"]),
        )


def send(run_admin, *args: str, account: str = "TEST::0"):
    """Runs an admin transaction command without the confirmation prompt."""
    return run_admin(*args, "--account", account, "--yes")


def success_line(voting, text: str) -> str:
    return f"{text} on energyweb:volta (WorkerVoting {voting.address})"


# -------------------------------------------------------------------------------------------------
# Pool
# -------------------------------------------------------------------------------------------------


def test_add_worker__enrols_and_prints_gas(run_admin, network, volta_workers):
    voting, _ = network
    new = volta_workers[3]

    result = send(run_admin, "add-worker", new)

    assert result.exit_code == 0, result.output
    assert f"addWorker {new}" in result.output and " gas  tx 0x" in result.output
    assert success_line(voting, f"Added {new}; 4 active workers") in result.output
    assert voting.isWorker(new)


def test_add_worker__over_the_pool_limit_refused(run_admin, network, deployer):
    extra = [account.address for account in accounts.test_accounts[4:7]]
    nonce = deployer.nonce

    result = send(run_admin, "add-worker", *extra)

    assert result.exit_code == 2
    assert "3 active + 3 new workers exceed the pool size limit 5" in result.output
    assert deployer.nonce == nonce


def test_add_worker__same_address_twice_refused(run_admin, network, volta_workers):
    worker = volta_workers[3]

    result = send(run_admin, "add-worker", worker, worker.lower())

    assert result.exit_code == 2
    assert f"given more than once: {worker}" in result.output


def test_add_worker__asks_first(run_admin, network, volta_workers, deployer):
    voting, _ = network
    nonce = deployer.nonce

    result = run_admin("add-worker", volta_workers[3], "--account", "TEST::0", user_input="n\n")

    assert result.exit_code == 1
    assert "Add 1 worker(s) on energyweb:volta? [y/N]: n" in result.output
    assert deployer.nonce == nonce and not voting.isWorker(volta_workers[3])


def test_remove_worker__removes_for_good(run_admin, network, volta_workers):
    voting, _ = network
    gone = volta_workers[0]

    removed = send(run_admin, "remove-worker", gone)
    readded = send(run_admin, "add-worker", gone)

    assert removed.exit_code == 0, removed.output
    assert success_line(voting, f"Removed {gone}; 2 active workers") in removed.output
    assert not voting.isWorker(gone)
    assert readded.exit_code == 2
    assert f"{gone} was removed before; removal is final" in readded.output


def test_remove_worker__unknown_worker_refused(run_admin, network, volta_workers):
    result = send(run_admin, "remove-worker", volta_workers[3])

    assert result.exit_code == 2
    assert f"{volta_workers[3]} is not an active worker" in result.output


def test_admin__only_the_owner_sends(run_admin, network, volta_workers, deployer):
    result = send(run_admin, "add-worker", volta_workers[3], account="TEST::5")

    assert result.exit_code == 2
    expected = f"{accounts.test_accounts[5].address} is not the owner of WorkerVoting"
    assert f"{expected} (owner: {deployer.address})" in result.output


# -------------------------------------------------------------------------------------------------
# Rewards
# -------------------------------------------------------------------------------------------------


def test_fund__current_epoch_by_default(run_admin, network):
    _, rewards = network

    result = send(run_admin, "fund", "2.5 VT")

    assert result.exit_code == 0, result.output
    assert "fund epoch 0" in result.output
    assert "Funded epoch 0 with 2.5 VT (2500000000000000000 base units); its pot is 2.5 VT" in (
        result.output
    )
    assert rewards.epochInfo(0).pot == 25 * 10**17


def test_fund__later_epoch_in_wei(run_admin, network):
    _, rewards = network

    result = send(run_admin, "fund", "12345", "--epoch", "3")

    assert result.exit_code == 0, result.output
    assert rewards.epochInfo(3).pot == 12345


def test_fund__bad_amount_refused(run_admin, network):
    result = send(run_admin, "fund", "lots")

    assert result.exit_code == 2
    assert "not an amount: 'lots'" in result.output


def test_fund__erc20_pot_is_approved_first(
    run_deploy, run_admin, write_params, deployments_dir, on_volta, deployer
):
    with on_volta():
        token = deployer.deploy(project.MockToken)
        token.mint(deployer, 10**20, sender=deployer)
    params = write_params(reward={"token": token.address})
    args = ["contracts", "--params", str(params), "--account", "TEST::0", "--yes"]
    assert run_deploy(*args).exit_code == 0

    result = send(run_admin, "fund", "3 token")

    assert result.exit_code == 0, result.output
    assert "approve reward token" in result.output and "fund epoch 0" in result.output
    assert "Funded epoch 0 with 3 MRT (3000000000000000000 base units)" in result.output
    manifest = json.loads((deployments_dir / "energyweb-volta.json").read_text())
    with on_volta():
        rewards = project.WorkerRewards.at(manifest["contracts"]["WorkerRewards"]["address"])
        assert rewards.epochInfo(0).pot == 3 * 10**18 == token.balanceOf(rewards)


def test_set_weights__apply_from_next_epoch(run_admin, network):
    voting, rewards = network

    result = send(run_admin, "set-weights", "2500", "2500", "2500", "2500")

    assert result.exit_code == 0, result.output
    assert success_line(
        voting, "Weights availability 2500, consistency 2500, accuracy 2500, speed 2500 apply "
        "from epoch 1"
    ) in result.output  # fmt: skip
    assert tuple(rewards.weights()) == ([2000, 2000, 4000, 2000], [2500] * 4, 1)


def test_set_weights__must_sum_to_10000(run_admin, network):
    result = send(run_admin, "set-weights", "2500", "2500", "2500", "2000")

    assert result.exit_code == 2
    assert "must sum to 10000, got 9500" in result.output


# -------------------------------------------------------------------------------------------------
# Round parameters, pause, ownership
# -------------------------------------------------------------------------------------------------


def test_set_config__from_flags(run_admin, network):
    voting, _ = network

    result = send(run_admin, "set-config", "--mode", "sealed", "--reveal-duration", "10m")

    assert result.exit_code == 0, result.output
    assert "mode             sealed   (was open)" in result.output
    assert "reveal duration  600 s (10m)   (was not set)" in result.output
    assert success_line(voting, "Round parameters version 1 set") in result.output
    config, version = voting.currentConfig()
    assert (tuple(config), version) == ((0, True, 900, 600, 0, 0, 3, ZERO, 0), 1)


def test_set_config__from_params_file(run_admin, network, write_params):
    voting, _ = network
    failover = accounts.test_accounts[9].address
    params = write_params(
        "new.yaml",
        voting={
            "threshold": 2,
            "fallback": {"policy": "failover", "failover": failover, "failover_timeout": "1d"},
            "max_window": "1d",  # the deployed one: accepted
        },
    )

    result = send(run_admin, "set-config", "--params", str(params), "--vote-duration", "20m")

    assert result.exit_code == 0, result.output
    assert f"fallback         failover to {failover}, timeout 86400 s (1d)" in result.output
    config, _ = voting.currentConfig()
    assert tuple(config) == (2, False, 1200, 0, 2, 0, 3, failover, 86400)


def test_set_config__failover_needs_a_timeout(run_admin, network, deployer):
    voting, _ = network
    failover = accounts.test_accounts[9].address
    nonce = deployer.nonce

    missing = send(run_admin, "set-config", "--fallback", "failover", "--failover", failover)
    given = send(
        run_admin, "set-config", "--fallback", "failover", "--failover", failover,
        "--failover-timeout", "6h",
    )  # fmt: skip

    assert missing.exit_code == 2
    assert "config.fallback.failover_timeout: policy failover needs failover_timeout" in (
        missing.output
    )
    assert given.exit_code == 0, given.output
    assert tuple(voting.currentConfig()[0])[4:] == (2, 0, 3, failover, 6 * 3600)
    assert deployer.nonce == nonce + 1


def test_set_config__plurality_of_one_refused(run_admin, network):
    result = send(run_admin, "set-config", "--fallback", "plurality", "--min-votes", "1")

    assert result.exit_code == 2
    assert "config.fallback.min_votes: policy plurality needs min_votes >= 2" in result.output


def test_set_config__max_window_is_fixed(run_admin, network, write_params):
    params = write_params("new.yaml", voting={"max_window": "2h"})

    result = send(run_admin, "set-config", "--params", str(params))

    assert result.exit_code == 2
    assert "voting.max_window is fixed at deployment (86400 s), got 7200" in result.output


def test_set_config__invalid_refused(run_admin, network, deployer):
    nonce = deployer.nonce

    sealed = send(run_admin, "set-config", "--mode", "sealed")
    too_long = send(run_admin, "set-config", "--vote-duration", "3d")
    too_many = send(run_admin, "set-config", "--threshold", "6")

    assert sealed.exit_code == 2
    assert "config.reveal_duration: sealed mode needs a reveal duration >= 1 s" in sealed.output
    assert too_long.exit_code == 2
    assert "voting.vote_duration (259200 s) exceeds the longest window, 86400 s" in (
        too_long.output
    )
    assert too_many.exit_code == 2
    assert "threshold 6 exceeds the pool size limit 5" in too_many.output
    assert deployer.nonce == nonce


def test_pause_and_unpause(run_admin, network):
    voting, _ = network

    paused = send(run_admin, "pause")
    again = send(run_admin, "pause")
    status = run_admin("status")
    unpaused = send(run_admin, "unpause")

    assert paused.exit_code == 0, paused.output
    assert success_line(voting, "Paused new rounds and votes") in paused.output
    assert again.exit_code == 2 and "WorkerVoting is already paused" in again.output
    assert "Paused: yes (round clocks stand still)" in status.output
    assert unpaused.exit_code == 0, unpaused.output
    assert not voting.poolState().paused


def test_ownership__two_steps(run_admin, network):
    voting, rewards = network
    heir = accounts.test_accounts[6].address

    offered = send(run_admin, "transfer-ownership", heir)
    wrong = send(run_admin, "accept-ownership", account="TEST::0")
    accepted = send(run_admin, "accept-ownership", account="TEST::6")

    assert offered.exit_code == 0, offered.output
    assert "transferOwnership WorkerVoting" in offered.output
    assert "transferOwnership WorkerRewards" in offered.output
    assert wrong.exit_code == 2 and "is not the pending owner of WorkerVoting" in wrong.output
    assert accepted.exit_code == 0, accepted.output
    assert voting.owner() == rewards.owner() == heir


# -------------------------------------------------------------------------------------------------
# Status and manifests
# -------------------------------------------------------------------------------------------------


def test_status__pool_parameters_rounds_and_epoch(run_admin, network, volta_workers):
    voting, _ = network
    descriptor, result_hash = event_descriptor("matching:2026-11-23T00Z"), keccak(text="root")
    voting_id = descriptor_id(descriptor)
    for worker in accounts.test_accounts[1:3]:
        voting.openAndVote(descriptor, result_hash, sender=worker)
    assert send(run_admin, "fund", "1 VT").exit_code == 0

    result = run_admin("status")

    assert result.exit_code == 0, result.output
    out = result.output
    assert "Network energyweb:volta (chain id 73799), block" in out
    assert "Paused: no" in out
    assert "Pool: 3 active workers (limit 5), membership generation 3" in out
    assert all(f"  {worker}" in out for worker in volta_workers[:3])
    assert "threshold        simple majority" in out
    assert "max window       86400 s (1d) (fixed at deployment)" in out
    assert "registration window 172800 s (2d), claim expiry 7776000 s (90d)" in out
    head, length = voting.chainHead()
    assert f"Result chain: length {length}, head 0x{bytes(head).hex()}" in out
    assert length == 1
    assert f"#0 Consensus        round 0x{voting_id.hex()}  result 0x{result_hash.hex()}" in out
    assert "attempt 1, 2 votes" in out
    assert "current epoch 0" in out and "pot 1 VT (1000000000000000000 base units)" in out


def test_admin__missing_manifest_refused(run_admin, deployments_dir):
    result = run_admin("status")

    assert result.exit_code == 2
    assert f"no manifest at {deployments_dir / 'energyweb-volta.json'}" in result.output


def test_admin__manifest_given_by_path(run_admin, network, deployments_dir, tmp_path):
    voting, _ = network
    moved = tmp_path / "elsewhere.json"
    (deployments_dir / "energyweb-volta.json").rename(moved)

    result = run_admin("status", "--manifest", str(moved))

    assert result.exit_code == 0, result.output
    assert f"manifest {moved}" in result.output
    assert f"WorkerVoting  {voting.address}" in result.output


def test_admin__manifest_of_another_chain_refused(run_admin, network, deployments_dir, tmp_path):
    manifest = json.loads((deployments_dir / "energyweb-volta.json").read_text())
    other = tmp_path / "mainnet.json"
    other.write_text(json.dumps(manifest | {"network": "energyweb:mainnet", "chain_id": 246}))

    result = run_admin("status", "--manifest", str(other))

    assert result.exit_code == 2
    assert "connected to chain id 73799 (energyweb:volta), but manifest" in result.output


# -------------------------------------------------------------------------------------------------
# Keystore accounts
# -------------------------------------------------------------------------------------------------


def test_keystore_account__deploys_and_administers(
    ape_run, ape_data_folder, volta, write_params, deployments_dir, on_volta, deployer
):
    key = Account.create()
    with on_volta():
        deployer.transfer(key.address, 10**20)
    passphrase = "correct horse battery staple 42!"
    keyfile = ape_data_folder / "accounts" / "operator.json"  # as `ape accounts import` writes it
    keyfile.parent.mkdir(exist_ok=True)
    keyfile.write_text(json.dumps(Account.encrypt(key.key, passphrase)))
    params = write_params()
    where = ["--network", volta, "--deployments-dir", str(deployments_dir), "--account", "operator"]

    deployed = ape_run(
        "deploy", "contracts", "--params", str(params), *where, stdin=f"y\n{passphrase}\n"
    )
    paused = ape_run(
        "admin", "pause", *where, "--yes", env={"APE_ACCOUNTS_operator_PASSPHRASE": passphrase}
    )

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "Deploy to energyweb:volta? [y/N]" in deployed.stdout
    assert f"Deployer and owner: {key.address}" in deployed.stdout
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert "Paused new rounds and votes on energyweb:volta" in paused.stdout
    manifest = json.loads((deployments_dir / "energyweb-volta.json").read_text())
    assert manifest["deployer"] == key.address
    with on_volta():
        voting = project.WorkerVoting.at(manifest["contracts"]["WorkerVoting"]["address"])
        assert voting.owner() == key.address and voting.poolState().paused
