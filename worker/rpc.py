"""Bounded node calls: a timeout on every RPC request, and a chain thread that never holds up exit.

Ape gives its HTTP provider a 30-minute request timeout and web3 retries a timed-out request five
times, so one call to a node that accepts connections but never answers (a frozen or overloaded
node) could hold the worker for hours. `limit_rpc` sets `chain.rpc_timeout` on the provider's
requests and leaves retrying to the worker (`worker.submit` retries passing faults with backoff, the
chain loop tries again on its next tick).

`NodeCalls` are the read calls of `worker.submit.Submitter`, retried while a fault is passing.
`DaemonExecutor` runs the chain calls on one daemon thread: a call that hangs past a stop request
is abandoned when the process exits, instead of being joined as `ThreadPoolExecutor` threads are.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from worker.errors import ChainUnavailableError
from worker.refusals import is_transient

log = logging.getLogger(__name__)


def limit_rpc(web3: Any, timeout: float) -> bool:
    """Gives every request of `web3`'s HTTP provider `timeout` seconds and no hidden retries.

    Returns:
        True if the provider is an HTTP provider and was limited (IPC and other providers are
        left as they are).
    """
    provider = web3.provider
    # NOTE: Ape wraps it in an AutoProvider, which keeps the provider that answered (connecting
    # asked for the chain id). Never probe for one here: probing a frozen node would hang.
    provider = getattr(provider, "_active_provider", None) or provider
    kwargs = getattr(provider, "_request_kwargs", None)
    if not isinstance(kwargs, dict):
        return False
    kwargs["timeout"] = timeout
    if hasattr(provider, "exception_retry_configuration"):
        provider.exception_retry_configuration = None
    return True


class DaemonExecutor(Executor):
    """An executor with one daemon worker thread; calls run one at a time, in order."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        self._queue.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._queue.put(None)
        if wait:
            self._thread.join()

    @property
    def busy(self) -> bool:
        """Whether the worker thread is still alive (running a call or waiting for one)."""
        return self._thread.is_alive()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # NOTE: handed to the awaiting coroutine
                future.set_exception(exc)


class NodeCalls:
    """Read calls of a submitter to its node, retried while the fault is passing.

    Needs `self.conn` (a `worker.chain.Connection`) and `self.retries`.
    """

    conn: Any
    retries: int

    def _gas_price(self) -> int:
        return int(self._rpc("gas price", lambda: self.conn.web3.eth.gas_price))

    def _receipt(self, tx_hash: str | None) -> Any:
        if not tx_hash:
            return None
        try:
            return self._rpc("receipt", lambda: self.conn.web3.eth.get_transaction_receipt(tx_hash))
        except ChainUnavailableError:
            raise
        except Exception:  # NOTE: web3 raises TransactionNotFound while there is none
            return None

    def _transaction(self, tx_hash: str | None) -> Any:
        try:
            return self._rpc("tx", lambda: self.conn.web3.eth.get_transaction(tx_hash))
        except ChainUnavailableError:
            raise
        except Exception:
            return None

    def _rpc(self, what: str, call: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return call()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt == self.retries:
                    raise ChainUnavailableError(what, exc) from exc
                time.sleep(min(4.0, 0.25 * 2**attempt))
        raise AssertionError("unreachable")
