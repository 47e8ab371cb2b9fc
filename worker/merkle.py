"""Merkle trees of workflow records, identical to OpenZeppelin's `StandardMerkleTree`.

Leaves are the records' standard leaf hashes (`worker.encoding`); an internal node is the keccak256
of its two children in ascending order. The tree is one array: the root at index 0, the children
of node `i` at `2i + 1` and `2i + 2`, and the leaves, sorted by hash, at the end in reverse order.
Roots, proofs and dumps (`"format": "standard-v1"`) are 0x-hex like those of the JavaScript library
(`@openzeppelin/merkle-tree`), so a tree built on one side is loaded and proved on the other, and
proofs verify with OpenZeppelin's `MerkleProof` on chain (`WorkerVoting.verifyRecord`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from worker import keccak_batch
from worker.encoding import LeafCodec, Record, leaf_codec
from worker.errors import (
    EmptyTreeError,
    InvalidDumpError,
    InvalidNodeError,
    LeafIndexError,
    LeafNotFoundError,
)
from worker.keccak import keccak, keccak_all
from worker.objects import gc_paused

FORMAT = "standard-v1"
_NODE_TEXT = re.compile(r"0x[0-9a-fA-F]{64}")


def _node(node: bytes | str) -> bytes:
    if isinstance(node, bytes | bytearray) and len(node) == 32:
        return bytes(node)
    if isinstance(node, str) and _NODE_TEXT.fullmatch(node):
        return bytes.fromhex(node[2:])
    raise InvalidNodeError(node)


def _nodes(nodes: list[Any]) -> list[bytes]:
    """`_node` of each, for a whole list of 0x-hex nodes at once when it is one."""
    if nodes and all(n.__class__ is str and len(n) == 66 and n[:2] == "0x" for n in nodes):
        try:
            data = bytes.fromhex("".join([n[2:] for n in nodes]))
        except ValueError:
            data = b""
        if len(data) == 32 * len(nodes):  # NOTE: fromhex skips whitespace: such a node is short
            return [data[i : i + 32] for i in range(0, len(data), 32)]
    return [_node(node) for node in nodes]


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a <= b else b + a)


def _parse_dump(data: Any) -> tuple[LeafCodec, list[bytes], list[Any], list[int]]:
    """Checks the shape of a `standard-v1` dump: (codec, tree nodes, values, their tree indices)."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        raise InvalidDumpError(f"unknown format {found!r}, expected {FORMAT!r}")
    if not isinstance(data.get("leafEncoding"), list):
        raise InvalidDumpError("expected 'leafEncoding', a list of ABI types")
    codec = leaf_codec(data["leafEncoding"])
    tree_data, entries = data.get("tree"), data.get("values")
    if not isinstance(tree_data, list) or not isinstance(entries, list) or not entries:
        raise InvalidDumpError("expected lists 'tree' and 'values', with at least one value")
    try:
        tree = _nodes(tree_data)
    except InvalidNodeError as exc:
        raise InvalidDumpError(str(exc)) from exc
    values, indices = [], []
    for i, entry in enumerate(entries):
        index = entry.get("treeIndex") if isinstance(entry, Mapping) else None
        if isinstance(index, bool) or not isinstance(index, int) or "value" not in entry:
            raise InvalidDumpError(f"values[{i}] needs 'value' and an integer 'treeIndex'")
        values.append(entry["value"])
        indices.append(index)
    # The leaves are the last len(values) nodes, one value each.
    leaves = list(range(len(values) - 1, 2 * len(values) - 1))
    if len(tree) != 2 * len(values) - 1 or sorted(indices) != leaves:
        needed = 2 * len(values) - 1
        raise InvalidDumpError(f"{len(values)} values need {needed} nodes and a leaf node each")
    return codec, tree, values, indices


def _hash_up(tree: list[bytes], leaf_count: int) -> list[bytes]:
    """Fills in the internal nodes of `tree` (its last `leaf_count` nodes are the leaves).

    Level by level from the deepest internal one, [2^k - 1, 2^(k+1) - 2]: the children of a
    level are in the level below, so each level is hashed in one batch.
    """
    high = len(tree) - leaf_count - 1  # the last internal node
    low = (1 << (high + 1).bit_length() - 1) - 1 if high >= 0 else 0
    while high >= 0:
        left, right = tree[2 * low + 1 : 2 * high + 2 : 2], tree[2 * low + 2 : 2 * high + 3 : 2]
        tree[low : high + 1] = keccak_all([a + b if a <= b else b + a for a, b in zip(left, right)])
        high, low = low - 1, (low - 1) // 2
    return tree


def _rehashed(nodes: bytes, leaf_count: int) -> bytes:
    """The nodes with every internal node hashed again from the leaves."""
    if keccak_batch.AVAILABLE and leaf_count >= keccak_batch.MIN_BATCH:
        tree = np.frombuffer(nodes, np.uint8).reshape(-1, 32).copy()
        keccak_batch.hash_up(tree, leaf_count)
        return tree.tobytes()
    tree = [nodes[i : i + 32] for i in range(0, len(nodes), 32)]
    return b"".join(_hash_up(tree, leaf_count))


def _layout(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the tree as a (2n - 1, 32) array with its leaves placed, each record's tree index) of
    n leaf hashes in record order: leaves sorted by hash (stable, like the JS library) at the
    end in reverse order."""
    count = len(hashes)
    words = hashes.view(">u8")  # NOTE: big-endian 64-bit words sort like the bytes they hold
    order = np.argsort(words[:, 0], kind="stable")
    first = words[order, 0]
    if (first[1:] == first[:-1]).any():  # equal records, or (rarely) equal first 8 bytes
        order = np.lexsort(words.T[::-1])  # NOTE: lexsort is stable; its last key is primary
    size = 2 * count - 1
    nodes = np.empty((size, 32), np.uint8)
    nodes[count - 1 :] = hashes[order[::-1]]
    indices = np.empty(count, np.int64)
    indices[order] = size - 1 - np.arange(count)
    return nodes, indices


def _tree_of(hashes: list[bytes]) -> tuple[bytes, list[int]]:
    """(the tree's nodes as one byte string, each record's tree index) of the leaf hashes,
    hashed one message at a time (without numba)."""
    order = sorted(range(len(hashes)), key=hashes.__getitem__)
    size = 2 * len(hashes) - 1
    tree: list[bytes] = [b""] * size
    indices = [0] * len(hashes)
    for leaf_index, value_index in enumerate(order):
        tree[size - 1 - leaf_index] = hashes[value_index]
        indices[value_index] = size - 1 - leaf_index
    return b"".join(_hash_up(tree, len(hashes))), indices


# -------------------------------------------------------------------------------------------------
# The tree
# -------------------------------------------------------------------------------------------------


class StandardMerkleTree:
    """A Merkle tree of records, laid out and hashed like OpenZeppelin's `StandardMerkleTree`.

    Build one with `of` or `load`; records keep their input order (their index), while the leaves
    are sorted by hash inside the tree.
    """

    def __init__(
        self, nodes: bytes, values: list[Record], indices: list[int], codec: LeafCodec
    ) -> None:
        self._nodes = nodes  # the tree's nodes, 32 bytes each, root first
        self._values = values
        self._indices = indices  # tree index of each record
        self._codec = codec

    @classmethod
    def of(cls, values: Iterable[Any], leaf_encoding: Sequence[str]) -> StandardMerkleTree:
        """Builds the tree of `values` like `StandardMerkleTree.of(values, leafEncoding)` in JS.

        Args:
            values: the records, each a list or tuple matching `leaf_encoding`. Integers may be
                given as int or decimal/0x-hex strings, bytes as bytes or 0x-hex strings.
            leaf_encoding: the ABI types of a record's fields, e.g. `["string", "uint256"]`.

        Raises:
            EmptyTreeError: there are no records.
            LeafEncodingError: the types are invalid or a record does not match them.
        """
        codec = leaf_codec(leaf_encoding)
        values = list(values)
        with gc_paused():
            if not keccak_batch.AVAILABLE or len(values) < keccak_batch.MIN_BATCH:
                records, encoded = codec.prepare(values)
                if not records:
                    raise EmptyTreeError()
                nodes, indices = _tree_of(keccak_all(keccak_all(encoded)))
                return cls(nodes, records, indices, codec)
            # NOTE: canonical tuples of static fields (what workflows return) skip `prepare`.
            rows = codec.rows(values)
            if rows is not None:
                records, hashes = values, keccak_batch.keccak_rows(rows, twice=True)
            else:
                records, encoded = codec.prepare(values)
                if not records:
                    raise EmptyTreeError()
                hashes = keccak_batch.leaf_hashes(encoded)
            tree, indices = _layout(hashes)
            keccak_batch.hash_up(tree, len(records))
        return cls(tree.tobytes(), records, indices.tolist(), codec)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> StandardMerkleTree:
        """Loads and fully checks a dump made by `dump()` or by the JS library.

        Raises:
            InvalidDumpError: wrong format, malformed fields, or hashes that do not match.
            LeafEncodingError: the leaf encoding is invalid or a value does not match it.
        """
        codec, tree, values, indices = _parse_dump(data)
        with gc_paused():
            records, encoded = codec.prepare(values)
            if keccak_batch.AVAILABLE and len(values) >= keccak_batch.MIN_BATCH:
                hashes = [h.tobytes() for h in keccak_batch.leaf_hashes(encoded)]
            else:
                hashes = keccak_all(keccak_all(encoded))
            for i, (index, leaf) in enumerate(zip(indices, hashes, strict=True)):
                if leaf != tree[index]:
                    raise InvalidDumpError(f"values[{i}] does not hash to tree[{index}]")
            nodes = b"".join(tree)
            rebuilt = _rehashed(nodes, len(values))
        if rebuilt != nodes:
            bad = next(i for i in range(len(tree)) if rebuilt[32 * i : 32 * i + 32] != tree[i])
            raise InvalidDumpError(f"tree[{bad}] is not the hash of its children")
        return cls(nodes, records, indices, codec)

    @classmethod
    def from_parts(
        cls,
        nodes: bytes,
        values: Sequence[Any],
        indices: Sequence[int],
        leaf_encoding: Sequence[str],
    ) -> StandardMerkleTree:
        """A tree from parts stored by this worker (`nodes()`, records, `tree_indices()`),
        without re-hashing: for a store that trusts its own file (the state store).

        Raises:
            InvalidDumpError: the parts do not fit together (node count, index range).
            LeafEncodingError: a value does not match the leaf encoding.
        """
        codec = leaf_codec(leaf_encoding)
        records, _ = codec.prepare(list(values))
        count = len(records)
        if not count or len(nodes) != 32 * (2 * count - 1) or len(indices) != count:
            raise InvalidDumpError(f"{count} records need {2 * count - 1} nodes and indices")
        if sorted(indices) != list(range(count - 1, 2 * count - 1)):
            raise InvalidDumpError("tree indices are not one leaf node per record")
        return cls(bytes(nodes), records, list(indices), codec)

    def json_values(self) -> list[list[Any]]:
        """The records in their JSON forms (as in `dump()`), in record order."""
        with gc_paused():
            return self._codec.to_json(self._values)

    def nodes(self) -> bytes:
        """The tree's nodes, 32 bytes each, in tree order (root first)."""
        return self._nodes

    def tree_indices(self) -> list[int]:
        """The tree index of each record's leaf, in record order."""
        return list(self._indices)

    def dump(self) -> dict[str, Any]:
        """The tree as a JSON-ready dict in the JS library's `standard-v1` format."""
        with gc_paused():
            return {
                "format": FORMAT,
                "leafEncoding": list(self._codec.types),
                "tree": ["0x" + self._node(i).hex() for i in range(len(self._nodes) // 32)],
                "values": [
                    {"value": value, "treeIndex": index}
                    for value, index in zip(self._codec.to_json(self._values), self._indices)
                ],
            }

    @property
    def root(self) -> str:
        """The Merkle root as 0x-hex: the result hash a worker votes for."""
        return "0x" + self._node(0).hex()

    @property
    def leaf_encoding(self) -> list[str]:
        """The ABI types of a record's fields."""
        return list(self._codec.types)

    def __len__(self) -> int:
        return len(self._values)

    def at(self, index: int) -> Record:
        """The record at `index` (input order), in canonical form."""
        return self._values[self._value_index(index)]

    def entries(self) -> Iterator[tuple[int, Record]]:
        """Yields (index, record) in input order."""
        yield from enumerate(self._values)

    def encode(self, leaf: int | Sequence[Any]) -> bytes:
        """ABI encoding of a record (by index or value), for `WorkerVoting.verifyRecord`."""
        return self._codec.one(self.at(leaf) if _is_index(leaf) else leaf)[1]

    def leaf_hash(self, leaf: int | Sequence[Any]) -> str:
        """Leaf hash of a record (by index or value) as 0x-hex; the record may be absent."""
        return "0x" + self._codec.one(self.at(leaf) if _is_index(leaf) else leaf)[2].hex()

    def get_proof(self, leaf: int | Sequence[Any]) -> list[str]:
        """The proof of a record, given by index (input order) or by value, as 0x-hex nodes.

        Raises:
            LeafIndexError: the index is out of range.
            LeafNotFoundError: the value is not a record of this tree.
            LeafEncodingError: the value does not match the leaf encoding.
        """
        if _is_index(leaf):
            value_index = self._value_index(leaf)
        else:
            value_index = self._lookup.get(self._codec.one(leaf)[2])
            if value_index is None:
                raise LeafNotFoundError(leaf)
        return proof_of(self._nodes, self._indices[value_index])

    @staticmethod
    def verify(root: bytes | str, leaf_hash: bytes | str, proof: Sequence[bytes | str]) -> bool:
        """Whether `proof` links `leaf_hash` to `root` (OpenZeppelin `MerkleProof.verify`).

        Raises:
            InvalidNodeError: the root, the leaf hash or a proof element is not 32 bytes.
        """
        node = _node(leaf_hash)
        for sibling in proof:
            node = _hash_pair(node, _node(sibling))
        return node == _node(root)

    @cached_property
    def _lookup(self) -> dict[bytes, int]:
        # NOTE: equal records map to the last one, as in the JS library's hash lookup.
        return {self._node(tree_index): i for i, tree_index in enumerate(self._indices)}

    def _node(self, index: int) -> bytes:
        return self._nodes[32 * index : 32 * index + 32]

    def _value_index(self, index: int) -> int:
        if not 0 <= index < len(self._values):
            raise LeafIndexError(index, len(self._values))
        return index


def proof_of(nodes: bytes, tree_index: int) -> list[str]:
    """The proof of the leaf at `tree_index` of a tree given as its nodes (32 bytes each, in
    tree order), as 0x-hex: each node's sibling on the way up to the root."""
    proof = []
    i = tree_index
    while i > 0:
        sibling = i + 1 if i % 2 else i - 1
        proof.append("0x" + nodes[32 * sibling : 32 * sibling + 32].hex())
        i = (i - 1) // 2
    return proof


def _is_index(leaf: Any) -> bool:
    return isinstance(leaf, int) and not isinstance(leaf, bool)
