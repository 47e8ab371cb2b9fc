"""Names of the voting contract's round states and config, and the log fields of a round."""

from __future__ import annotations

from typing import Any, NamedTuple

STATUS = ("None", "Voting", "Committing", "Revealing", "Consensus", "Plurality",
          "FailoverResolved", "Failed", "AwaitingFailover")  # fmt: skip
FALLBACKS = ("alert", "plurality", "failover")
PLURALITY = FALLBACKS.index("plurality")  # `Fallback.AcceptPlurality`
SETTLED = {"Consensus", "Plurality", "FailoverResolved", "Failed", "AwaitingFailover"}
ACTIVE = ("skipped", "computed", "voted", "committed", "revealed")
MAX_ACTIVE = 64  # rounds driven per tick (each costs one call)
WAITING = "AwaitingFailover"  # settled for now, but still driven: `resolveByFailover` may follow


class RoundConfig(NamedTuple):
    """`IWorkerVoting.Config` with the contract's field names (Ape returns it as a plain tuple)."""

    threshold: int
    sealedMode: bool
    voteDuration: int
    revealDuration: int
    fallbackPolicy: int
    pluralityMinVotes: int
    speedRank: int
    failover: str
    failoverTimeout: int


def _bits(mask: int) -> int:
    return bin(mask).count("1")


def _fields(voting_id: bytes, attempt: int | None = None, window: Any = None) -> dict[str, Any]:
    """The `extra=` fields of a log line about a round (JSON logs carry them as fields)."""
    fields: dict[str, Any] = {"voting_id": "0x" + voting_id.hex()}
    if attempt is not None:
        fields["attempt"] = attempt
    if window is not None and window[0] is not None:
        fields["window"] = list(window)
    return fields


def _short(voting_id: bytes) -> str:
    return "0x" + voting_id.hex()[:10]
