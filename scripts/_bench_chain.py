"""Playing rounds of WorkerVoting for the gas benchmark: accounts, configs, deploys, votes, reveals.

Rounds open from an event descriptor (`openAndVote` / `openAndCommit`); later votes name the round
by its id. Each helper returns the receipts (or their gas) for `scripts/bench_gas.py` to tabulate.
"""

from functools import cache
from typing import Any

from ape import accounts, chain, project
from ape.api import AccountAPI, ReceiptAPI
from ape.contracts import ContractInstance
from eth_abi import encode
from eth_utils import keccak

from scripts._voting import pool_admin
from worker.round_status import FALLBACKS
from worker.submit import commitment as worker_commitment

HOUR, DAY = 3600, 86_400
ZERO_ADDRESS = "0x" + "00" * 20
SCHEDULE, ENCODING = keccak(text="bench:schedule"), keccak(text="bench:encoding")


def funded_accounts(count: int) -> list[AccountAPI]:
    """The first `count` test accounts, generating and funding more when the config has fewer."""
    found = list(accounts.test_accounts)[:count]
    while len(found) < count:
        account = accounts.test_accounts.generate_test_account()
        account.balance = 10**21  # anvil: ape sets the balance directly
        found.append(account)
    return found


def make_config(sealed: bool, threshold: int = 0, fallback: str = "alert", failover: str = ""):
    """The Config tuple: one-hour windows, the given fallback (plurality: at least 2 votes)."""
    failover = failover if fallback == "failover" else ZERO_ADDRESS
    timeout = 6 * HOUR if fallback == "failover" else 0
    min_votes = 2 if fallback == "plurality" else 0
    reveal = HOUR if sealed else 0
    return (
        threshold,
        sealed,
        HOUR,
        reveal,
        FALLBACKS.index(fallback),
        min_votes,
        3,
        failover,
        timeout,
    )


@cache
def voting_type() -> Any:
    """The WorkerVoting contract type, compiled once: later source edits do not mix into the run."""
    return project.WorkerVoting


def deploy(owner: AccountAPI, pool: list[AccountAPI], config: tuple):
    """WorkerVoting (one-day epochs, windows up to 2 h) with `pool`; each addWorker's gas."""
    voting = owner.deploy(voting_type(), owner, config, DAY, 2 * HOUR, pool_admin(owner))
    return voting, [voting.addWorker(worker, sender=owner).gas_used for worker in pool]


def descriptor(key: str) -> tuple:
    """An event round's descriptor; its votingId is keccak256(abi.encode(descriptor))."""
    return (SCHEDULE, 0, 0, keccak(text=key), ENCODING)


def voting_id(d: tuple) -> bytes:
    return keccak(encode(["(bytes32,uint64,uint64,bytes32,bytes32)"], [d]))


def has_event(receipt: ReceiptAPI, name: str) -> bool:
    return any(log.event_name == name for log in receipt.events)


def commitment(voting: ContractInstance, worker: AccountAPI, vid: bytes, result: bytes, attempt):
    """(what `commitmentOf` returns, the salt), computed here (one call less per commit)."""
    salt = keccak(text=f"salt:{worker.address}:{attempt}")
    sealed = worker_commitment(result, salt, worker.address, vid, attempt, chain.chain_id,
                               voting.address)  # fmt: skip
    return sealed, salt


def cast(voting, worker, d: tuple, result: bytes, sealed: bool, first: bool, attempt: int = 1):
    """Votes (sealed: commits to) `result`; the first voter opens the round with its descriptor."""
    vid = voting_id(d)
    value = commitment(voting, worker, vid, result, attempt)[0] if sealed else result
    if first:
        return (voting.openAndCommit if sealed else voting.openAndVote)(d, value, sender=worker)
    return (voting.commit if sealed else voting.vote)(vid, value, sender=worker)


def reveal(voting, worker, vid: bytes, result: bytes, attempt: int = 1) -> ReceiptAPI:
    _, salt = commitment(voting, worker, vid, result, attempt)
    return voting.reveal(vid, result, salt, sender=worker)


def play(voting, pool, sealed: bool, key: str, results: list[bytes]) -> list[int]:
    """Each worker casts its result in order (sealed: all commit, then all reveal); the gas."""
    d = descriptor(key)
    gas = [cast(voting, w, d, r, sealed, i == 0).gas_used for i, (w, r) in
           enumerate(zip(pool, results, strict=True))]  # fmt: skip
    if sealed:
        vid = voting_id(d)
        gas += [reveal(voting, w, vid, r).gas_used for w, r in zip(pool, results, strict=True)]
    return gas
