"""Exceptions of the worker package: one base; each subclass builds its message in `__init__`."""

from collections.abc import Sequence
from typing import Any


class WorkerError(Exception):
    """Base of every exception the worker package raises on purpose."""


# -------------------------------------------------------------------------------------------------
# Merkle trees of records
# -------------------------------------------------------------------------------------------------


class MerkleError(WorkerError):
    """Base of the errors of `worker.merkle`."""


class EmptyTreeError(MerkleError):
    """A tree was asked for with no records."""

    def __init__(self) -> None:
        super().__init__("cannot build a Merkle tree from zero records")


class LeafEncodingError(MerkleError):
    """A leaf encoding (ABI type list) is invalid, or a record does not match it."""

    def __init__(self, types: Sequence[str], reason: str) -> None:
        self.types = list(types)
        self.reason = reason
        super().__init__(f"leaf encoding {self.types}: {reason}")


class LeafNotFoundError(MerkleError):
    """A record was looked up that is not a leaf of the tree."""

    def __init__(self, value: Any) -> None:
        self.value = value
        super().__init__(f"record {value!r} is not in the tree")


class LeafIndexError(MerkleError):
    """A record index is out of range."""

    def __init__(self, index: int, length: int) -> None:
        self.index = index
        self.length = length
        super().__init__(f"record index {index} is out of range for a tree of {length} records")


class InvalidNodeError(MerkleError):
    """A root, leaf hash or proof element is not 32 bytes."""

    def __init__(self, node: Any) -> None:
        self.node = node
        super().__init__(f"a Merkle node must be 32 bytes (bytes or 0x-hex), got {node!r}")


class InvalidDumpError(MerkleError):
    """A tree dump is malformed or inconsistent."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cannot load Merkle tree dump: {reason}")
