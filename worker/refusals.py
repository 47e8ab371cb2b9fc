"""Broadcasts the node refused: what the refusal means, and when to try again.

A node refuses a signed transaction for a reason the worker cannot cure by signing it again at
once: the account cannot pay the gas (`funds`), the nonce is used or ahead (`nonce`), the price is
below what the node takes or below a pending copy (`underpriced`), the gas limit does not fit
(`gas`). Such a transaction is reported as refused (never as sent), counted
(`worker_tx_refused_total{reason}`) and tried again after a backoff that doubles per refusal, up to
`BACKOFF_MAX`, instead of on every tick. "already known" is no refusal: the node has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from worker.sources.base import backoff_delay

log = logging.getLogger(__name__)

BACKOFF_FIRST = 2.0  # seconds before the first retry of a refused transaction
BACKOFF_MAX = 60.0
REASONS = ("funds", "nonce", "underpriced", "gas", "other")
_PATTERNS = (
    ("known", ("already known", "known transaction", "already imported")),
    ("funds", ("insufficient funds", "insufficient balance", "not enough funds")),
    ("nonce", ("nonce too low", "nonce too high", "invalid nonce", "nonce has already been used")),
    (
        "underpriced",
        ("underpriced", "fee too low", "less than block base fee", "gas price too low"),
    ),
    ("gas", ("gas limit", "intrinsic gas", "exceeds block gas")),
)


def classify(message: str) -> str | None:
    """The reason of a refusal (one of `REASONS`), or None when the node has the transaction."""
    text = message.lower()
    for reason, needles in _PATTERNS:
        if any(needle in text for needle in needles):
            return None if reason == "known" else reason
    return "other"


def is_transient(exc: BaseException) -> bool:
    """Whether a failed node call may succeed when tried again (connection faults, timeouts)."""
    # NOTE: web3's AutoProvider (Ape's) answers a node it cannot reach with CannotHandleRequest.
    name = type(exc).__name__
    return isinstance(exc, ConnectionError | TimeoutError | OSError) or name in {
        "ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "ProviderNotConnectedError",
        "CannotHandleRequest",
    }  # fmt: skip


class Refusals:
    """Backoff of refused transactions, per action.

    Args:
        clock: Monotonic clock.
        metrics: Optional `worker.metrics.Metrics` (`tx_refused(reason)`).
    """

    def __init__(self, clock: Callable[[], float], metrics: object = None) -> None:
        self.clock, self.metrics = clock, metrics
        self._count: dict[Hashable, int] = {}
        self._retry_at: dict[Hashable, float] = {}
        self.short_of_funds = False  # the last refusal was for funds (cleared by an accepted one)

    def refused(self, key: Hashable, what: str, message: str) -> str:
        """Records a refusal of `what` (logged once per refusal) and returns its reason."""
        reason = classify(message) or "other"
        count = self._count[key] = self._count.get(key, 0) + 1
        delay = backoff_delay(count, BACKOFF_FIRST, BACKOFF_MAX)
        self._retry_at[key] = self.clock() + delay
        self.short_of_funds = reason == "funds"
        if self.metrics is not None:
            self.metrics.tx_refused(reason)
        log.warning("%s refused by the node (%s): %s; trying again in %.0f s", what, reason,
                    message, delay)  # fmt: skip
        return reason

    def accepted(self, key: Hashable) -> None:
        """Forgets the refusals of `key`: the node took its transaction."""
        self._count.pop(key, None)
        self._retry_at.pop(key, None)
        self.short_of_funds = False

    def waiting(self, key: Hashable) -> bool:
        """Whether `key` was refused and its backoff has not passed yet."""
        return self.clock() < self._retry_at.get(key, 0.0)
