"""The leaf encoding of the 24/7 CFE matching workflow: four ABI words, one keccak block.

Every record is `(bytes32 consumer, bytes32 device, uint256 info, uint256 amount)`; its leaf is
OpenZeppelin's standard leaf `keccak256(keccak256(abi.encode(consumer, device, info, amount)))`.
Four static words are 128 bytes, which keccak absorbs in one block (its rate is 136 bytes): a
leaf costs one permutation for the encoding, one for the second hash.

- `consumer`, `device`: the id's ASCII bytes, right-padded with zeros (Solidity's
  `bytes32("solar-1")`); all zeros where the record has no such party.
- `info` packs the record's kind and where it belongs, from the most significant bit down:

      bits 255..192  interval start (UTC epoch seconds, 64 bits)
      bits 191..128  interval end
      bits 127..120  kind: 1 allocation, 2 leftover consumption, 3 excess generation, 4 CFE score,
                     5 CFE score over the whole round (its interval: first start to last end)
      bits 119..112  tier number (1 = first tier of params.tiers) of an allocation, else 0
      bits 111..0    first certificate id of the record's share of a bundle, 0 if none

- `amount`: Wh (kinds 1-3) or parts per million (kinds 4 and 5).

Records sort as tuples of these four values, so by consumer, then device, then interval.
"""

from __future__ import annotations

from typing import NamedTuple

TYPES = ("bytes32", "bytes32", "uint256", "uint256")
ALLOCATION, LEFTOVER, EXCESS, SCORE, ROUND_SCORE = 1, 2, 3, 4, 5
KINDS = {ALLOCATION: "allocation", LEFTOVER: "leftover", EXCESS: "excess", SCORE: "score",
         ROUND_SCORE: "round score"}  # fmt: skip
NOBODY = bytes(32)  # the device of a leftover or score record, the consumer of an excess one
PPM = 1_000_000

_CERT_BITS = 112
_CERT_MASK = (1 << _CERT_BITS) - 1
_U64 = (1 << 64) - 1


def id_bytes(party: str) -> bytes:
    """The bytes32 of an id (1-32 ASCII characters), right-padded with zeros."""
    return party.encode("ascii").ljust(32, b"\0")


def id_text(word: bytes) -> str:
    """The id of a bytes32 (`""` for all zeros)."""
    return word.rstrip(b"\0").decode("ascii")


def pack_info(start: int, end: int, kind: int, tier: int = 0, certificate: int = 0) -> int:
    """The `info` word of a record (layout in the module docstring)."""
    return start << 192 | end << 128 | kind << 120 | tier << _CERT_BITS | certificate


class Info(NamedTuple):
    """The fields of an `info` word."""

    start: int
    end: int
    kind: int
    tier: int
    certificate: int


def unpack_info(info: int) -> Info:
    """Splits an `info` word into its fields."""
    return Info(
        info >> 192,
        info >> 128 & _U64,
        info >> 120 & 0xFF,
        info >> _CERT_BITS & 0xFF,
        info & _CERT_MASK,
    )


def describe(record: tuple[bytes, bytes, int, int]) -> dict[str, object]:
    """A record in readable form: kind, ids, interval, tier, certificate, amount."""
    consumer, device, info, amount = record
    fields = unpack_info(info)
    return {
        "kind": KINDS.get(fields.kind, str(fields.kind)),
        "consumer": id_text(consumer),
        "device": id_text(device),
        "start": fields.start,
        "end": fields.end,
        "tier": fields.tier,
        "certificate": fields.certificate,
        ("ppm" if fields.kind in (SCORE, ROUND_SCORE) else "wh"): amount,
    }
