"""What every data source shares: the batch it hands over, its counters, payload checks, backoff."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from worker.errors import SourceConfigError, SourceConflictError, SourcePayloadError

Payload = dict[str, Any] | list[Any]
Shape = Literal["object", "array", "any"]

# Limits of every payload from a source (see `decode_payload`): far above any honest reading.
MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 32  # nested arrays and objects
MAX_INT_DIGITS = 80  # a uint256 has at most 78 digits
MAX_STRING = 65_536  # characters of one string or object key


@dataclass(frozen=True)
class SourceBatch:
    """One unit of new input data, handed by a source to its sink.

    Attributes:
        source: Configured name of the source that produced the batch.
        key: Stable idempotency key: the same data yields the same key, so a sink can store it once
            even when it is delivered again (HTTP: the ETag or a hash of the body; NATS: the
            Nats-Msg-Id header or the stream sequence).
        payload: The decoded JSON document (an object or an array).
        received_at: Unix time (seconds) at which the worker received the data.
    """

    source: str
    key: str
    payload: Payload
    received_at: float


Sink = Callable[[SourceBatch], Awaitable[None]]
"""Stores a batch durably; raising means "not stored" and the source delivers it again later."""

Validator = Callable[[Payload], None]
"""Checks a decoded payload (for example against a workflow's schema); raising refuses it."""


@dataclass
class SourceStats:
    """Counters shared by every source (exported as metrics by the operator surface).

    Attributes:
        batches: Batches handed to the sink and stored by it.
        errors: Reported failures of any kind (unreachable, HTTP status, bad payload, sink).
        malformed: Payloads rejected as not JSON, of the wrong shape, or invalid.
        conflicts: Payloads the sink refused for contradicting data stored before.
        sink_errors: Times the sink raised; the batch is delivered again later.
        last_error: Message of the most recent failure, if any.
    """

    batches: int = 0
    errors: int = 0
    malformed: int = 0
    conflicts: int = 0
    sink_errors: int = 0
    last_error: str | None = None

    def record_error(self, error: BaseException | str) -> None:
        """Counts one failure and remembers its message."""
        self.errors += 1
        self.last_error = str(error)

    def record_refused(self, error: SourcePayloadError) -> None:
        """Counts a payload refused for good (never stored, never delivered again)."""
        self.record_error(error)
        if isinstance(error, SourceConflictError):
            self.conflicts += 1
        else:
            self.malformed += 1


def decode_payload(
    source: str,
    body: bytes,
    *,
    shape: Shape = "any",
    validate: Validator | None = None,
    key: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Payload:
    """Decodes a JSON document from an untrusted source and checks its top-level shape.

    Whatever the bytes are, the only exception is `SourcePayloadError`: the body must be at most
    `max_bytes`, valid UTF-8 JSON without NaN or Infinity, without a repeated object key, with
    integers of at most `MAX_INT_DIGITS` digits, strings of at most `MAX_STRING` characters (no
    lone surrogates) and at most `MAX_DEPTH` nested arrays and objects.

    Args:
        source: Name of the source, for the error message.
        body: Raw bytes received (UTF-8 JSON).
        shape: Required top level: "object", "array" or "any" (either of the two).
        validate: Optional further check; any exception it raises rejects the payload.
        key: Idempotency key of the data, for the error message.
        max_bytes: Largest body accepted.

    Returns:
        The decoded object or array.

    Raises:
        SourcePayloadError: The body breaks one of the rules above, has the wrong shape, or fails
            `validate`.
    """
    if len(body) > max_bytes:
        raise SourcePayloadError(source, f"{len(body)} bytes, more than {max_bytes}", key)
    if _too_deep(body):
        # NOTE: checked before parsing: the C parser recurses per level and, under a raised
        # recursion limit, a deep enough document overflows the C stack instead of raising.
        raise SourcePayloadError(source, f"nested deeper than {MAX_DEPTH} levels", key)
    try:
        payload = json.loads(
            body.decode("utf-8"),
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
        _check_tree(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourcePayloadError(source, f"not JSON ({_short(error)})", key) from error
    except _Refused as error:
        raise SourcePayloadError(source, str(error), key) from error
    except RecursionError as error:
        raise SourcePayloadError(source, f"nested deeper than {MAX_DEPTH} levels", key) from error
    allowed = {"object": (dict,), "array": (list,), "any": (dict, list)}[shape]
    if not isinstance(payload, allowed):
        wanted = "an object or an array" if shape == "any" else f"an {shape}"
        got = type(payload).__name__
        raise SourcePayloadError(source, f"top level must be {wanted}, got {got}", key)
    if validate is not None:
        try:
            validate(payload)
        except SourcePayloadError:
            raise
        except Exception as error:  # NOTE: whatever a check raises on hostile data refuses it
            why = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}"
            raise SourcePayloadError(source, f"validation failed: {_short(why)}", key) from error
    return payload


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _too_deep(body: bytes) -> bool:
    """Whether the brackets outside strings nest deeper than `MAX_DEPTH` (or do not close)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for level in range(MAX_DEPTH):
        if not brackets:
            return False
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if shorter == brackets:
            # NOTE: brackets that do not pair up (not JSON): each can add one level at most.
            return level + len(brackets) > MAX_DEPTH
        brackets = shorter
    return bool(brackets)


class _Refused(Exception):
    """A JSON value breaks one of the limits of `decode_payload`."""


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_INT_DIGITS:
        raise _Refused(f"a number of {len(text)} characters (at most {MAX_INT_DIGITS})")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"a number out of range ({text[:20]})")
    return value


def _refuse_constant(text: str) -> Any:
    raise _Refused(f"{text} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Refused(f"object key {_short(repeated)!r} given twice")
    return result


def _check_tree(payload: Any) -> None:
    """Checks depth and strings of a decoded document without recursion."""
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for name, item in items:
                if isinstance(name, str):
                    _check_string(name)
                stack.append((item, depth + 1))


def _check_string(text: str) -> None:
    if len(text) > MAX_STRING:
        raise _Refused(f"a string of {len(text)} characters (at most {MAX_STRING})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _Refused("a string with a lone surrogate (not Unicode text)") from error


def _short(text: Any, limit: int = 200) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Delay before retry number `attempt` (1-based): exponential, capped, with equal jitter.

    Half of the exponential step is kept and the other half drawn at random, so workers that failed
    together do not retry in lockstep, yet never retry sooner than half the step.
    """
    step = min(cap, base * 2 ** min(attempt - 1, 32))  # NOTE: a bounded power cannot overflow.
    return step / 2 + random.uniform(0, step / 2)


async def wait_or_stop(stop_event: asyncio.Event | None, seconds: float) -> bool:
    """Sleeps up to `seconds`, waking early when `stop_event` is set.

    Returns:
        True when the source should stop.
    """
    if stop_event is None:
        await asyncio.sleep(max(0.0, seconds))
        return False
    if seconds > 0 and not stop_event.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=seconds)
    return stop_event.is_set()


def require(source: str, field: str, ok: bool, reason: str) -> None:
    """Raises `SourceConfigError` for `field` unless `ok`."""
    if not ok:
        raise SourceConfigError(source, field, reason)
