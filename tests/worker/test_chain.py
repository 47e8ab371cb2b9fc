"""The worker's chain link: shipped ABIs, custom error decoding, manifests, accounts and the
start-up checks of `connect`."""

import importlib.util
import json
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from tests.conftest import ZERO_ADDRESS, descriptor_id, event_descriptor
from tests.worker import localnet as ln
from worker.chain import (
    Manifest,
    abi_document,
    connect,
    decode_error,
    default_manifest,
    load_account,
    load_manifest,
)
from worker.config import ChainConfig
from worker.errors import ManifestError, StartupError

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400
DESC = event_descriptor("round 1")
VID = descriptor_id(DESC)
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _export_abi():
    spec = importlib.util.spec_from_file_location("export_abi", ROOT / "tools" / "export_abi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def error_data(signature: str, types: list[str], values: list) -> bytes:
    return keccak(text=signature)[:4] + encode(types, values)


def config(network: str = "ethereum:local", **fields) -> ChainConfig:
    return ChainConfig(network=network, account=fields.pop("account", "TEST::1"), **fields)


# -------------------------------------------------------------------------------------------------
# ABIs and custom errors
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["WorkerVoting", "WorkerRewards"])
def test_shipped_abi__equals_compiled_abi(project, name):
    project.load_contracts()  # compiles first if a contract changed
    compiled = _export_abi().shipped_abi(name)
    assert abi_document(name) == compiled, (
        f"worker/abi/{name}.json differs from the compiled contract: "
        "run `python tools/export_abi.py`"
    )


def test_shipped_abi__carries_the_natspec_of_views_and_errors():
    """Auditors read what a view returns and what an error means from the shipped document."""
    document = abi_document("WorkerVoting")
    notice = document["userdoc"]["errors"]["VotingNotRecorded(bytes32,uint8)"][0]["notice"]
    assert "no recorded result" in notice
    views = document["userdoc"]["methods"]
    assert "one call" in views["verifyRecords(bytes32,bytes32[][],bytes[])"]["notice"]
    assert "verifyRecord(bytes32,bytes32[],bytes)" in views


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            error_data("VotingAlreadyVoted(bytes32,address)", ["bytes32", "address"],
                       [VID, ADDRESS]),
            ("VotingAlreadyVoted", {"votingId": VID, "worker": ADDRESS.lower()}),
        ),
        (
            error_data("VotingWrongStatus(bytes32,uint8)", ["bytes32", "uint8"], [VID, 7]),
            ("VotingWrongStatus", {"votingId": VID, "status": 7}),
        ),
        (error_data("VotingPaused()", [], []), ("VotingPaused", {})),
        (
            error_data("VotingInvalidConfig(string)", ["string"], ["threshold"]),
            ("VotingInvalidConfig", {"field": "threshold"}),
        ),
        (
            error_data("RewardsEpochNotEnded(uint256)", ["uint256"], [3]),
            ("RewardsEpochNotEnded", {"epoch": 3}),
        ),
    ],
    ids=["VotingAlreadyVoted", "VotingWrongStatus", "VotingPaused", "VotingInvalidConfig",
         "RewardsEpochNotEnded"],
)  # fmt: skip
def test_decode_error__known_errors_of_both_contracts(data, expected):
    assert decode_error(data) == expected
    assert decode_error("0x" + data.hex()) == expected
    assert decode_error(data.hex()) == expected


@pytest.mark.parametrize(
    "data",
    [
        None,
        b"",
        "",
        "0x",
        b"\xe4\x5a\x3b",  # shorter than a selector
        "0xzz12",  # not hex
        keccak(text="Unknown(uint256)")[:4] + encode(["uint256"], [1]),
        keccak(text="Error(string)")[:4] + encode(["string"], ["a revert string"]),
        keccak(text="VotingAlreadyVoted(bytes32,address)")[:4] + b"\x01" * 10,  # truncated args
    ],
    ids=["none", "empty", "empty-str", "0x", "short", "not-hex", "unknown", "revert-string",
         "truncated"],
)  # fmt: skip
def test_decode_error__junk_short_or_unknown_returns_none(data):
    assert decode_error(data) is None


# -------------------------------------------------------------------------------------------------
# Manifests
# -------------------------------------------------------------------------------------------------


def test_default_manifest__named_after_ecosystem_and_network(tmp_path):
    assert default_manifest(tmp_path, "energyweb:volta:node") == (
        tmp_path / "deployments" / "energyweb-volta.json"
    )
    assert default_manifest(tmp_path, "ethereum:local") == (
        tmp_path / "deployments" / "ethereum-local.json"
    )


def test_load_manifest__reads_checksummed_addresses_and_block(tmp_path):
    path = tmp_path / "manifest.json"
    voting, rewards = "0x" + "ab" * 20, "0x" + "cd" * 20
    path.write_text(json.dumps({
        "network": "energyweb:volta", "chain_id": "73799",
        "contracts": {"WorkerVoting": {"address": voting, "block_number": 1234},
                      "WorkerRewards": {"address": rewards, "block_number": None}},
    }))  # fmt: skip
    assert load_manifest(path) == Manifest(
        path=path,
        network="energyweb:volta",
        chain_id=73799,
        voting="0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB",
        rewards="0xCdCDCdCdcdcdcdCdcDcDCdcDcDCdCdcdCdcDCDcD",
        voting_block=1234,
    )


def test_load_manifest__missing_file_raises(tmp_path):
    path = tmp_path / "deployments" / "ethereum-local.json"
    with pytest.raises(ManifestError) as raised:
        load_manifest(path)
    assert raised.value.path == str(path)
    assert str(raised.value) == (
        f"deployment manifest {path}: no such file (deploy with `ape run deploy`)"
    )


MANIFEST = {
    "chain_id": 31337,
    "contracts": {
        "WorkerVoting": {"address": "0x" + "11" * 20},
        "WorkerRewards": {"address": "0x" + "22" * 20},
    },
}


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("{not json", "JSONDecodeError"),
        (json.dumps([1, 2]), "TypeError"),
        (json.dumps({**MANIFEST, "contracts": {"WorkerVoting": {"address": "0x" + "11" * 20}}}),
         "KeyError('WorkerRewards')"),
        (json.dumps({"contracts": MANIFEST["contracts"]}), "KeyError('chain_id')"),
        (json.dumps({**MANIFEST, "contracts": {**MANIFEST["contracts"],
                                               "WorkerVoting": {"address": "0x1234"}}}),
         "ValueError"),
    ],
    ids=["bad-json", "not-an-object", "missing-contract", "missing-chain-id", "bad-address"],
)  # fmt: skip
def test_load_manifest__incomplete_raises(tmp_path, text, detail):
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(ManifestError) as raised:
        load_manifest(path)
    assert raised.value.path == str(path)
    message = str(raised.value)
    assert message.startswith(f"deployment manifest {path}: not a complete deployment manifest (")
    assert detail in message


# -------------------------------------------------------------------------------------------------
# Accounts
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chain_id", [246, 73799, 1])
def test_load_account__test_account_off_local_chain_raises(chain_id):
    with pytest.raises(StartupError) as raised:
        load_account(config(), chain_id)
    assert str(raised.value) == (
        f"chain.account TEST::1: test accounts are for local chains only, this is chain id "
        f"{chain_id}"
    )


@pytest.mark.parametrize("chain_id", [31337, 1337])
def test_load_account__test_account_on_local_chain(accounts, chain_id):
    assert load_account(config(account="TEST::3"), chain_id).address == accounts[3].address


def test_load_account__malformed_test_account_raises():
    with pytest.raises(StartupError, match=r"^chain.account TEST::one: no such test account$"):
        load_account(config(account="TEST::one"), 31337)


# -------------------------------------------------------------------------------------------------
# Real reverts and start-up checks (a real node)
# -------------------------------------------------------------------------------------------------


@pytest.fixture
def deployed(project, owner, create_voting, chain, tmp_path):
    """A 2-of-3 pool (test accounts 1-3), a rewards contract and their manifest."""
    net = create_voting("2/3")
    rewards = owner.deploy(project.WorkerRewards, owner, net.voting, ZERO_ADDRESS, 3 * 3600,
                           30 * DAY, [2500, 2500, 2500, 2500])  # fmt: skip
    manifest = ln.write_manifest(tmp_path / "manifest.json", chain.chain_id, net.voting, rewards)
    return net, rewards, manifest


def revert_data(chain, sender, contract, function, *args) -> str:
    data = getattr(contract, function).encode_input(*args)
    call = {"from": sender.address, "to": contract.address, "data": data}
    with pytest.raises(ContractCustomError) as raised:
        chain.provider.web3.eth.call(call)
    return raised.value.data


@pytest.mark.anvil
def test_decode_error__real_reverts_of_both_contracts(deployed, chain):
    net, rewards, _manifest = deployed
    worker = net.workers[0]
    net.voting.openAndVote(DESC, keccak(text="A"), sender=worker)
    data = revert_data(chain, worker, net.voting, "vote", VID, keccak(text="A"))
    assert decode_error(data) == (
        "VotingAlreadyVoted",
        {"votingId": VID, "worker": worker.address.lower()},
    )
    unknown = keccak(text="never opened")
    data = revert_data(chain, worker, net.voting, "finalize", unknown)
    assert decode_error(data) == ("VotingWrongStatus", {"votingId": unknown, "status": 0})
    data = revert_data(chain, worker, net.voting, "vote", unknown, keccak(text="A"))
    assert decode_error(data) == ("VotingUnknownRound", {"votingId": unknown})
    data = revert_data(chain, worker, rewards, "register", 0, worker.address, 100)
    assert decode_error(data) == ("RewardsEpochNotEnded", {"epoch": 0})


def network_of(chain) -> str:
    return f"ethereum:local:{chain.provider.uri}"


@pytest.mark.anvil
def test_connect__checks_pass_for_enrolled_worker(deployed, chain, accounts, tmp_path):
    net, rewards, manifest = deployed
    conn = connect(config(network_of(chain), manifest=manifest, account="TEST::2"), tmp_path)
    try:
        assert conn.address == accounts[2].address
        assert (conn.chain_id, conn.pool_index) == (31337, 1)
        assert (conn.voting.address, conn.rewards.address) == (net.voting.address, rewards.address)
        assert conn.manifest == load_manifest(manifest)
        assert conn.voting.workerInfo(conn.address).active is True
    finally:
        conn.close()
    conn.close()  # idempotent
    assert chain.provider.web3.eth.chain_id == 31337  # the session's provider is still connected


@pytest.mark.anvil
def test_connect__wrong_chain_id_raises(deployed, chain, tmp_path):
    net, rewards, _manifest = deployed
    manifest = ln.write_manifest(tmp_path / "volta.json", 73799, net.voting, rewards)
    with pytest.raises(StartupError) as raised:
        connect(config(network_of(chain), manifest=manifest), tmp_path)
    assert str(raised.value) == (
        f"network {network_of(chain)}: the node reports chain id 31337, the manifest {manifest} "
        "is for chain id 73799 (check chain.network and chain.manifest)"
    )


@pytest.mark.anvil
def test_connect__no_code_at_address_raises(deployed, chain, outsider, tmp_path):
    net, _rewards, _manifest = deployed
    manifest = ln.write_manifest(tmp_path / "m.json", chain.chain_id, net.voting, outsider)
    with pytest.raises(StartupError) as raised:
        connect(config(network_of(chain), manifest=manifest), tmp_path)
    assert str(raised.value) == (
        f"WorkerRewards at {outsider.address}: no contract code on chain id 31337 (redeploy?)"
    )


@pytest.mark.anvil
def test_connect__account_not_enrolled_raises(deployed, chain, accounts, tmp_path):
    net, _rewards, manifest = deployed
    with pytest.raises(StartupError) as raised:
        connect(config(network_of(chain), manifest=manifest, account="TEST::10"), tmp_path)
    assert str(raised.value) == (
        f"account {accounts[10].address}: is not a worker of the pool of WorkerVoting "
        f"{net.voting.address} (the owner enrols it with `ape run admin add-worker`)"
    )


@pytest.mark.anvil
def test_connect__removed_worker_raises(deployed, chain, owner, accounts, tmp_path):
    net, _rewards, manifest = deployed
    net.voting.removeWorker(accounts[1], sender=owner)
    with pytest.raises(StartupError, match="was removed from the pool of WorkerVoting"):
        connect(config(network_of(chain), manifest=manifest, account="TEST::1"), tmp_path)


@pytest.mark.anvil
def test_connect__not_enrolled_allowed_without_require_enrolled(deployed, chain, accounts,
                                                                 tmp_path):  # fmt: skip
    _net, _rewards, manifest = deployed
    cfg = config(network_of(chain), manifest=manifest, account="TEST::10")
    conn = connect(cfg, tmp_path, require_enrolled=False)
    try:
        assert conn.address == accounts[10].address
        assert conn.voting.workerInfo(conn.address).active is False
    finally:
        conn.close()


@pytest.mark.anvil
def test_connect__without_account_is_read_only(deployed, chain, tmp_path):
    net, _rewards, manifest = deployed
    conn = connect(config(network_of(chain), manifest=manifest, account="TEST::10"), tmp_path,
                   with_account=False)  # fmt: skip
    try:
        assert (conn.account, conn.address) == (None, "")
        assert conn.voting.address == net.voting.address
    finally:
        conn.close()


@pytest.mark.anvil
def test_connect__default_manifest_of_network(deployed, chain, tmp_path):
    net, rewards, _manifest = deployed
    project_dir = tmp_path / "project"
    (project_dir / "deployments").mkdir(parents=True)
    ln.write_manifest(project_dir / "deployments" / "ethereum-local.json", chain.chain_id,
                      net.voting, rewards)  # fmt: skip
    conn = connect(config(network_of(chain)), project_dir)
    try:
        assert conn.manifest.path == project_dir / "deployments" / "ethereum-local.json"
    finally:
        conn.close()
