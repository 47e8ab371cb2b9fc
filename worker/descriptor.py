"""What a round is about (its descriptor) and its round id, derived the same way by every worker.

A round of `WorkerVoting` opens only from a descriptor, and its id is the hash of that
descriptor, computed on chain (`descriptorId`) and here alike:

    Descriptor = (bytes32 schedule, uint64 windowStart, uint64 windowEnd, bytes32 eventKey,
                  bytes32 encoding)
    votingId   = keccak256(abi.encode(descriptor))

- `schedule`: what the network computes, keccak256(abi.encode(string name, string params)), with
  `name` the config's `workflow.name` and `params` the workflow's validated params (defaults
  included) as canonical JSON: keys sorted, no spaces, UTF-8. Two networks, or two parameter sets
  of one workflow, never share a round.
- window round: `windowStart` / `windowEnd` are the window `[start, end)` in UTC epoch seconds and
  `eventKey` is zero; the contract refuses to open it before `windowEnd`.
- event round: `eventKey` = keccak256(utf8 key) and the window fields are zero (the data window
  a message may name stays local: it selects inputs, it is not part of the round).
- `encoding`: the records' leaf encoding, keccak256(utf8 "(t1,t2,...)") of the workflow's
  declared leaf ABI types (`TYPES`, normalised: `uint` is `uint256`), so a root is only ever
  compared with roots of records encoded the same way.

Every input is part of the config (workflow name, params, declared types) or of the trigger (the
window or the event key), so all honest workers running the same workflow open and vote in the
same round. The id is the same for both attempts; the contract keeps the attempt number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from eth_abi import encode
from eth_abi.grammar import normalize
from pydantic import BaseModel

from worker.encoding import leaf_codec
from worker.errors import TriggerError
from worker.keccak import keccak

DESCRIPTOR_TYPE = "(bytes32,uint64,uint64,bytes32,bytes32)"
ZERO = b"\x00" * 32
MAX_UINT64 = (1 << 64) - 1


class Descriptor(NamedTuple):
    """`IWorkerVotingTypes.Descriptor`, field by field, as the contract takes it."""

    schedule: bytes
    windowStart: int
    windowEnd: int
    eventKey: bytes
    encoding: bytes

    @property
    def voting_id(self) -> bytes:
        """keccak256(abi.encode(descriptor)): what `WorkerVoting.descriptorId` returns."""
        return keccak(encode([DESCRIPTOR_TYPE], [tuple(self)]))

    @property
    def is_window(self) -> bool:
        """Whether this is a window round (no event key)."""
        return self.eventKey == ZERO


def canonical_params(params: BaseModel | Mapping[str, Any] | None) -> str:
    """The workflow's params as canonical JSON (sorted keys, no spaces), defaults included.

    Raises:
        TriggerError: the params cannot be written as JSON.
    """
    if isinstance(params, BaseModel):
        params = params.model_dump(mode="json")
    try:
        return json.dumps(dict(params or {}), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise TriggerError(f"workflow params are not canonical JSON: {exc}") from exc


def schedule_id(workflow_name: str, params: BaseModel | Mapping[str, Any] | None = None) -> bytes:
    """keccak256(abi.encode(string name, string canonicalParams)).

    Raises:
        TriggerError: the name is empty or not a string.
    """
    if not isinstance(workflow_name, str) or not workflow_name:
        raise TriggerError(f"the workflow name must be a non-empty string, got {workflow_name!r}")
    return keccak(encode(["string", "string"], [workflow_name, canonical_params(params)]))


def encoding_text(types: Sequence[str]) -> str:
    """The leaf ABI type string, normalised: ("string", "uint") -> "(string,uint256)".

    Raises:
        LeafEncodingError: `types` is not a list of supported ABI types.
    """
    leaf_codec(types)  # validates
    return "(" + ",".join(normalize(t) for t in types) + ")"


def encoding_id(types: Sequence[str]) -> bytes:
    """keccak256 of the leaf ABI type string (`encoding_text`)."""
    return keccak(encoding_text(types).encode())


@dataclass(frozen=True)
class RoundNaming:
    """The descriptors of one workflow's rounds: its schedule and encoding ids, fixed at start.

    Build it with `RoundNaming.of(name, params, types)`.
    """

    schedule: bytes
    encoding: bytes

    @classmethod
    def of(cls, workflow_name: str, params: BaseModel | Mapping[str, Any] | None,
           types: Sequence[str]) -> RoundNaming:  # fmt: skip
        """The naming of workflow `workflow_name` with `params` and leaf types `types`."""
        return cls(schedule_id(workflow_name, params), encoding_id(types))

    def window(self, start: int, end: int) -> Descriptor:
        """The descriptor of the window round about `[start, end)`.

        Raises:
            TriggerError: not 0 <= start < end <= 2**64 - 1.
        """
        ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end))
        if not ok or not 0 <= start < end <= MAX_UINT64:
            raise TriggerError(f"window [{start}, {end}) must have 0 <= start < end < 2**64")
        return Descriptor(self.schedule, start, end, ZERO, self.encoding)

    def event(self, key: str) -> Descriptor:
        """The descriptor of the event round about `key` (eventKey = keccak256(key)).

        Raises:
            TriggerError: the key is empty or not a string.
        """
        if not isinstance(key, str) or not key:
            raise TriggerError(f"an event key must be a non-empty string, got {key!r}")
        return Descriptor(self.schedule, 0, 0, keccak(key.encode()), self.encoding)

    def of_round(self, window: tuple[int, int] | None, event_key: str | None) -> Descriptor:
        """The descriptor of a tracked round: its event key if it has one, else its window.

        Raises:
            TriggerError: neither is given.
        """
        if event_key is not None:
            return self.event(event_key)
        if window is None or window[0] is None:
            raise TriggerError("a round needs a window or an event key")
        return self.window(int(window[0]), int(window[1]))

    def owns(self, descriptor: Descriptor | Sequence[Any]) -> bool:
        """Whether a descriptor (e.g. from a `RoundDescribed` event) is one of this workflow's."""
        d = Descriptor(*descriptor)
        return bytes(d.schedule) == self.schedule and bytes(d.encoding) == self.encoding
