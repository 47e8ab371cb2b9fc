"""How the state store keeps a records tree: nodes and blocks of records, proofs from one block,
the whole tree back, rounds stored as a dump by an older worker, a damaged block refused."""

import json
import sqlite3
import zlib

import pytest

from worker.errors import InvalidDumpError, LeafIndexError
from worker.merkle import StandardMerkleTree
from worker.state import FILE_NAME, StateStore
from worker.state.trees import BLOCK, blocks
from worker.workflows.cfe.records import TYPES, id_bytes, pack_info

VID = bytes.fromhex("cd" * 32)
HOUR = 1_750_464_000


def cfe_tree(count: int) -> StandardMerkleTree:
    records = [(id_bytes(f"c{i:05}"), id_bytes("solar-1"), pack_info(HOUR, HOUR + 3600, 1, 1),
                i + 1) for i in range(count)]  # fmt: skip
    return StandardMerkleTree.of(records, TYPES)


def test_proof_for__every_block_edge_equals_the_tree(tmp_path):
    tree = cfe_tree(2 * BLOCK + 7)
    with StateStore(tmp_path) as store:
        store.put_round(VID, 1, tree, window=(HOUR, HOUR + 3600))
    with StateStore(tmp_path) as store:
        for index in (0, BLOCK - 1, BLOCK, 2 * BLOCK, len(tree) - 1):
            proof = store.proof_for(VID, index)
            assert proof.record == tree.at(index)
            assert proof.proof == tree.get_proof(index)
            assert (proof.leaf_hash, proof.root) == (tree.leaf_hash(index), tree.root)
            assert proof.encoded == "0x" + tree.encode(index).hex()
        assert store.round_tree(VID).dump() == tree.dump()
        with pytest.raises(LeafIndexError):
            store.proof_for(VID, len(tree))
    db = sqlite3.connect(tmp_path / FILE_NAME)
    blocks = db.execute("SELECT count(*) FROM round_records").fetchone()[0]
    assert blocks == 3  # 519 records in blocks of 256


def test_put_round__replacing_a_tree_drops_its_old_blocks(tmp_path):
    with StateStore(tmp_path) as store:
        store.put_round(VID, 1, cfe_tree(3 * BLOCK))
        smaller = cfe_tree(5)
        store.put_round(VID, 1, smaller)
        assert store.round_tree(VID).dump() == smaller.dump()
        assert store.proof_for(VID, 4).root == smaller.root
    db = sqlite3.connect(tmp_path / FILE_NAME)
    assert db.execute("SELECT count(*) FROM round_records").fetchone()[0] == 1


def test_proof_for__a_round_stored_as_a_dump_is_still_served(tmp_path):
    tree = cfe_tree(9)
    with StateStore(tmp_path) as store:
        store.put_round(VID, 1, tree)
    db = sqlite3.connect(tmp_path / FILE_NAME)
    dump = zlib.compress(json.dumps(tree.dump()).encode())
    db.execute("UPDATE rounds SET tree = ?, nodes = NULL", (dump,))  # as a version 2 file had it
    db.execute("DELETE FROM round_records")
    db.commit()
    with StateStore(tmp_path) as store:
        proof = store.proof_for(VID, 6)
        assert (proof.record, proof.proof, proof.root) == (tree.at(6), tree.get_proof(6), tree.root)


def test_proof_for__a_damaged_record_is_refused(tmp_path):
    tree = cfe_tree(4)
    with StateStore(tmp_path) as store:
        store.put_round(VID, 1, tree)
    db = sqlite3.connect(tmp_path / FILE_NAME)
    (text,) = db.execute("SELECT records FROM round_records").fetchone()
    values = json.loads(text)
    values[2][3] = str(int(values[2][3]) + 1)  # one Wh more in record 2
    db.execute("UPDATE round_records SET records = ?", (json.dumps(values),))
    db.commit()
    with StateStore(tmp_path) as store:
        assert store.proof_for(VID, 1).root == tree.root
        with pytest.raises(InvalidDumpError, match="record 2 does not hash to its leaf"):
            store.proof_for(VID, 2)


class _Records(list):
    """An empty list that claims `count` records: all `blocks` reads of a tree before its first
    block."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def __len__(self) -> int:
        return self.count


class _HugeTree:
    def __init__(self, count: int) -> None:
        self.count = count

    def json_values(self) -> list:
        return _Records(self.count)

    def tree_indices(self) -> list[int]:
        return []


def test_blocks__a_tree_its_4_byte_indices_cannot_address_is_refused():
    # 2^31 records have tree indices up to 2^32 - 2: the last that 4 bytes hold.
    assert next(blocks(_HugeTree(1 << 31)))[0] == 0
    with pytest.raises(InvalidDumpError, match="2147483649 records are more than a tree index"):
        next(blocks(_HugeTree((1 << 31) + 1)))
