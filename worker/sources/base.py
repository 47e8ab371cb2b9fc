"""What every data source shares: the batch it hands over, its counters, payload checks, backoff."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from worker.errors import SourceConfigError, SourcePayloadError

Payload = dict[str, Any] | list[Any]
Shape = Literal["object", "array", "any"]


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
"""Checks a decoded payload (for example against a workflow's schema); raises `ValueError`."""


@dataclass
class SourceStats:
    """Counters shared by every source (exported as metrics by the operator surface).

    Attributes:
        batches: Batches handed to the sink and stored by it.
        errors: Reported failures of any kind (unreachable, HTTP status, bad payload, sink).
        malformed: Payloads rejected as not JSON, of the wrong shape, or invalid.
        sink_errors: Times the sink raised; the batch is delivered again later.
        last_error: Message of the most recent failure, if any.
    """

    batches: int = 0
    errors: int = 0
    malformed: int = 0
    sink_errors: int = 0
    last_error: str | None = None

    def record_error(self, error: BaseException | str) -> None:
        """Counts one failure and remembers its message."""
        self.errors += 1
        self.last_error = str(error)


def decode_payload(
    source: str,
    body: bytes,
    *,
    shape: Shape = "any",
    validate: Validator | None = None,
    key: str | None = None,
) -> Payload:
    """Decodes a JSON document and checks its top-level shape.

    Args:
        source: Name of the source, for the error message.
        body: Raw bytes received (UTF-8 JSON).
        shape: Required top level: "object", "array" or "any" (either of the two).
        validate: Optional further check; a `ValueError` it raises rejects the payload.
        key: Idempotency key of the data, for the error message.

    Returns:
        The decoded object or array.

    Raises:
        SourcePayloadError: The body is not UTF-8 JSON, has the wrong shape, or fails `validate`.
    """
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourcePayloadError(source, f"not JSON ({error})", key) from error
    allowed = {"object": (dict,), "array": (list,), "any": (dict, list)}[shape]
    if not isinstance(payload, allowed):
        wanted = "an object or an array" if shape == "any" else f"an {shape}"
        got = type(payload).__name__
        raise SourcePayloadError(source, f"top level must be {wanted}, got {got}", key)
    if validate is not None:
        try:
            validate(payload)
        except ValueError as error:  # NOTE: pydantic's ValidationError is a ValueError too.
            raise SourcePayloadError(source, f"validation failed: {error}", key) from error
    return payload


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
