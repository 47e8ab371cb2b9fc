"""worker.merkle against eth-abi, hand-built trees and the JavaScript library it must equal."""

import json
import subprocess
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from worker.encoding import encode_record, leaf_hash
from worker.errors import (
    EmptyTreeError,
    InvalidDumpError,
    InvalidNodeError,
    LeafEncodingError,
    LeafIndexError,
    LeafNotFoundError,
    MerkleError,
    WorkerError,
)
from worker.merkle import StandardMerkleTree

ROOT_DIR = Path(__file__).resolve().parents[2]
CROSS_CHECK = Path(__file__).with_name("merkle_cross_check.js")

# 24/7 matching records: consumer id, generator id, hour start (unix time), matched Wh.
MATCHING = ["string", "string", "uint64", "uint256"]
HOUR_START = 1_763_888_400


def matching_records(count: int) -> list[tuple]:
    return [
        (f"consumer-{i % 7}", f"generator-{i % 3}", HOUR_START + 3600 * i, 1000 * i + 17)
        for i in range(count)
    ]


def standard_leaf(types: list[str], value) -> bytes:
    return keccak(keccak(encode(types, value)))


def node_hash(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def run_js(request: dict | list[dict]) -> dict | list[dict]:
    """Root, proofs and dump of the JS library's tree of each case (and what it makes of `dump`)."""
    done = subprocess.run(
        ["node", str(CROSS_CHECK)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=ROOT_DIR,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -------------------------------------------------------------------------------------------------
# Leaves
# -------------------------------------------------------------------------------------------------

BITS = st.sampled_from([8, 16, 64, 128, 256])
FIELD_TYPES = st.one_of(
    BITS.map(lambda n: f"uint{n}"),
    BITS.map(lambda n: f"int{n}"),
    st.integers(1, 32).map(lambda n: f"bytes{n}"),
    st.sampled_from(["bool", "address", "bytes", "string", "uint", "int"]),
)


def values_of(abi_type: str) -> st.SearchStrategy:
    """Values of a field type in their canonical Python form."""
    if abi_type in ("uint", "int"):
        abi_type += "256"
    if abi_type.startswith("uint"):
        return st.integers(0, 2 ** int(abi_type[4:]) - 1)
    if abi_type.startswith("int"):
        half = 2 ** (int(abi_type[3:]) - 1)
        return st.integers(-half, half - 1)
    if abi_type.startswith("bytes") and abi_type != "bytes":
        return st.binary(min_size=int(abi_type[5:]), max_size=int(abi_type[5:]))
    return {
        "bool": st.booleans(),
        "address": st.binary(min_size=20, max_size=20).map(to_checksum_address),
        "bytes": st.binary(max_size=70),
        "string": st.text(max_size=40),
    }[abi_type]


@st.composite
def datasets(draw, max_records: int = 9) -> tuple[list[str], list[tuple]]:
    types = draw(st.lists(FIELD_TYPES, min_size=1, max_size=5))
    record = st.tuples(*(values_of(t) for t in types))
    return types, draw(st.lists(record, min_size=1, max_size=max_records))


@settings(max_examples=100, deadline=None)
@given(datasets(max_records=3))
def test_encode_record__equals_eth_abi(dataset):
    types, records = dataset
    for record in records:
        assert encode_record(types, record) == encode(types, record)
        assert leaf_hash(types, record) == "0x" + standard_leaf(types, record).hex()


def test_encode_record__accepts_json_forms():
    types = ["uint256", "int8", "bytes4", "bytes"]
    assert encode_record(types, ["0x10", "-5", "0x01020304", "0x"]) == encode(
        types, [16, -5, b"\x01\x02\x03\x04", b""]
    )


# -------------------------------------------------------------------------------------------------
# Trees
# -------------------------------------------------------------------------------------------------


def test_of__single_leaf_is_the_root():
    record = matching_records(1)[0]
    tree = StandardMerkleTree.of([record], MATCHING)
    assert tree.root == "0x" + standard_leaf(MATCHING, record).hex()
    assert tree.get_proof(0) == []
    assert StandardMerkleTree.verify(tree.root, tree.leaf_hash(0), [])


def test_of__two_leaves_hash_in_sorted_order():
    records = matching_records(2)
    a, b = (standard_leaf(MATCHING, r) for r in records)
    tree = StandardMerkleTree.of(records, MATCHING)
    assert tree.root == "0x" + keccak(min(a, b) + max(a, b)).hex()
    assert tree.get_proof(0) == ["0x" + b.hex()]
    assert tree.get_proof(1) == ["0x" + a.hex()]
    # Leaves sit at the end of the array in descending order of hash.
    assert tree.dump()["tree"][1:] == ["0x" + max(a, b).hex(), "0x" + min(a, b).hex()]


@pytest.mark.parametrize("count", [3, 5, 6, 7, 9, 33])
def test_of__any_count_lays_out_like_the_js_library(count):
    records = matching_records(count)
    tree = StandardMerkleTree.of(records, MATCHING)
    leaves = sorted(standard_leaf(MATCHING, r) for r in records)
    nodes = [b""] * (count - 1) + leaves[::-1]
    for i in range(count - 2, -1, -1):
        nodes[i] = node_hash(nodes[2 * i + 1], nodes[2 * i + 2])
    dump = tree.dump()
    assert dump["tree"] == ["0x" + node.hex() for node in nodes]
    assert tree.root == dump["tree"][0]
    for index, record in tree.entries():
        tree_index = dump["values"][index]["treeIndex"]
        assert dump["tree"][tree_index] == tree.leaf_hash(index) == tree.leaf_hash(record)
        proof = tree.get_proof(index)
        assert proof == tree.get_proof(list(record))
        assert len(proof) == (tree_index + 1).bit_length() - 1  # the depth of the leaf
        assert StandardMerkleTree.verify(tree.root, tree.leaf_hash(index), proof)


def test_verify__tampered_proof_or_leaf_fails():
    tree = StandardMerkleTree.of(matching_records(6), MATCHING)
    proof, leaf = tree.get_proof(2), tree.leaf_hash(2)
    flipped = proof[0][:-1] + ("0" if proof[0][-1] != "0" else "1")
    assert StandardMerkleTree.verify(tree.root, bytes.fromhex(leaf[2:]), proof)
    assert not StandardMerkleTree.verify(tree.root, leaf, [flipped, *proof[1:]])
    assert not StandardMerkleTree.verify(tree.root, leaf, proof[:-1])
    assert not StandardMerkleTree.verify(tree.root, leaf, [*proof, proof[0]])
    assert not StandardMerkleTree.verify(tree.root, tree.leaf_hash(3), proof)
    changed = ("consumer-2", "generator-2", HOUR_START + 7200, 2018)  # 1 Wh more
    assert not StandardMerkleTree.verify(tree.root, tree.leaf_hash(changed), proof)


def test_dump__round_trips_through_json():
    tree = StandardMerkleTree.of(matching_records(5), MATCHING)
    loaded = StandardMerkleTree.load(json.loads(json.dumps(tree.dump())))
    assert loaded.dump() == tree.dump()
    assert [loaded.get_proof(i) for i in range(5)] == [tree.get_proof(i) for i in range(5)]
    assert loaded.at(4) == matching_records(5)[4]


def test_of__duplicate_records_prove_like_the_js_library():
    records = [("a", "b", 1, 2), ("c", "d", 3, 4), ("a", "b", 1, 2)]
    tree = StandardMerkleTree.of(records, MATCHING)
    indices = [v["treeIndex"] for v in tree.dump()["values"]]
    assert len(set(indices)) == 3
    assert tree.get_proof(records[0]) == tree.get_proof(2)  # the last equal record, as in JS


# -------------------------------------------------------------------------------------------------
# Errors
# -------------------------------------------------------------------------------------------------


def test_errors__share_the_package_base():
    assert issubclass(MerkleError, WorkerError)
    for error in (EmptyTreeError, LeafEncodingError, LeafNotFoundError, LeafIndexError):
        assert issubclass(error, MerkleError)
    for error in (InvalidNodeError, InvalidDumpError):
        assert issubclass(error, MerkleError)


def test_of__no_records_raises():
    with pytest.raises(EmptyTreeError, match="cannot build a Merkle tree from zero records"):
        StandardMerkleTree.of([], MATCHING)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (("a", "b", 1), r"expected a list or tuple of 4 fields, got \('a', 'b', 1\) \(record 1\)"),
        (("a", "b", -1, 2), r"field 2 \(uint64\) of .* \(record 1\): -1 is out of range"),
        (("a", "b", 2**64, 2), r"field 2 \(uint64\) .*: 18446744073709551616 is out of range"),
        (("a", "b", True, 2), r"field 2 \(uint64\) .*: expected an integer .*, got True"),
        (("a", 7, 1, 2), r"field 1 \(string\) .*: expected a string, got 7"),
        ((b"a", "b", 1, 2), r"field 0 \(string\) .*: expected a string, got b'a'"),
        (("a", "\ud800", 1, 2), r"field 1 \(string\) .*surrogates not allowed"),
        ("abcd", r"expected a list or tuple of 4 fields, got 'abcd'"),
    ],
)
def test_of__record_not_matching_the_types_raises(record, message):
    with pytest.raises(LeafEncodingError, match=message) as caught:
        StandardMerkleTree.of([("ok", "ok", 1, 2), record], MATCHING)
    assert str(caught.value).startswith(f"leaf encoding {MATCHING}: ")


@pytest.mark.parametrize(
    ("types", "record", "message"),
    [
        (["bytes32"], [b"\x01" * 31], r"field 0 \(bytes32\) .*expected exactly 32 bytes, got 31"),
        (["bytes4"], ["0x123"], r"expected bytes or an even-length 0x-hex string, got '0x123'"),
        (["bool"], [1], r"expected a bool, got 1"),
        (["address"], ["0x" + "aB" * 20], r"has an invalid EIP-55 checksum"),
        (["address"], ["0x1234"], r"expected a 0x-hex address of 20 bytes, got '0x1234'"),
        (["uint7"], [1], r"invalid field type: For 'uint7' type"),
        (["uint256[]"], [[1]], r"unsupported field type 'uint256\[\]'"),
        (["(uint256,bool)"], [[1, True]], r"unsupported field type '\(uint256,bool\)'"),
        (["strin"], ["a"], r"unsupported field type 'strin'"),
        ([], [], r"a record has at least one field"),
        ("string", ["a"], r"expected a list of ABI type strings"),
    ],
)
def test_leaf_hash__bad_types_or_values_raise(types, record, message):
    with pytest.raises(LeafEncodingError, match=message):
        leaf_hash(types, record)


def test_get_proof__unknown_record_or_index_raises():
    tree = StandardMerkleTree.of(matching_records(3), MATCHING)
    missing = ("consumer-9", "generator-9", HOUR_START, 1)
    with pytest.raises(LeafNotFoundError, match=r"record \('consumer-9', .*\) is not in the tree"):
        tree.get_proof(missing)
    with pytest.raises(LeafIndexError, match="record index 3 is out of range for a tree of 3"):
        tree.get_proof(3)
    with pytest.raises(LeafIndexError, match="record index -1 is out of range"):
        tree.get_proof(-1)
    with pytest.raises(LeafEncodingError, match="expected a list or tuple of 4 fields"):
        tree.get_proof(("consumer-0",))


def test_verify__malformed_node_raises():
    tree = StandardMerkleTree.of(matching_records(2), MATCHING)
    with pytest.raises(InvalidNodeError, match="a Merkle node must be 32 bytes"):
        StandardMerkleTree.verify(tree.root, tree.leaf_hash(0), ["0x1234"])


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: d.update(format="simple-v1"), "unknown format 'simple-v1'"),
        (lambda d: d.pop("leafEncoding"), "expected 'leafEncoding'"),
        (lambda d: d["tree"].pop(), "3 values need 5 nodes and a leaf node each"),
        (lambda d: d["values"][0].update(treeIndex=0), "3 values need 5 nodes and a leaf node"),
        (lambda d: d["values"][0].pop("treeIndex"), r"values\[0\] needs 'value' and an integer"),
        (lambda d: d["values"][1]["value"].__setitem__(3, "1"), r"values\[1\] does not hash"),
        (lambda d: d["tree"].__setitem__(1, "0x" + "11" * 32), r"tree\[1\] is not the hash"),
        (lambda d: d["tree"].__setitem__(0, "0x11"), "a Merkle node must be 32 bytes"),
        (lambda d: d.update(values=[]), "expected lists 'tree' and 'values', with at least one"),
    ],
)
def test_load__tampered_dump_raises(tamper, message):
    dump = StandardMerkleTree.of(matching_records(3), MATCHING).dump()
    tamper(dump)
    with pytest.raises(InvalidDumpError, match=message):
        StandardMerkleTree.load(dump)


# -------------------------------------------------------------------------------------------------
# Cross-check with @openzeppelin/merkle-tree
# -------------------------------------------------------------------------------------------------


def assert_same_as_js(trees: list[StandardMerkleTree]) -> None:
    """One node run builds every tree from the same JSON values and loads the Python dumps."""
    dumps = [tree.dump() for tree in trees]
    cases = [
        {"types": d["leafEncoding"], "values": [v["value"] for v in d["values"]], "dump": d}
        for d in dumps
    ]
    for case, tree, js in zip(cases, trees, run_js(cases), strict=True):
        proofs = [tree.get_proof(i) for i in range(len(tree))]
        python = {"root": tree.root, "proofs": proofs, "dump": case["dump"]}
        assert {key: js[key] for key in python} == python, f"case {case}"
        assert js["loaded"] == {"root": tree.root, "proofs": proofs}  # JS loads the Python dump
        assert StandardMerkleTree.load(js["dump"]).dump() == case["dump"]  # and Python the JS one


# NOTE: no shrinking: each step would start node; the failing case is named in the message.
@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(st.lists(datasets(), min_size=25, max_size=25))
def test_cross_check__random_records_equal_js(batch):
    assert_same_as_js([StandardMerkleTree.of(records, types) for types, records in batch])


def test_cross_check__matching_records_equal_js():
    records = [*matching_records(100), ("consumer-ü", "generator-✓", HOUR_START, 2**256 - 1)]
    single = StandardMerkleTree.of(records[:1], MATCHING)
    assert_same_as_js([StandardMerkleTree.of(records, MATCHING), single])


def test_cross_check__script_takes_a_single_case():
    js = run_js({"types": ["uint256"], "values": [["1"]]})
    assert js["root"] == leaf_hash(["uint256"], [1])
