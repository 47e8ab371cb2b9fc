"""What the state store takes and returns: 32-byte values, argument checks and stored records."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, TypeVar

from worker.errors import StateValueError

Bytes32 = bytes | str  # 32 bytes, or 0x-hex
_T = TypeVar("_T")


def b32(field: str, value: Bytes32) -> bytes:
    """`value` as 32 bytes; raises `StateValueError` naming `field` if it is not 32 bytes."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    if isinstance(value, bytes | bytearray) and len(value) == 32:
        return bytes(value)
    raise StateValueError(field, f"expected 32 bytes or 0x-hex of 32 bytes, got {value!r}")


def to_hex(value: bytes | None) -> str | None:
    """`value` as 0x-hex (None stays None)."""
    return None if value is None else "0x" + value.hex()


def check_int(field: str, value: Any, low: int = 0) -> int:
    """`value` if it is an integer >= `low`; raises `StateValueError` naming `field` if not."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise StateValueError(field, f"expected an integer >= {low}, got {value!r}")
    return value


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    """`value` if it is one of `choices`; raises `StateValueError` naming `field` if not."""
    if value not in choices:
        raise StateValueError(field, f"expected one of {choices}, got {value!r}")
    return value


def from_row(cls: type[_T], row: sqlite3.Row) -> _T:
    """A dataclass from a row: blobs as 0x-hex, `agreed` as bool, `leaf_encoding` as a list."""
    values = {k: to_hex(v) if isinstance(v, bytes) else v for k, v in zip(row.keys(), row)}
    if values.get("agreed") is not None:
        values["agreed"] = bool(values["agreed"])
    if values.get("leaf_encoding") is not None:
        values["leaf_encoding"] = values["leaf_encoding"].split(",")
    return cls(**values)


@dataclass(frozen=True)
class VoteRecord:
    """A vote, commit or reveal as stored; `result` is the round result it is for."""

    voting_id: str
    attempt: int
    kind: str
    result: str
    state: str
    tx_hash: str | None
    nonce: int | None
    tries: int
    updated_at: float


@dataclass(frozen=True)
class RoundRecord:
    """One attempt of a round as stored (its tree: `StateStore.round_tree`)."""

    voting_id: str
    attempt: int
    window_start: int | None
    window_end: int | None
    event_key: str | None
    status: str
    result: str | None
    leaf_encoding: list[str] | None
    record_count: int | None
    updated_at: float


@dataclass(frozen=True)
class Outcome:
    """What the contract decided for a round, and whether this worker agreed."""

    voting_id: str
    kind: str
    attempt: int | None
    result: str | None
    agreed: bool | None
    fallback: str | None
    chain_index: int | None
    block_number: int | None
    recorded_at: float


@dataclass(frozen=True)
class Proof:
    """What an auditor needs to check that a record is part of a round's result."""

    voting_id: str
    attempt: int
    index: int
    record: tuple[Any, ...]
    leaf_encoding: list[str]
    encoded: str  # abi.encode(leaf_encoding, record): the argument of `verifyRecord`
    leaf_hash: str
    proof: list[str]
    root: str
