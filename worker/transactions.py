"""The steps of sending one transaction: estimate, sign, broadcast, take a nonce, read a revert.

`TransactionCalls` is the base of `worker.submit.Submitter`, which decides what to send and
follows it; these methods only carry a transaction to the node and report what it said.
"""

from __future__ import annotations

import logging
from typing import Any

from worker.chain import decode_error
from worker.errors import ChainUnavailableError, TransactionError
from worker.gas import first_hex, gas_limit, revert_reason
from worker.refusals import classify
from worker.rpc import NodeCalls

log = logging.getLogger(__name__)


class TransactionCalls(NodeCalls):
    """Estimate, sign and broadcast calls of a submitter.

    Needs, besides `NodeCalls`' attributes: `metrics`, `gas_margin`, `gas_floors`, `clock`, and
    the bookkeeping `_sent_at` (tx hash -> when sent), `_prices` (nonce -> gas price),
    `_next_nonce` and `_pending_estimates` (whether the node estimates on the pending block).
    """

    metrics: Any
    gas_margin: float
    gas_floors: dict[str, int]
    clock: Any
    _sent_at: dict[str, float]
    _prices: dict[int, int]
    _next_nonce: int
    _pending_estimates: bool

    def _estimate(self, function: str, args: list, contract: Any = None,
                  action: str | None = None) -> tuple[bytes, int]:  # fmt: skip
        contract = contract or self.conn.voting
        data = bytes(getattr(contract, function).encode_input(*args))
        call = {"from": self.conn.address, "to": contract.address, "data": data}
        try:
            gas = self._rpc("estimate", lambda: self._estimate_gas(call))
        except ChainUnavailableError:
            raise
        except Exception as exc:
            decoded = decode_error(getattr(exc, "data", None)) or decode_error(first_hex(exc.args))
            name = decoded[0] if decoded else None
            reason = f"{name}{decoded[1]}" if decoded else f"{type(exc).__name__}: {exc}"
            raise TransactionError(action or function, f"reverts: {reason}", name) from exc
        return data, gas_limit(function, int(gas), self.gas_margin, self.gas_floors)

    def _estimate_gas(self, call: dict) -> int:
        # NOTE: the pending block has the current time, so phases that open by time (reveal,
        # finalize) estimate right on a chain that mines only on demand; a node without
        # "pending" support is asked for the latest block instead.
        if self._pending_estimates:
            try:
                return self.conn.web3.eth.estimate_gas(call, "pending")
            except Exception as exc:
                if type(exc).__name__ not in ("MethodUnavailable", "MethodNotSupported"):
                    raise
                self._pending_estimates = False
        return self.conn.web3.eth.estimate_gas(call)

    def _sign(self, data: bytes, gas: int, nonce: int, price: int,
              contract: Any = None) -> tuple[bytes, str]:  # fmt: skip
        contract = contract or self.conn.voting
        txn = self.conn.provider.network.ecosystem.create_transaction(
            chain_id=self.conn.chain_id, to=contract.address, data=data, nonce=nonce,
            gas_limit=gas, gas_price=price, type=0, value=0, sender=self.conn.address,
        )  # fmt: skip
        signed = self.conn.account.sign_transaction(txn)
        if signed is None:
            raise TransactionError("sign", "the account refused to sign")
        self._prices[nonce] = price
        return signed.serialize_transaction(), "0x" + bytes(signed.txn_hash).hex()

    def _broadcast(self, raw: bytes, tx_hash: str, nonce: int) -> str | None:
        """Sends a signed transaction; returns why the node refused it, or None."""
        self._sent_at[tx_hash] = self.clock()
        try:
            self._rpc("send", lambda: self.conn.web3.eth.send_raw_transaction(raw))
        except ChainUnavailableError as exc:
            log.warning("broadcast of %s failed, poll will resend it: %s", tx_hash, exc)
        except Exception as exc:  # NOTE: e.g. "nonce too low"; poll() sorts a vote out
            if classify(str(exc)) is None:
                return None  # the node has it already
            self._next_nonce = min(self._next_nonce, nonce)  # NOTE: leave no nonce gap
            return str(exc)
        return None

    def _take_nonce(self) -> int:
        pending = self._rpc("nonce", lambda: self.conn.web3.eth.get_transaction_count(
            self.conn.address, "pending"))  # fmt: skip
        nonce = max(int(pending), self._next_nonce)
        self._next_nonce = nonce + 1
        return nonce

    def _why_reverted(self, receipt: Any, tx_hash: str) -> str:
        try:
            return revert_reason(self.conn.web3, receipt, self._transaction(tx_hash))
        except Exception as exc:  # NOTE: the reason is for the log; it must not stop the poll
            return f"reason unknown ({type(exc).__name__})"

    def _spent(self, receipt: Any) -> None:
        if self.metrics is not None:
            gas = int(receipt["gasUsed"])
            price = int(receipt.get("effectiveGasPrice") or 0)
            self.metrics.gas_spent(gas, gas * price)

    def _count(self, what: str, *labels: str) -> None:
        if self.metrics is not None:
            getattr(self.metrics, what)(*labels)
