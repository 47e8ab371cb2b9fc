"""Deploying WorkerVoting: its pool-administration module first, then the voting contract that
delegates to it. The two do not fit one 6M-gas block together. The module keeps no state of its
own, so tests and benchmarks deploy one per chain and reuse it (`pool_admin`); `ape run deploy`
deploys one per network."""

from typing import Any

from ape import chain, project

_modules: dict[int, str] = {}  # chain id -> a deployed WorkerPoolAdmin


def pool_admin(account: Any, **tx: Any) -> str:
    """Address of a WorkerPoolAdmin on the connected chain, deploying one if none is known.

    A module deployed earlier in this process is reused while its code is still there (a test
    chain may have been reverted since, and another contract deployed at the same address).
    """
    chain_id = chain.chain_id
    known = _modules.get(chain_id)
    if known is not None and bytes(chain.provider.get_code(known)) == module_code():
        return known
    module = account.deploy(project.WorkerPoolAdmin, **tx)
    _modules[chain_id] = module.address
    return module.address


def module_code() -> bytes:
    """The runtime code of this build's WorkerPoolAdmin."""
    return bytes.fromhex(project.WorkerPoolAdmin.contract_type.runtime_bytecode.bytecode[2:])


def deploy_voting(account: Any, config: Any, epoch_length: int, max_window: int, **tx: Any) -> Any:
    """Deploys WorkerVoting(owner=account, config, epoch_length, max_window, module)."""
    module = pool_admin(account, **tx)
    return account.deploy(project.WorkerVoting, account, config, epoch_length, max_window, module,
                          **tx)  # fmt: skip


# Creation gas, from the transaction alone (the node cannot estimate WorkerVoting before its
# module exists): 21,000 + 32,000 (contract creation), calldata at 16 per non-zero and 4 per zero
# byte, 2 per 32-byte word of init code (EIP-3860), 200 per byte of deployed code, and a bound on
# what the constructor itself runs (WorkerVoting: storage writes of owner, config, module, head and
# the code-hash check; the module: its owner). tests/deploy checks the bounds against receipts.
CONSTRUCTOR_GAS_BOUND = {"WorkerPoolAdmin": 60_000, "WorkerVoting": 400_000}
PLACEHOLDER_ADDRESS = "0x" + "ff" * 20  # all non-zero bytes: the dearest calldata


def creation_gas_bound(contract_type: Any, data: bytes) -> int:
    """Upper bound of the gas a creation transaction with init code `data` uses."""
    nonzero = sum(1 for b in data if b)
    calldata = 16 * nonzero + 4 * (len(data) - nonzero)
    runtime = len(bytes.fromhex(contract_type.runtime_bytecode.bytecode[2:]))
    words = (len(data) + 31) // 32
    constructor = CONSTRUCTOR_GAS_BOUND[contract_type.name]
    return 53_000 + calldata + 2 * words + 200 * runtime + constructor


def deployment_gas(config: Any, epoch_length: int, max_window: int) -> dict[str, int]:
    """Upper bounds of the gas of each transaction deploying a voting contract, any owner."""
    module = project.WorkerPoolAdmin
    voting = project.WorkerVoting
    args = (PLACEHOLDER_ADDRESS, config, epoch_length, max_window, PLACEHOLDER_ADDRESS)
    return {
        "WorkerPoolAdmin": creation_gas_bound(
            module.contract_type, bytes(module.constructor.serialize_transaction().data)
        ),
        "WorkerVoting": creation_gas_bound(
            voting.contract_type, bytes(voting.constructor.serialize_transaction(*args).data)
        ),
    }
