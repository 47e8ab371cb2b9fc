"""worker.keccak_batch against safe-pysha3, and trees hashed in one batch against those hashed one
message at a time (the path without numba): the same nodes, indices and roots."""

import os
import random
import subprocess
import sys

import numpy as np
import pytest
from sha3 import keccak_256

from worker import keccak_batch, merkle
from worker.merkle import StandardMerkleTree
from worker.workflows.cfe.records import TYPES, id_bytes, pack_info

pytestmark = pytest.mark.skipif(not keccak_batch.AVAILABLE, reason="numba is not installed")


@pytest.mark.parametrize("length", [0, 1, 31, 32, 64, 128, 135, 136, 137, 271, 272, 300])
def test_keccak_rows__equal_pysha3_at_every_padding_case(length):
    messages = [os.urandom(length) for _ in range(5)]
    rows = np.frombuffer(b"".join(messages), np.uint8).reshape(5, length)
    once = keccak_batch.keccak_rows(rows)
    twice = keccak_batch.keccak_rows(rows, twice=True)
    assert [r.tobytes() for r in once] == [keccak_256(m).digest() for m in messages]
    expected = [keccak_256(keccak_256(m).digest()).digest() for m in messages]
    assert [r.tobytes() for r in twice] == expected


def test_leaf_hashes__mixed_lengths_keep_their_order():
    encoded = [os.urandom(random.Random(i).choice([32, 96, 160])) for i in range(40)]
    hashes = keccak_batch.leaf_hashes(encoded)
    assert [h.tobytes() for h in hashes] == [
        keccak_256(keccak_256(e).digest()).digest() for e in encoded
    ]


def cfe_records(count: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    records = [
        (id_bytes(f"c{rng.randrange(50)}"), id_bytes(f"d{rng.randrange(9)}"),
         pack_info(3600 * rng.randrange(24), 3600 * 25, rng.randrange(1, 6), 1, 0),
         rng.choice([0, 1, 2**64 - 1, 2**64, 2**256 - 1, rng.randrange(10**9)]))
        for _ in range(count)
    ]  # fmt: skip
    return records + records[:3]  # equal records too: their leaves keep their input order


@pytest.mark.parametrize(
    ("types", "make"),
    [
        (TYPES, lambda i: cfe_records(300, i)),
        (["string", "uint64"], lambda i: [(f"s{'x' * (i % 40)}{j}", j) for j in range(77)]),
        (["int8", "bytes3", "bool"], lambda i: [(-j % 100, bytes([j, 1, 2]), j % 2 == 0)
                                                 for j in range(33)]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("seed", [1, 2])
def test_of__batch_and_one_at_a_time_build_the_same_tree(monkeypatch, types, make, seed):
    records = make(seed)
    monkeypatch.setattr(merkle.keccak_batch, "MIN_BATCH", 1)
    monkeypatch.setattr(merkle.keccak_batch, "SPLIT", 7)  # halves on two threads from 7 items
    monkeypatch.setattr(merkle.keccak_batch, "THREADS", 2)
    batch = StandardMerkleTree.of(records, types)
    monkeypatch.setattr(merkle.keccak_batch, "AVAILABLE", False)
    single = StandardMerkleTree.of(records, types)
    assert batch.nodes() == single.nodes()
    assert batch.tree_indices() == single.tree_indices()
    assert batch.dump() == single.dump()
    assert StandardMerkleTree.load(batch.dump()).root == single.root  # loaded without numba
    monkeypatch.setattr(merkle.keccak_batch, "AVAILABLE", True)
    assert StandardMerkleTree.load(single.dump()).nodes() == batch.nodes()  # loaded with it


def test_import__numba_loads_only_for_a_batch():
    code = (
        "import sys; from worker.merkle import StandardMerkleTree as T; "
        "T.of([(i,) for i in range(10)], ['uint256']); print('numba' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
