"""Canonical encoding of workflow records: the leaves of the records' Merkle tree.

A record is a tuple of values with an ABI type list, the leaf encoding, for example
`["string", "string", "uint64", "uint256"]`. Its bytes are `abi.encode(types, values)` and its leaf
is `keccak256(keccak256(abi.encode(types, values)))`, as in OpenZeppelin's standard Merkle tree.
Values are checked strictly and kept in one canonical Python form per type: int for (u)intN,
bytes for bytes/bytesN, str for string and address (as given, checksum verified), bool for bool.
Integers may also be given as decimal or 0x-hex strings and bytes as 0x-hex, the JSON forms.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Any, NamedTuple

import numpy as np
from eth_abi.exceptions import ABITypeError, ParseError
from eth_abi.grammar import BasicType, normalize, parse

from worker.errors import LeafEncodingError

try:
    # NOTE: safe-pysha3 (C) hashes about five times faster than eth-hash's pycryptodome backend;
    # a tree of 100k records takes 300k hashes.
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        """Keccak-256 digest of `data`."""
        return _keccak_256(data).digest()

    def keccak_all(items: Iterable[bytes]) -> list[bytes]:
        """Keccak-256 digest of each item (the loop runs in C: no Python call per item)."""
        return list(map(_digest, map(_keccak_256, items)))

    _digest = methodcaller("digest")

except ImportError:  # pragma: no cover - depends on the environment
    from eth_hash.auto import keccak

    def keccak_all(items: Iterable[bytes]) -> list[bytes]:
        """Keccak-256 digest of each item."""
        return list(map(keccak, items))


_INT_TEXT = re.compile(r"-?[0-9]+|0x[0-9a-fA-F]+")
_HEX_TEXT = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_ADDRESS_TEXT = re.compile(r"0x[0-9a-fA-F]{40}")
_WORDS = {False: bytes(32), True: (1).to_bytes(32, "big")}
_PAD = bytes(12)  # an address is left-padded to 32 bytes
_ZEROS = [bytes(n) for n in range(32)]

Record = tuple[Any, ...]  # a record in canonical form
BASES = ("uint", "int", "bool", "address", "bytes", "string")  # the field types a record may use

# -------------------------------------------------------------------------------------------------
# Record fields: accepted forms -> one canonical Python form -> ABI encoding, a column at a time
# -------------------------------------------------------------------------------------------------


class _Field(NamedTuple):
    """A field type. Whole columns are checked and encoded at once, which is what makes 100k
    records fast in Python: list comprehensions instead of function calls per value."""

    coerce: Callable[[Any], Any]  # one value -> canonical form; raises ValueError
    canonical: Callable[[Sequence[Any]], bool]  # whether a column is canonical already
    dynamic: bool
    encode: Callable[[Sequence[Any]], list[bytes]]  # head words, or tail parts if dynamic
    # A whole column of JSON forms (decimal or 0x-hex strings) -> canonical, or None when the
    # column is not all in the one form this handles (then `coerce` goes value by value).
    from_json: Callable[[Sequence[Any]], list[Any] | None] | None = None
    # A canonical column's ABI words written into an (n, 32) uint8 array of zeros, for trees
    # hashed in one batch (`worker.keccak_batch`); None for types that do not offer it.
    column: Callable[[Sequence[Any], np.ndarray], None] | None = None


def _int_field(signed: bool, bits: int) -> _Field:
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    def coerce(value: Any) -> int:
        if isinstance(value, str) and _INT_TEXT.fullmatch(value):
            value = int(value, 16) if value.startswith("0x") else int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer or a decimal/0x-hex string, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{value} is out of range [{low}, {high}]")
        return int(value)

    def canonical(col: Sequence[Any]) -> bool:
        return set(map(type, col)) == {int} and low <= min(col) and max(col) <= high

    def from_json(col: Sequence[Any]) -> list[int] | None:
        # NOTE: isascii + isdigit is exactly [0-9]+, the unsigned decimal form of _INT_TEXT.
        if not all(v.__class__ is str and v.isascii() and v.isdigit() for v in col):
            return None
        values = list(map(int, col))
        return values if low <= min(values) and max(values) <= high else None

    def column(col: Sequence[Any], out: np.ndarray) -> None:
        if not signed:
            with contextlib.suppress(OverflowError):  # NOTE: then a value needs over 64 bits
                # NOTE: values that fit 64 bits are the last 8 bytes of their word, big-endian
                words = np.fromiter(col, np.uint64, len(col)).astype(">u8")
                out[:, 24:] = words.view(np.uint8).reshape(-1, 8)
                return
        if signed:
            data = b"".join([v.to_bytes(32, "big", signed=True) for v in col])
        else:
            data = b"".join(map(int.to_bytes, col, repeat(32), repeat("big")))
        out[:] = np.frombuffer(data, np.uint8).reshape(-1, 32)

    return _Field(
        coerce,
        canonical,
        False,
        lambda col: [v.to_bytes(32, "big", signed=signed) for v in col],
        from_json,
        column,
    )


def _bytes_field(size: int | None) -> _Field:
    def coerce(value: Any) -> bytes:
        if isinstance(value, str) and _HEX_TEXT.fullmatch(value):
            value = bytes.fromhex(value[2:])
        elif isinstance(value, bytes | bytearray | memoryview):
            value = bytes(value)
        else:
            raise ValueError(f"expected bytes or an even-length 0x-hex string, got {value!r}")
        if size is not None and len(value) != size:
            raise ValueError(f"expected exactly {size} bytes, got {len(value)}")
        return value

    if size is None:
        return _Field(coerce, _all_of(bytes), True, _encode_dynamic)
    padding = bytes(32 - size)

    def column(col: Sequence[Any], out: np.ndarray) -> None:
        out[:, :size] = np.frombuffer(b"".join(col), np.uint8).reshape(-1, size)

    return _Field(
        coerce,
        lambda col: set(map(type, col)) == {bytes} and set(map(len, col)) == {size},
        False,
        (lambda col: list(col)) if size == 32 else (lambda col: [v + padding for v in col]),
        lambda col: _hex_column(col, size),
        column,
    )


def _hex_column(col: Sequence[Any], size: int) -> list[bytes] | None:
    """A column of 0x-hex strings of `size` bytes each as bytes, or None if it is not one."""
    width = 2 + 2 * size
    if not all(v.__class__ is str and len(v) == width and v[:2] == "0x" for v in col):
        return None
    try:
        data = bytes.fromhex("".join([v[2:] for v in col]))
    except ValueError:
        return None
    # NOTE: fromhex skips whitespace, so a value with a space comes out short: refused here.
    if len(data) != size * len(col):
        return None
    return [data[i : i + size] for i in range(0, len(data), size)]


def _coerce_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    value.encode()  # raises UnicodeEncodeError (a ValueError) on lone surrogates
    return value


def _coerce_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected a bool, got {value!r}")
    return value


def _coerce_address(value: Any) -> str:
    if isinstance(value, bytes | bytearray) and len(value) == 20:
        return _checksum(bytes(value).hex())
    if not isinstance(value, str) or not _ADDRESS_TEXT.fullmatch(value):
        raise ValueError(f"expected a 0x-hex address of 20 bytes, got {value!r}")
    digits = value[2:]
    if digits not in (digits.lower(), digits.upper()) and _checksum(digits.lower()) != value:
        raise ValueError(f"address {value} has an invalid EIP-55 checksum")
    return value  # NOTE: kept as given (like the JS library) so dumps of both sides are equal


def _checksum(lower_hex: str) -> str:
    digest = keccak(lower_hex.encode()).hex()[:40]
    return "0x" + "".join(
        c.upper() if d in "89abcdef" else c for c, d in zip(lower_hex, digest, strict=True)
    )


def _all_of(cls: type) -> Callable[[Sequence[Any]], bool]:
    return lambda col: all(v.__class__ is cls for v in col)


def _encode_dynamic(column: Iterable[bytes]) -> list[bytes]:
    """Tail parts of `bytes` values: the length word, then the data right-padded to 32 bytes."""
    return [len(data).to_bytes(32, "big") + data + _ZEROS[-len(data) % 32] for data in column]


def _field(type_text: str) -> _Field:
    abi_type = parse(normalize(type_text))
    abi_type.validate()
    if abi_type.is_array or not isinstance(abi_type, BasicType) or abi_type.base not in BASES:
        raise ValueError(f"unsupported field type {type_text!r}; a field is one of {BASES}")
    base, sub = abi_type.base, abi_type.sub
    if base in ("uint", "int"):
        return _int_field(base == "int", sub)
    if base == "bytes":
        return _bytes_field(sub or None)
    if base == "string":
        # NOTE: a lone surrogate fails in `encode`; the caller then finds it value by value.
        return _Field(
            _coerce_string, _all_of(str), True, lambda c: _encode_dynamic([v.encode() for v in c])
        )
    if base == "bool":
        return _Field(_coerce_bool, _all_of(bool), False, lambda c: [_WORDS[v] for v in c])
    # Addresses are checked one by one (format and checksum), so no column is canonical as given.
    return _Field(
        _coerce_address, lambda c: False, False, lambda c: [_PAD + bytes.fromhex(v[2:]) for v in c]
    )


def _columns(records: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """The columns of records of `width` fields each (ValueError if a record has fewer)."""
    # NOTE: zip(*records) would pass every record as an argument: ~5x slower for 100k records.
    try:
        return [list(map(itemgetter(i), records)) for i in range(width)]
    except IndexError as exc:
        raise ValueError("a value has the wrong number of fields") from exc


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
            self._fields = [_field(t) for t in types]
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
            given = _columns(values, width)
            columns = [self._canonical(field, col) for field, col in zip(self._fields, given)]
            # NOTE: tuples whose every column is canonical already are the records as they are.
            as_given = kinds == {tuple} and all(a is b for a, b in zip(columns, given))
            records = list(values) if as_given else list(zip(*columns, strict=True))
            # NOTE: a lone surrogate in a string fails in the encoding
            return records, self._encode_columns(columns, len(records))
        except ValueError as exc:
            self._diagnose(values)  # raises with the record and field at fault
            raise LeafEncodingError(self.types, str(exc)) from exc

    def rows(self, values: Sequence[Any]) -> np.ndarray | None:
        """The ABI encodings of records given as canonical tuples of static integer and bytes
        fields, as one (n, 32 x fields) uint8 array; None for any other records (use `prepare`,
        which also says what is wrong with them)."""
        width = len(self._fields)
        if not values or any(field.column is None for field in self._fields):
            return None
        if set(map(type, values)) != {tuple} or set(map(len, values)) != {width}:
            return None
        columns = _columns(values, width)
        if not all(field.canonical(col) for field, col in zip(self._fields, columns)):
            return None
        out = np.zeros((len(values), 32 * width), np.uint8)
        for i, (field, col) in enumerate(zip(self._fields, columns)):
            field.column(col, out[:, 32 * i : 32 * i + 32])
        return out

    @staticmethod
    def _canonical(field: _Field, col: Sequence[Any]) -> Sequence[Any]:
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
        for field, col in zip(self._fields, _columns(records, len(self._fields)), strict=True):
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
        return self._encode_columns(_columns(records, len(self._fields)), len(records))

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
