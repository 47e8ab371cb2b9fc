"""Units, limits and field types of network parameter files (see `scripts/_params.py`)."""

import re
from typing import Annotated, Any

from eth_utils import is_address, keccak, to_checksum_address
from pydantic import BeforeValidator, Field

MAX_WORKERS = 64  # WorkerPool.MAX_WORKERS
MIN_PLURALITY_VOTES = 2  # VotingStorage.MIN_PLURALITY_VOTES: one worker alone never decides
BPS = 10_000
HOUR = 3600
DAY = 24 * HOUR
MAX_DURATION = 30 * DAY  # VotingStorage.MAX_DURATION: longest vote, reveal or failover window
BLOCK_TIME = 5  # seconds between Energy Web Chain blocks
REGISTRATION_MARGIN = HOUR  # WorkerRewards: registration window >= max window + this
MIN_REGISTRATION = 15 * 60  # a registration window shorter than this is easy to miss
MIN_WINDOW_BLOCKS = 10  # a vote or reveal window of fewer blocks leaves workers little margin
ZERO_ADDRESS = "0x" + "00" * 20
FALLBACK_CODES = {"alert": 0, "plurality": 1, "failover": 2}
WEIGHT_NAMES = ("availability", "consistency", "accuracy", "speed")
_UNITS = {"s": 1, "m": 60, "h": HOUR, "d": DAY, "w": 7 * DAY}
BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
ROLE_LABEL = re.compile(r"^[a-z0-9_-]+$")


def address(value: Any) -> str:
    """A non-zero address, returned checksummed; lower-case or correctly checksummed input."""
    if isinstance(value, str) and "REPLACE" in value.upper():
        raise ValueError(f"placeholder {value!r}: replace it with a real address")
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"not an address: {value!r}")
    if int(value, 16) == 0:
        raise ValueError("must not be the zero address")
    return to_checksum_address(value)


def parse_duration(value: Any) -> int:
    """Seconds from an integer or a string with a unit: `90`, `90s`, `30m`, `1h`, `7d`, `2w`."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", str(value))
    if not match:
        raise ValueError(f"not a duration (seconds, or a number with s, m, h, d or w): {value!r}")
    number, unit = match.groups()
    return int(number) * _UNITS[unit or "s"]


def weights_list(value: Any) -> Any:
    """Accepts the four weights as a list or as a mapping by category name."""
    if isinstance(value, dict):
        unknown = set(value) - set(WEIGHT_NAMES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; use {list(WEIGHT_NAMES)}")
        missing = [name for name in WEIGHT_NAMES if name not in value]
        if missing:
            raise ValueError(f"missing categories {missing}")
        return [value[name] for name in WEIGHT_NAMES]
    return value


def namehash(name: str) -> bytes:
    """ENS namehash of a dotted name: how Energy Web IAM identifies a role on chain."""
    node = b"\x00" * 32
    for label in reversed(name.split(".")):
        node = keccak(node + keccak(text=label))
    return node


Address = Annotated[str, BeforeValidator(address)]
Duration = Annotated[int, BeforeValidator(parse_duration)]
Weight = Annotated[int, Field(ge=0, le=BPS)]
