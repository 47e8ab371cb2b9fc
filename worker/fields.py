"""The field types of a workflow record: accepted forms, one canonical Python form, ABI encoding.

Each type checks and encodes whole columns at once, which is what makes 100k records fast in
Python: list comprehensions and C-level maps instead of a function call per value.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
from eth_abi.grammar import BasicType, normalize, parse

from worker.keccak import keccak

_INT_TEXT = re.compile(r"-?[0-9]+|0x[0-9a-fA-F]+")
_HEX_TEXT = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_ADDRESS_TEXT = re.compile(r"0x[0-9a-fA-F]{40}")
_WORDS = {False: bytes(32), True: (1).to_bytes(32, "big")}
_PAD = bytes(12)  # an address is left-padded to 32 bytes
_ZEROS = [bytes(n) for n in range(32)]

Record = tuple[Any, ...]  # a record in canonical form
BASES = ("uint", "int", "bool", "address", "bytes", "string")  # the field types a record may use


class Field(NamedTuple):
    """A field type: its canonical form, its checks and its ABI encoding, a column at a time."""

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


def _int_field(signed: bool, bits: int) -> Field:
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

    return Field(
        coerce,
        canonical,
        False,
        lambda col: [v.to_bytes(32, "big", signed=signed) for v in col],
        from_json,
        column,
    )


def _bytes_field(size: int | None) -> Field:
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
        return Field(coerce, _all_of(bytes), True, _encode_dynamic)
    padding = bytes(32 - size)

    def column(col: Sequence[Any], out: np.ndarray) -> None:
        # NOTE: numpy copies bytes into an S array faster than b"".join when the objects lie
        # scattered in memory (records sorted after they were made). It pads short values and
        # sizes the array by the longest: `canonical` checked every length, this the longest.
        words = np.array(col, "S")
        if words.dtype.itemsize != size:
            raise ValueError(f"expected exactly {size} bytes, got {words.dtype.itemsize}")
        out[:, :size] = words.view(np.uint8).reshape(-1, size)

    return Field(
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


def field_type(type_text: str) -> Field:
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
        return Field(
            _coerce_string, _all_of(str), True, lambda c: _encode_dynamic([v.encode() for v in c])
        )
    if base == "bool":
        return Field(_coerce_bool, _all_of(bool), False, lambda c: [_WORDS[v] for v in c])
    # Addresses are checked one by one (format and checksum), so no column is canonical as given.
    return Field(
        _coerce_address, lambda c: False, False, lambda c: [_PAD + bytes.fromhex(v[2:]) for v in c]
    )


def split_columns(records: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """The columns of records of `width` fields each (ValueError if a record has fewer)."""
    # NOTE: zip(*records) would pass every record as an argument: ~5x slower for 100k records.
    try:
        return [list(map(itemgetter(i), records)) for i in range(width)]
    except IndexError as exc:
        raise ValueError("a value has the wrong number of fields") from exc
