"""Test helpers: a worker `Connection` on the chain the test session is connected to."""

from pathlib import Path

from ape import chain

from worker.chain import Connection, Manifest, contract_at


def connection_for(account, voting, rewards=None) -> Connection:
    """A worker connection of `account` to deployed `voting` (and `rewards`) contracts, using the
    shipped ABIs as the worker does."""
    provider = chain.provider
    chain_id = int(provider.web3.eth.chain_id)
    rewards_address = rewards.address if rewards is not None else voting.address
    manifest = Manifest(Path("test-manifest.json"), None, chain_id, voting.address,
                        rewards_address, 0)  # fmt: skip
    info = voting.workerInfo(account.address)
    return Connection(
        provider=provider,
        account=account,
        voting=contract_at(voting.address, "WorkerVoting"),
        rewards=contract_at(rewards_address, "WorkerRewards") if rewards is not None else None,
        manifest=manifest,
        chain_id=chain_id,
        pool_index=int(info.index),
    )
