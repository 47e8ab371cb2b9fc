"""Names of the voting contract's round states and config, its finalize rule, and the log fields
of a round."""

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


def finalizable(st: Any, status: str, now: float, config: RoundConfig) -> bool:
    """Whether a round (`st`, the contract's round view) of `status` may be finalized at block
    time `now`; mirrors the contract's `finalize`: deadline passed or the threshold out of reach;
    never before attempt 1's quorum (deadline 0); a failover round past its timeout.
    `st.deadline` is block time (a pause moves it on), as is `now`."""
    deadline, voted = int(st.deadline), _bits(int(st.voted))
    if deadline == 0:
        return False  # NOTE: attempt 1 waits for its quorum: no clock, nothing can fail
    if status == WAITING:
        return now > deadline
    if status == "Voting":
        left = int(st.eligibleCount) - voted
    else:
        if status == "Committing" and now > deadline:
            deadline += int(config.revealDuration)
        commits_open = status == "Committing" and now <= int(st.deadline)
        pool = int(st.eligibleCount) if commits_open else _bits(int(st.committed))
        left = pool - voted
    if int(st.attempt) == 2 and int(config.fallbackPolicy) == PLURALITY:
        # NOTE: the votes still to come may tie or overtake the leader: only the deadline
        # or the last vote ends an attempt before a plurality.
        return now > deadline or left == 0
    return now > deadline or int(st.leaderVotes) + left < int(st.threshold)


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
