"""Sending the worker's transactions: votes, commits and reveals that are never sent twice.

Every vote, commit and reveal follows the state store's plan -> sent -> confirmed | failed path:

1. `ensure(kind, votingId, attempt, result)` first asks the chain whether the action already
   landed (a restart may find it there) and, if not, plans it in the store.
2. It estimates the gas; a revert there costs nothing and is reported by its custom error name
   (`VotingDeadlinePassed`, ...). `VotingAlreadyVoted` means the action is on chain already.
3. It signs a legacy transaction (gas price from the node, gas limit = estimate x margin, at least
   the method's floor in `worker.gas`) with the next nonce, records `sent` with the hash and the
   nonce, and only then broadcasts (a refused broadcast is reported as refused, not sent, and
   tried again after a backoff: `worker.refusals`). So after a
   crash a `planned` row was never broadcast, and a `sent` row has the nonce its resend must use:
   two transactions with one nonce can never both be mined, hence no vote is ever sent twice.
4. `poll()` follows the sent transactions: confirmed once the receipt is `confirmations` blocks
   deep; a stuck one is replaced after `replace_after` seconds (same nonce, gas price x 1.25); one
   the node forgot is re-signed with its nonce and sent again; if its nonce was used by another
   transaction, the chain state decides whether the action landed.

Passing RPC faults (connection errors, timeouts) are retried with backoff and, if they persist,
raised as `ChainUnavailableError` for the caller to report and retry on its next tick. Other
transactions (finalize, register, claim) go through `send(...)`: estimated, then sent and
followed like the others but not recorded in the store; a repeat is harmless, the estimate of a
second finalize reverts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from worker.chain import Connection
from worker.errors import TransactionError
from worker.gas import gas_floors
from worker.refusals import Refusals
from worker.state import StateStore, VoteRecord
from worker.transactions import TransactionCalls

log = logging.getLogger(__name__)

MAX_TRIES = 3  # sends of one action (a reverted or dropped one is planned again)
FEE_BUMP = 1.25  # replacement gas price factor (nodes require >= 1.1)
_FUNCTIONS = {"vote": "vote", "commit": "commit", "reveal": "reveal"}
_OPENING = {"vote": "openAndVote", "commit": "openAndCommit"}  # the first vote opens the round


@dataclass
class Sent:
    """An untracked transaction (finalize, register, claim) being followed by `poll`."""

    action: str
    tx_hash: str
    nonce: int
    sent_at: float


def commitment(result: bytes, salt: bytes, worker: str, voting_id: bytes, attempt: int,
               chain_id: int, contract: str) -> bytes:  # fmt: skip
    """The sealed-mode commitment, as `WorkerVoting.commitmentOf` computes it."""
    types = ["bytes32", "bytes32", "address", "bytes32", "uint8", "uint256", "address"]
    return keccak(encode(types, [result, salt, worker, voting_id, attempt, chain_id, contract]))


class Submitter(TransactionCalls):
    """Sends and follows the transactions of one worker.

    Args:
        conn: The open connection (account, contracts).
        store: The state store (votes, salts).
        metrics: Optional `worker.metrics.Metrics`.
        gas_margin: Gas limit = estimate x this (at least the method's floor).
        floors: Overrides of `worker.gas.GAS_FLOORS` (the config's `chain.gas_floors`).
        confirmations: Blocks a receipt must be buried under before it counts.
        replace_after: Seconds before a sent transaction without receipt is replaced.
        clock: Monotonic clock, replaceable in tests.
    """

    def __init__(
        self,
        conn: Connection,
        store: StateStore,
        metrics: Any = None,
        *,
        gas_margin: float = 1.2,
        floors: Mapping[str, int] | None = None,
        confirmations: int = 0,
        replace_after: float = 60.0,
        retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conn, self.store, self.metrics = conn, store, metrics
        self.gas_margin, self.confirmations = gas_margin, confirmations
        self.gas_floors = gas_floors(floors)
        self.replace_after, self.retries, self.clock = replace_after, retries, clock
        self._sent_at: dict[str, float] = {}  # tx hash -> when sent (this process)
        self._prices: dict[int, int] = {}  # nonce -> gas price used
        self._others: dict[str, Sent] = {}  # untracked transactions by hash
        self._next_nonce = 0
        self._pending_estimates = True
        self._descriptors: dict[bytes, tuple] = {}  # votingId -> descriptor of a round to open
        self.refusals = Refusals(clock, metrics)

    # ---------------------------------------------------------------------------------------------
    # Votes, commits, reveals
    # ---------------------------------------------------------------------------------------------

    def ensure(self, kind: str, voting_id: bytes, attempt: int, result: bytes,
               descriptor: tuple | None = None, window: Any = None) -> str:  # fmt: skip
        """Makes sure this worker's vote, commit or reveal of `result` is (being) sent, once.

        With `descriptor` (the round is not open yet) a vote goes as `openAndVote`, a commit as
        `openAndCommit` (a plain one if another worker opened it first); a resend too. `window`
        (the round's) joins the fields of the log line of the sent transaction.

        Returns:
            "confirmed", "pending" (sent, followed by `poll`), "failed" (tried `MAX_TRIES`
            times), "rejected:<ErrorName>" (the contract refuses it now) or "refused:<reason>"
            (the node refused the broadcast; `poll` sends it again after a backoff).
        """
        if descriptor is not None and kind in _OPENING:
            self._descriptors[voting_id] = tuple(descriptor)
        elif kind in _OPENING:
            self._descriptors.pop(voting_id, None)  # open by now: a plain vote is cheaper
        row = self.store.vote(voting_id, attempt, kind)
        if row is not None and row.state in ("confirmed", "sent"):
            return "confirmed" if row.state == "confirmed" else "pending"
        if row is not None and row.state == "failed" and row.tries >= MAX_TRIES:
            return "failed"
        if self.landed(kind, voting_id, attempt):
            self.store.plan_vote(voting_id, attempt, kind, result)
            self.store.set_vote_state(voting_id, attempt, kind, "confirmed")
            return "confirmed"
        args = self._arguments(kind, voting_id, attempt, result)
        try:
            data, gas = self._estimate(self._function(kind, voting_id), args)
        except TransactionError as exc:
            # NOTE: a refused estimate sends nothing, so the store is left as it is.
            if exc.error == "VotingAlreadyVoted":
                self.store.plan_vote(voting_id, attempt, kind, result)
                self.store.set_vote_state(voting_id, attempt, kind, "confirmed")
                return "confirmed"
            log.debug("%s not sent: %s", kind, exc, extra=_ids(voting_id, attempt))
            return f"rejected:{exc.error or 'revert'}"
        # NOTE: a `planned` row left by a crash was never broadcast (`sent` is recorded first).
        self.store.plan_vote(voting_id, attempt, kind, result)
        nonce = self._take_nonce()
        raw, tx_hash = self._sign(data, gas, nonce, self._gas_price())
        self.store.set_vote_state(voting_id, attempt, kind, "sent", tx_hash=tx_hash, nonce=nonce)
        refused = self._broadcast(raw, tx_hash, nonce)
        if refused is not None:
            # NOTE: the row stays `sent` with its nonce; `poll` re-signs it after the backoff.
            what = f"{kind} {tx_hash} (nonce {nonce})"
            return "refused:" + self.refusals.refused((kind, nonce), what, refused)
        self.refusals.accepted((kind, nonce))
        self._count("vote_sent", kind)
        fields = _ids(voting_id, attempt, tx_hash=tx_hash, nonce=nonce, gas=gas)
        if window is not None and window[0] is not None:
            fields["window"] = list(window)
        log.info("%s sent: %s (nonce %d)", kind, tx_hash, nonce, extra=fields)
        return "pending"

    def landed(self, kind: str, voting_id: bytes, attempt: int) -> bool:
        """Whether this worker's `kind` for the attempt is on chain (at the latest block)."""
        state = self._rpc("roundState", lambda: self.conn.voting.roundState(voting_id))
        if state.attempt != attempt:
            return False
        bit = 1 << self.conn.pool_index
        mask = state.committed if kind == "commit" else state.voted
        return bool(mask & bit)

    def _function(self, kind: str, voting_id: bytes) -> str:
        opening = kind in _OPENING and voting_id in self._descriptors
        return _OPENING[kind] if opening else _FUNCTIONS[kind]

    def _arguments(self, kind: str, voting_id: bytes, attempt: int, result: bytes) -> list:
        key = self._descriptors.get(voting_id) if kind in _OPENING else None
        target = voting_id if key is None else key
        if kind == "vote":
            return [target, result]
        stored = self.store.salt(voting_id, attempt)
        if stored is None:
            raise TransactionError(kind, "no salt stored for this attempt")
        salt = stored[0]
        if kind == "reveal":
            return [voting_id, result, salt]
        value = commitment(result, salt, self.conn.address, voting_id, attempt,
                           self.conn.chain_id, self.conn.voting.address)  # fmt: skip
        return [target, value]

    # ---------------------------------------------------------------------------------------------
    # Other transactions
    # ---------------------------------------------------------------------------------------------

    def send(self, action: str, contract: Any, function: str, *args: Any) -> str:
        """Estimates and sends an untracked transaction (finalize, register, claim).

        Returns:
            The transaction hash.

        Raises:
            TransactionError: the estimate reverts (`error` names the custom error).
        """
        data, gas = self._estimate(function, list(args), contract, action)
        nonce = self._take_nonce()
        raw, tx_hash = self._sign(data, gas, nonce, self._gas_price(), contract)
        refused = self._broadcast(raw, tx_hash, nonce)
        if refused is not None:
            self.refusals.refused(action, f"{action} {tx_hash} (nonce {nonce})", refused)
            raise TransactionError(action, f"the node refused it: {refused}")
        self.refusals.accepted(action)
        self._others[tx_hash] = Sent(action, tx_hash, nonce, self.clock())
        self._count("vote_sent", action.split()[0])
        log.info("%s sent: %s (nonce %d)", action, tx_hash, nonce,
                 extra={"tx_hash": tx_hash, "nonce": nonce, "gas": gas})  # fmt: skip
        return tx_hash

    def wait(self, tx_hash: str, timeout: float = 120.0) -> Any:
        """Waits for the receipt of a transaction sent by this submitter (CLI commands).

        Raises:
            TransactionError: reverted, or no receipt within `timeout` seconds.
        """
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                self._others.pop(tx_hash, None)
                self._spent(receipt)
                if receipt["status"] != 1:
                    raise TransactionError(tx_hash, "reverted")
                return receipt
            time.sleep(0.2)
        raise TransactionError(tx_hash, f"no receipt within {timeout:g} s")

    # ---------------------------------------------------------------------------------------------
    # Following sent transactions
    # ---------------------------------------------------------------------------------------------

    @property
    def has_pending(self) -> bool:
        """Whether a sent transaction still waits for its receipt (`poll` has work)."""
        return bool(self._others) or any(r.state == "sent" for r in self.store.pending_votes())

    def poll(self) -> list[VoteRecord]:
        """Moves sent votes on: confirmed, failed, replaced or re-sent. Call it every tick.

        Returns:
            The votes that became confirmed in this call.
        """
        confirmed = []
        head = self._rpc("block number", lambda: self.conn.web3.eth.block_number)
        for row in self.store.pending_votes():
            if row.state != "sent":
                continue
            if self._follow(row, head):
                confirmed.append(row)
        for sent in list(self._others.values()):
            receipt = self._receipt(sent.tx_hash)
            if receipt is not None:
                del self._others[sent.tx_hash]
                self._spent(receipt)
                if receipt["status"] != 1:
                    self._count("tx_failed", sent.action.split()[0])
                    log.warning("%s reverted: %s: %s", sent.action, sent.tx_hash,
                                self._why_reverted(receipt, sent.tx_hash))  # fmt: skip
        if self.metrics is not None:
            self.metrics.pending_transactions(len(self.store.pending_votes()) + len(self._others))
        return confirmed

    def _follow(self, row: VoteRecord, head: int) -> bool:
        vid, key = bytes.fromhex(row.voting_id[2:]), (row.attempt, row.kind)
        receipt = self._receipt(row.tx_hash)
        if receipt is not None:
            if receipt["status"] != 1:
                self._spent(receipt)
                self.store.set_vote_state(vid, *key, "failed")
                self._count("tx_failed", row.kind)
                log.warning("%s reverted: %s: %s", row.kind, row.tx_hash,
                            self._why_reverted(receipt, row.tx_hash),
                            extra=_ids(vid, row.attempt))  # fmt: skip
                return False
            if head - receipt["blockNumber"] + 1 < max(1, self.confirmations):
                return False
            self._spent(receipt)
            self.store.set_vote_state(vid, *key, "confirmed")
            return True
        used = self._rpc("nonce", lambda: self.conn.web3.eth.get_transaction_count(
            self.conn.address, "latest"))  # fmt: skip
        if used > row.nonce:
            # Another transaction with this nonce was mined (an earlier copy of this one).
            landed = self.landed(row.kind, vid, row.attempt)
            self.store.set_vote_state(vid, *key, "confirmed" if landed else "failed")
            return landed
        sent_at = self._sent_at.get(row.tx_hash)
        stuck = self._transaction(row.tx_hash)  # the copy the node holds, or None
        recent = sent_at is not None and self.clock() - sent_at < self.replace_after
        if stuck is not None and recent:
            return False
        if stuck is None and self.refusals.waiting((row.kind, row.nonce)):
            return False  # NOTE: refused before: not re-signed before its backoff passed
        # Stuck (replace with a higher price) or unknown to the node (re-send with its nonce).
        price = self._gas_price()
        if stuck is not None:
            # NOTE: the same call and gas limit, priced above the stuck copy (also after a
            # restart). No new estimate: it would run on top of the stuck copy in the pending
            # block, revert with VotingAlreadyVoted and take the vote for landed before it is.
            paid = int(stuck.get("gasPrice") or self._prices.get(row.nonce, price))
            price = max(price, int(paid * FEE_BUMP) + 1)
            data, gas = bytes(stuck["input"]), int(stuck["gas"])
            self._count("tx_replaced")
        else:
            args = self._arguments(row.kind, vid, row.attempt, bytes.fromhex(row.result[2:]))
            try:
                data, gas = self._estimate(self._function(row.kind, vid), args)
            except TransactionError as exc:
                landed = exc.error == "VotingAlreadyVoted"
                landed = landed or self.landed(row.kind, vid, row.attempt)
                self.store.set_vote_state(vid, *key, "confirmed" if landed else "failed")
                return landed
        raw, tx_hash = self._sign(data, gas, row.nonce, price)
        self.store.set_vote_state(vid, *key, "sent", tx_hash=tx_hash, nonce=row.nonce)
        refused = self._broadcast(raw, tx_hash, row.nonce)
        if refused is not None:
            what = f"{row.kind} {tx_hash} (nonce {row.nonce})"
            self.refusals.refused((row.kind, row.nonce), what, refused)
            return False
        self.refusals.accepted((row.kind, row.nonce))
        what = "replaced" if stuck is not None else "re-sent"
        log.info("%s %s: %s (nonce %d)", row.kind, what, tx_hash, row.nonce,
                 extra=_ids(vid, row.attempt, tx_hash=tx_hash, nonce=row.nonce))  # fmt: skip
        return False


def _ids(voting_id: bytes, attempt: int, **more: Any) -> dict[str, Any]:
    """The `extra=` fields of a log line about a round's transaction (JSON logs carry them)."""
    return {"voting_id": "0x" + voting_id.hex(), "attempt": attempt, **more}
