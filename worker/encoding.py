"""Canonical encoding of workflow records: the leaves of the records' Merkle tree.

A record is a tuple of values with an ABI type list, the leaf encoding, for example
`["string", "string", "uint64", "uint256"]`. Its bytes are `abi.encode(types, values)` and its leaf
is `keccak256(keccak256(abi.encode(types, values)))`, as in OpenZeppelin's standard Merkle tree.
Values are checked strictly and kept in one canonical Python form per type: int for (u)intN,
bytes for bytes/bytesN, str for string and address (as given, checksum verified), bool for bool.
Integers may also be given as decimal or 0x-hex strings and bytes as 0x-hex, the JSON forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from eth_abi.exceptions import ABITypeError, ParseError

from worker.errors import LeafEncodingError
from worker.fields import Field, Record, field_type, split_columns
from worker.keccak import keccak


def to_json(value: Any) -> Any:
    """Canonical value -> JSON form: integers as decimal strings, bytes as 0x-hex."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


class LeafCodec:
    """Checks, encodes and hashes the records of one leaf encoding (an ABI type list)."""

    def __init__(self, types: tuple[str, ...]) -> None:
        self.types = list(types)
        try:
            if not types:
                raise ValueError("a record has at least one field")
            self._fields = [field_type(t) for t in types]
        except (ParseError, ABITypeError, ValueError) as exc:
            raise LeafEncodingError(self.types, f"invalid field type: {exc}") from exc
        self._head_size = 32 * len(types)

    def prepare(self, values: Sequence[Any]) -> tuple[list[Record], list[bytes]]:
        """The records in canonical form and their ABI encodings.

        Raises:
            LeafEncodingError: naming the first value that does not match the leaf encoding.
        """
        width = len(self._fields)
        if not values:
            return [], []
        try:
            # NOTE: the set of types is the fast path; subclasses (named tuples) take the slow one.
            kinds = set(map(type, values))
            if not kinds <= {list, tuple} and not all(isinstance(v, list | tuple) for v in values):
                raise ValueError("a value is not a list or tuple")
            if set(map(len, values)) != {width}:
                raise ValueError("a value has the wrong number of fields")
            given = split_columns(values, width)
            columns = [self._canonical(field, col) for field, col in zip(self._fields, given)]
            # NOTE: tuples whose every column is canonical already are the records as they are.
            as_given = kinds == {tuple} and all(a is b for a, b in zip(columns, given))
            records = list(values) if as_given else list(zip(*columns, strict=True))
            # NOTE: a lone surrogate in a string fails in the encoding
            return records, self._encode_columns(columns, len(records))
        except ValueError as exc:
            self._diagnose(values)  # raises with the record and field at fault
            raise LeafEncodingError(self.types, str(exc)) from exc

    def is_static(self, values: Sequence[Any]) -> bool:
        """Whether the records are canonical tuples of static integer and bytes fields, the form
        `rows` encodes at once (what workflows return); if not, `prepare` says what is wrong."""
        return self._static_columns(values) is not None

    def rows(self, values: Sequence[Any]) -> np.ndarray | None:
        """The ABI encodings of records that are `is_static`, as one (n, 32 x fields) uint8
        array; None for any other records (use `prepare`)."""
        columns = self._static_columns(values)
        if columns is None:
            return None
        out = np.zeros((len(values), 32 * len(columns)), np.uint8)
        for i, (field, col) in enumerate(zip(self._fields, columns)):
            field.column(col, out[:, 32 * i : 32 * i + 32])
        return out

    def _static_columns(self, values: Sequence[Any]) -> list[list[Any]] | None:
        width = len(self._fields)
        if not values or any(field.column is None for field in self._fields):
            return None
        if set(map(type, values)) != {tuple} or set(map(len, values)) != {width}:
            return None
        columns = split_columns(values, width)
        if not all(field.canonical(col) for field, col in zip(self._fields, columns)):
            return None
        return columns

    @staticmethod
    def _canonical(field: Field, col: Sequence[Any]) -> Sequence[Any]:
        if field.canonical(col):
            return col
        if field.from_json is not None and (converted := field.from_json(col)) is not None:
            return converted
        return [field.coerce(v) for v in col]

    def to_json(self, records: Sequence[Record]) -> list[list[Any]]:
        """The JSON form of each canonical record (`to_json` of every field), a column at a time."""
        if not records:
            return []
        columns = []
        for field, col in zip(self._fields, split_columns(records, len(self._fields)), strict=True):
            if field.from_json is not None and col[0].__class__ is int:
                columns.append(list(map(str, col)))
            elif field.from_json is not None:
                columns.append(["0x" + v.hex() for v in col])
            else:
                columns.append([to_json(v) for v in col])
        return list(map(list, zip(*columns)))

    def _diagnose(self, values: Sequence[Any]) -> None:
        for row, value in enumerate(values):
            where = f" (record {row})" if len(values) > 1 else ""
            if not isinstance(value, list | tuple) or len(value) != len(self._fields):
                reason = f"expected a list or tuple of {len(self._fields)} fields, got {value!r}"
                raise LeafEncodingError(self.types, reason + where)
            for i, (field, item) in enumerate(zip(self._fields, value, strict=True)):
                try:
                    field.coerce(item)
                except ValueError as exc:
                    reason = f"field {i} ({self.types[i]}) of {value!r}{where}: {exc}"
                    raise LeafEncodingError(self.types, reason) from exc

    def encode(self, records: Sequence[Record]) -> list[bytes]:
        """abi.encode(types, record) of each canonical record."""
        return self._encode_columns(split_columns(records, len(self._fields)), len(records))

    def _encode_columns(self, columns: Sequence[Sequence[Any]], count: int) -> list[bytes]:
        # Head: static fields in place, dynamic ones as the offset of their part in the tail.
        if not count:
            return []
        heads: list[list[bytes]] = []
        tails: list[list[bytes]] = []
        offsets = [self._head_size] * count
        for field, col in zip(self._fields, columns, strict=True):
            parts = field.encode(col)
            if field.dynamic:
                heads.append([offset.to_bytes(32, "big") for offset in offsets])
                tails.append(parts)
                offsets = [offset + len(part) for offset, part in zip(offsets, parts, strict=True)]
            else:
                heads.append(parts)
        return list(map(b"".join, zip(*heads, *tails, strict=True)))

    def one(self, value: Any) -> tuple[Record, bytes, bytes]:
        """(canonical record, ABI encoding, leaf hash) of one value."""
        (record,), (encoded,) = self.prepare([value])
        return record, encoded, keccak(keccak(encoded))


def leaf_codec(types: Sequence[str]) -> LeafCodec:
    """The (cached) codec of a leaf encoding.

    Raises:
        LeafEncodingError: `types` is not a list of supported ABI types.
    """
    if isinstance(types, str) or not all(isinstance(t, str) for t in types):
        raise LeafEncodingError([str(types)], "expected a list of ABI type strings")
    return _cached_codec(tuple(types))


@lru_cache(maxsize=64)
def _cached_codec(types: tuple[str, ...]) -> LeafCodec:
    return LeafCodec(types)


def encode_record(types: Sequence[str], value: Sequence[Any]) -> bytes:
    """abi.encode(types, value): the `encodedRecord` argument of `WorkerVoting.verifyRecord`.

    Raises:
        LeafEncodingError: the types are invalid or the record does not match them.
    """
    return leaf_codec(types).one(value)[1]


def leaf_hash(types: Sequence[str], value: Sequence[Any]) -> str:
    """The standard leaf of a record, keccak256(keccak256(abi.encode(types, value))), as 0x-hex.

    Raises:
        LeafEncodingError: the types are invalid or the record does not match them.
    """
    return "0x" + leaf_codec(types).one(value)[2].hex()
