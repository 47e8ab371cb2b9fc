"""Following the voting contract's events, reorg-safe.

`Watcher.poll()` reads the contract's logs from the block after its cursor up to
`latest - confirmations` (at most `batch` blocks per call), decodes the round events and returns
them in chain order. The caller handles them and then calls `advance(events_to_block)`, which
stores the cursor in the state store: events are handled at least once, so handlers must be
idempotent (the node's are: they read the round's state from the chain and act on it).

Reorgs: events are only read `confirmations` blocks deep. The cursor keeps the hash of its block;
if that block is no longer on the chain (a reorg deeper than the confirmation depth), the cursor
moves back `REWIND` blocks and those blocks are read again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from worker.chain import Connection, abi_document
from worker.state import StateStore

log = logging.getLogger(__name__)

EVENTS = (
    "RoundDescribed",
    "RoundOpened",
    "RoundStarted",
    "VoteCast",
    "VoteCommitted",
    "ResultRecorded",
    "RoundReopened",
    "RoundFailed",
    "FailoverRequested",
)
REWIND = 64
_CURSOR = "watch.cursor"


@dataclass(frozen=True)
class ChainEvent:
    """One decoded event of the voting contract."""

    name: str
    voting_id: bytes
    args: dict[str, Any]
    block: int
    log_index: int
    tx_hash: str


class Watcher:
    """Reads the voting contract's round events, `confirmations` blocks deep.

    Args:
        conn: The open connection.
        store: Keeps the cursor (`meta` table).
        confirmations: Blocks an event must be buried under.
        start_block: First block to read when there is no cursor yet (the deployment block).
        batch: Most blocks per `eth_getLogs` request.
    """

    def __init__(self, conn: Connection, store: StateStore, confirmations: int = 0,
                 start_block: int = 0, batch: int = 2_000) -> None:  # fmt: skip
        self.conn, self.store = conn, store
        self.confirmations, self.start_block, self.batch = confirmations, start_block, batch
        contract = Web3().eth.contract(abi=abi_document("WorkerVoting")["abi"])
        self._events = {}
        for name in EVENTS:
            event = contract.events[name]()
            self._events[bytes(Web3.keccak(text=_signature(event.abi)))] = event

    @property
    def cursor(self) -> int:
        """The last block whose events were handled."""
        stored = self.store.meta(_CURSOR)
        return stored["block"] if stored else self.start_block - 1

    def poll(self) -> tuple[list[ChainEvent], int]:
        """New events, oldest first, and the block up to which they were read.

        Returns:
            (events, to_block); pass `to_block` to `advance` once the events are handled.
        """
        eth = self.conn.web3.eth
        stored = self.store.meta(_CURSOR)
        if stored and stored["block"] >= 0:
            block = eth.get_block(stored["block"])
            if "0x" + bytes(block["hash"]).hex() != stored["hash"]:
                back = max(self.start_block - 1, stored["block"] - REWIND)
                log.warning("block %d was reorganised away: reading again from block %d",
                            stored["block"], back + 1)  # fmt: skip
                self._store(back)
        first = self.cursor + 1
        last = min(eth.block_number - self.confirmations, first + self.batch - 1)
        if last < first:
            return [], self.cursor
        logs = eth.get_logs(
            {"address": self.conn.voting.address, "fromBlock": first, "toBlock": last}
        )
        events = [e for e in map(self._decode, logs) if e is not None]
        events.sort(key=lambda e: (e.block, e.log_index))
        return events, last

    def advance(self, block: int) -> None:
        """Stores the cursor: events up to `block` are handled."""
        if block > self.cursor:
            self._store(block)

    def _store(self, block: int) -> None:
        value = None
        if block >= 0:
            value = "0x" + bytes(self.conn.web3.eth.get_block(block)["hash"]).hex()
        self.store.set_meta(_CURSOR, {"block": block, "hash": value})

    def _decode(self, entry: Any) -> ChainEvent | None:
        topics = entry["topics"]
        event = self._events.get(bytes(topics[0])) if topics else None
        if event is None:
            return None  # NOTE: pool and config events are not round events
        data = event.process_log(entry)
        args = dict(data["args"])
        return ChainEvent(
            name=data["event"],
            voting_id=bytes(args["votingId"]),
            args=args,
            block=int(entry["blockNumber"]),
            log_index=int(entry["logIndex"]),
            tx_hash="0x" + bytes(entry["transactionHash"]).hex(),
        )


def _signature(abi: dict[str, Any]) -> str:
    types = ",".join(i["type"] for i in abi["inputs"])
    return f"{abi['name']}({types})"
