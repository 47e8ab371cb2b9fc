"""The network of the worker benchmarks: WorkerVoting (4 of 7, open mode) and WorkerRewards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ape import accounts, networks, project

from scripts._localnet import write_manifest
from scripts._voting import deploy_voting

WORKERS, THRESHOLD = 7, 4
ZERO = "0x" + "00" * 20


def deploy(uri: str, workdir: Path) -> tuple[Any, Path]:
    """Deploys voting (4 of 7, open, 10 min votes) and rewards; returns voting and the manifest."""
    with networks.parse_network_choice(f"ethereum:local:{uri}") as provider:
        owner = accounts.test_accounts[0]
        config = (THRESHOLD, False, 600, 0, 0, 0, 3, ZERO, 0)
        voting = deploy_voting(owner, config, 86_400, 3_600)
        for i in range(1, WORKERS + 1):
            voting.addWorker(accounts.test_accounts[i], sender=owner)
        weights = [2500, 2500, 2500, 2500]
        rewards = owner.deploy(project.WorkerRewards, owner, voting, ZERO, 7_200, 30 * 86_400,
                               weights)  # fmt: skip
        chain_id = int(provider.web3.eth.chain_id)
        manifest = write_manifest(workdir / "manifest.json", chain_id, voting.address,
                                  rewards.address)  # fmt: skip
        return voting.address, manifest
