"""How a round's records tree is kept: its nodes in one blob, its records in blocks of `BLOCK`.

A proof needs the record, its leaf's place in the tree and the siblings on the way to the root.
So the store keeps the tree's nodes as they are (32 bytes each, root first: `rounds.nodes`) and
the records in their JSON forms, `BLOCK` to a row of `round_records` with their tree indices
(4 bytes each, little-endian). Serving a proof reads one row and the nodes, and re-hashes only
the record's own leaf, whatever the size of the round. Rounds stored by an older worker keep
their `standard-v1` dump in `rounds.tree` and are loaded from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np

from worker.errors import InvalidDumpError
from worker.merkle import StandardMerkleTree

BLOCK = 256  # records per row of `round_records`
_INDEX = 4  # bytes per tree index


def blocks(tree: StandardMerkleTree) -> Iterator[tuple[int, str, bytes]]:
    """(block number, the block's records as a JSON array, their tree indices) of a tree."""
    values = tree.json_values()
    if 2 * len(values) - 1 > 1 << 8 * _INDEX:
        raise InvalidDumpError(f"{len(values)} records are more than a tree index can address")
    indices = np.asarray(tree.tree_indices(), "<u4").tobytes()
    for block, start in enumerate(range(0, len(values), BLOCK)):
        text = json.dumps(values[start : start + BLOCK], separators=(",", ":"))
        yield block, text, indices[_INDEX * start : _INDEX * (start + BLOCK)]


def entry(records: str, tree_indices: bytes, index: int) -> tuple[list, int]:
    """(the JSON form of record `index`, its tree index) from the row of its block."""
    offset = index % BLOCK
    values = json.loads(records)
    raw = tree_indices[_INDEX * offset : _INDEX * offset + _INDEX]
    if offset >= len(values) or len(raw) != _INDEX:
        raise InvalidDumpError(f"the stored block of record {index} is short")
    return values[offset], int.from_bytes(raw, "little")


def whole(nodes: bytes, rows: list[tuple[str, bytes]], types: list[str]) -> StandardMerkleTree:
    """The tree from its nodes and all its blocks (in block order), without re-hashing."""
    values: list = []
    indices: list[int] = []
    for records, tree_indices in rows:
        values += json.loads(records)
        indices += [
            int.from_bytes(tree_indices[i : i + _INDEX], "little")
            for i in range(0, len(tree_indices), _INDEX)
        ]
    return StandardMerkleTree.from_parts(nodes, values, indices, types)
