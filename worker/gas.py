"""Gas limits of the worker's transactions, and why a mined one reverted.

A vote is estimated against the state when it is sent, but mined in a block where other votes may
land first: estimated as a plain vote (~42k gas), it may execute as the deciding vote (~75k) and run
out of gas with the estimate x margin. So the limit is

    max(estimate x chain.gas_margin, GAS_FLOORS[method])

where a method's floor covers the costliest path the call can take whatever lands before it in its
block (opening, deciding, late, re-opening, fallback). Unused gas is not charged: a high floor
costs nothing but the balance the node asks to cover it (limit x gas price) while the transaction
is pending. The table is keyed by the contract's method name; `chain.gas_floors` in the config
overrides or extends it (a new method of the contract gets its floor there, or here).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from worker.chain import decode_error

# Costliest paths measured (tests/worker/test_gas.py keeps each 30% below its floor): a vote that
# opens and decides (threshold 1) 120.5k, a deciding vote 74.6k, an opening commit 110.9k, a
# deciding reveal 77.4k, a finalize applying the fallback 73.0k; an opening vote or commit that
# also stores the round's descriptor (`openAndVote`, `openAndCommit`) is expected near 130k.
GAS_FLOORS: dict[str, int] = {
    "vote": 200_000,
    "commit": 200_000,
    "reveal": 200_000,
    "finalize": 200_000,
    "openAndVote": 200_000,
    "openAndCommit": 200_000,
    # A registration chunk walks up to `rewards.register_chunk` rounds (~11k gas each).
    "register": 1_000_000,
}


def gas_floors(overrides: Mapping[str, int] | None = None) -> dict[str, int]:
    """The floor table with the config's overrides applied (0 removes a floor)."""
    return {**GAS_FLOORS, **(overrides or {})}


def gas_limit(method: str, estimate: int, margin: float, floors: Mapping[str, int]) -> int:
    """The gas limit of a call of `method`: the estimate x margin, at least the method's floor."""
    return max(math.ceil(estimate * margin), int(floors.get(method, 0)))


def revert_reason(web3: Any, receipt: Any, sent: Any | None) -> str:
    """Why a mined transaction reverted, as well as the node can tell.

    Out of gas when it used its whole limit; otherwise the custom error of the call replayed at
    the end of its block (the state the transaction met, give or take the transactions after it).

    Args:
        web3: The node's web3 instance.
        receipt: The receipt (status 0).
        sent: The transaction as the node returns it (`eth_getTransaction`), or None.
    """
    if sent is None:
        return "reason unknown (the node no longer has the transaction)"
    limit, used = int(sent["gas"]), int(receipt["gasUsed"])
    if used >= limit:
        return f"out of gas (used all {limit:,} gas of its limit)"
    call = {"from": sent["from"], "to": sent["to"], "data": sent["input"], "gas": limit}
    try:
        web3.eth.call(call, int(receipt["blockNumber"]))
    except Exception as exc:
        data = getattr(exc, "data", None)
        decoded = decode_error(data) or decode_error(first_hex(exc.args))
        if decoded is not None:
            return f"{decoded[0]}{decoded[1]}"
        return f"{type(exc).__name__}: {exc}"
    return f"reason unknown (used {used:,} of {limit:,} gas; the call succeeds now)"


def first_hex(values: Any) -> str | None:
    """The first 0x-hex string in (nested) exception arguments: revert data, as nodes put it."""
    for value in values if isinstance(values, tuple | list) else (values,):
        if isinstance(value, str) and value.startswith("0x"):
            return value
        if isinstance(value, tuple | list) and (found := first_hex(value)):
            return found
    return None
