"""`worker export` and `worker multiproof` against the npm package @openzeppelin/merkle-tree, and
multiproofs against the contract's `verifyRecords`."""

import json
import subprocess
from pathlib import Path

import ape
import pytest
from click.testing import CliRunner
from eth_abi import encode
from eth_utils import keccak

from scripts._localnet import worker_config
from tests.conftest import descriptor_id, event_descriptor
from worker.cli import cli
from worker.export import ExportError, multiproof_document, process_multiproof
from worker.merkle import StandardMerkleTree
from worker.state import StateStore

ROOT_DIR = Path(__file__).resolve().parents[2]
CROSS_CHECK = Path(__file__).with_name("export_cross_check.js")
ENCODING = ["string", "string", "uint64", "uint256", "bool", "bytes32"]
RECORDS = [
    [f"consumer-{i % 5}", f"generator-{i % 3}", 1_763_888_400 + 3600 * (i % 4), 1000 * i + 17,
     i % 2 == 0, keccak(text=f"cert-{i}")]
    for i in range(13)
]  # fmt: skip
INDEX_SETS = [[4], [0, 1], [12, 0, 7], [2, 3, 5, 8, 11], list(range(13))]


def run_js(request: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(CROSS_CHECK)], input=json.dumps(request), text=True,
                          capture_output=True, cwd=ROOT_DIR, timeout=30)  # fmt: skip


def js(request: dict) -> dict:
    done = run_js(request)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def stored(tmp_path):
    """A worker config whose state store holds attempt 2 of a round's records tree."""
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    trigger = {"kind": "event", "subject": "grid.settle"}
    config = worker_config(tmp_path, "w1", "TEST::1", "ethereum:local", manifest,
                           "nats://127.0.0.1:4222", trigger)  # fmt: skip
    tree = StandardMerkleTree.of(RECORDS, ENCODING)
    voting_id = "0x" + keccak(text="round-7").hex()
    with StateStore(tmp_path / "w1" / "state") as store:
        store.put_round(voting_id, 1, StandardMerkleTree.of(RECORDS[:3], ENCODING))
        store.put_round(voting_id, 2, tree)
    return config, voting_id, tree


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_export__js_library_loads_and_proves_the_tree(stored, tmp_path):
    config, voting_id, tree = stored
    out = tmp_path / "tree.json"
    result = invoke("export", "--config", config, voting_id, "-o", out)
    assert result.exit_code == 0, result.output
    dump = json.loads(out.read_text())
    assert (dump["format"], dump["votingId"], dump["attempt"]) == ("standard-v1", voting_id, 2)
    assert dump["leafEncoding"] == ENCODING
    loaded = js({"dump": dump})
    assert loaded["root"] == tree.root
    assert loaded["proofsOk"] is True
    assert loaded["values"] == dump_values(tree.dump())  # every record, in input order


def dump_values(dump: dict) -> list:
    """The records of a dump in input order (the order `worker proof` numbers them)."""
    return [entry["value"] for entry in dump["values"]]


def test_export__attempt_option_and_tampered_dump_is_rejected_by_the_js_library(stored):
    config, voting_id, _tree = stored
    result = invoke("export", "--config", config, voting_id, "--attempt", "1")
    assert result.exit_code == 0, result.output
    dump = json.loads(result.output)
    assert dump["attempt"] == 1 and len(dump["values"]) == 3
    dump["values"][1]["value"][3] = "999"  # one matched amount changed
    done = run_js({"dump": dump})
    assert done.returncode == 2 and "Merkle tree does not contain the expected value" in done.stderr


def test_export__unknown_round_fails_with_a_message(stored):
    config, _voting_id, _tree = stored
    result = CliRunner().invoke(cli, ["export", "--config", str(config), "0x" + "11" * 32])
    assert result.exit_code == 1
    assert "no records tree" in result.output


@pytest.mark.parametrize("indices", INDEX_SETS, ids=lambda s: ",".join(map(str, s)))
def test_multiproof__equals_and_verifies_with_the_js_library(stored, indices):
    config, voting_id, tree = stored
    result = invoke("multiproof", "--config", config, voting_id, *indices)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["format"], doc["votingId"], doc["attempt"], doc["root"]) == (
        "multiproof-v1",
        voting_id,
        2,
        tree.root,
    )
    assert sorted(doc["indices"]) == sorted(indices)
    assert doc["encoded"] == ["0x" + tree.encode(i).hex() for i in doc["indices"]]
    first = doc["leaves"][0]
    forged = dict(doc, leaves=[[*first[:3], "1", *first[4:]], *doc["leaves"][1:]])
    checked = js({"dump": tree.dump(), "indices": [indices], "multiproofs": [doc, forged]})
    mine = {k: doc[k] for k in ("leaves", "proof", "proofFlags")}
    assert mine == checked["js"][0]  # the library's own multiproof, leaf for leaf
    assert checked["verified"] == [True, False]
    assert process_multiproof(doc) == tree.root
    assert process_multiproof(forged) != tree.root


@pytest.mark.parametrize(("indices", "message"), [
    ([3, 3], "repeated record index"), ([13], "out of range"), ([], "at least one")])  # fmt: skip
def test_multiproof__bad_indices_are_refused(indices, message):
    tree = StandardMerkleTree.of(RECORDS, ENCODING)
    with pytest.raises(ExportError, match=message):
        multiproof_document(tree, "0x" + "00" * 32, 1, indices)


# -------------------------------------------------------------------------------------------------
# On chain: the document's records and proofs through WorkerVoting.verifyRecords
# -------------------------------------------------------------------------------------------------


@pytest.fixture
def recorded(create_voting):
    """A 2-of-3 network whose round "multi" recorded the records' root."""
    net = create_voting("2/3")
    tree = StandardMerkleTree.of(RECORDS, ENCODING)
    descriptor = event_descriptor("multi")
    for worker in net.workers[:2]:
        net.voting.openAndVote(descriptor, tree.root, sender=worker)
    return net, tree, "0x" + descriptor_id(descriptor).hex()


@pytest.mark.parametrize("indices", INDEX_SETS, ids=lambda s: ",".join(map(str, s)))
def test_verify_records__document_passes_on_chain(recorded, indices):
    net, tree, voting_id = recorded
    doc = multiproof_document(tree, voting_id, 1, indices)
    assert doc["proofs"] == [tree.get_proof(i) for i in doc["indices"]]
    assert net.voting.verifyRecords(voting_id, doc["proofs"], doc["encoded"])
    changed = list(tree.at(doc["indices"][0]))
    changed[3] += 1  # one matched amount
    bad = ["0x" + encode(ENCODING, changed).hex(), *doc["encoded"][1:]]
    assert not net.voting.verifyRecords(voting_id, doc["proofs"], bad)
    assert process_multiproof(doc) == bytes(net.voting.resultOf(voting_id)).hex().join(["0x", ""])


def test_verify_records__round_without_a_result_reverts(recorded):
    net, tree, _voting_id = recorded
    unknown = descriptor_id(event_descriptor("never-opened"))
    doc = multiproof_document(tree, "0x" + unknown.hex(), 1, [0, 1])
    with ape.reverts(net.voting.VotingNotRecorded, votingId=unknown, status=0):
        net.voting.verifyRecords(unknown, doc["proofs"], doc["encoded"])
