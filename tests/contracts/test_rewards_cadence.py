"""Rewards at the shipped parameter files' cadence, on chain time: hourly window rounds for a whole
epoch (networks/mainnet.yaml: 4 weeks, 672 rounds; networks/local.yaml: 1 day, 24 rounds), then
every worker registers from the first block after the epoch in chunks of 64 entries (the worker's
default) and, from the same state, of 80 (the same points; each transaction <= 1,000,000 gas,
asserted), claims, and the pot is conserved.

NOTE: the rounds run in open mode with the file's vote window and speed rank (mainnet ships sealed
mode; a commit and a reveal per vote would double the transactions, and rewards read the same
SettledRound either way). Five workers, threshold 3 (mainnet's simple majority of five): worker 0
votes in every round, two of the others in turn, and every 7th round a fourth worker votes late and
dissents. The votes go straight to the embedded chain's EthereumTester (`RawVotes`), which is about
three times faster than a contract call through Ape; registrations and claims go through Ape.
"""

import time
from pathlib import Path

import pytest
from eth_utils import keccak, to_hex

from scripts._param_types import parse_duration
from scripts._params import RewardParams, read_section
from tests.conftest import ZERO_ADDRESS, window_descriptor
from tests.contracts import rewards_model as model

HOUR = 3_600
NETWORKS = Path(__file__).resolve().parents[2] / "networks"
A, B = keccak(text="root A"), keccak(text="root B")
CHUNK = 64  # the worker's default `rewards.register_chunk`
SAFE_CHUNK = 80  # ~41.9k + 11.4k per entry: still under the cap
GAS_CAP = 1_000_000
VOTE_GAS = 400_000  # a vote costs < 150k; a fixed limit skips the estimate


class RawVotes:
    """Sends openAndVote transactions straight to the embedded chain (no estimate, no decoding)."""

    def __init__(self, chain, voting) -> None:
        self.tester = chain.provider.tester.ethereum_tester
        self.voting = voting

    def vote(self, worker, descriptor: tuple, result: bytes) -> int:
        """Sends the vote; returns the block time it was mined at."""
        data = self.voting.openAndVote.encode_input(descriptor, result)
        tx = {
            "from": worker.address,
            "to": self.voting.address,
            "gas": VOTE_GAS,
            "data": to_hex(data),
            "max_fee_per_gas": 10**10,
            "max_priority_fee_per_gas": 0,
        }
        receipt = self.tester.get_transaction_receipt(self.tester.send_transaction(tx))
        assert receipt["status"] == 1, f"vote of {worker.address} in {descriptor} reverted"
        return self.tester.get_block_by_number(receipt["block_number"])["timestamp"]


def shipped(name: str) -> dict:
    """Epoch, windows and weights of networks/<name>.yaml, as deploy_params validates them."""
    path = NETWORKS / f"{name}.yaml"
    reward = RewardParams.model_validate(read_section(path, "reward"))
    voting = read_section(path, "voting")
    max_window = voting.get("max_window")
    return {
        "epoch_length": reward.epoch_length,
        "registration_window": reward.registration_window,
        "claim_expiry": reward.claim_expiry,
        "weights": list(reward.weights),
        "vote_duration": parse_duration(voting["vote_duration"]),
        "speed_rank": voting["speed_rank"],
        # deploy default: half the registration window (scripts/_params.py DeployParams.max_window)
        "max_window": parse_duration(max_window) if max_window else reward.registration_window // 2,
    }


def plan(rounds: int) -> list[list]:
    """Votes (worker, result) per round in sending order."""
    votes = []
    for k in range(rounds):
        others = [1 + (k + j) % 4 for j in range(3)]
        round_votes = [(others[0], A), (0, A), (others[1], A)]
        if k % 7 == 0:
            round_votes.append((others[2], B))  # after consensus: late, dissenting
        votes.append(round_votes)
    return votes


def register_everyone(rewards, net, settled, chunk, chain, sender) -> tuple[list, list]:
    """Registers every worker from the first block after epoch 0, `chunk` entries per call;
    checks each call against the model; returns the points and the gas of every call."""
    rounds, end = len(settled), rewards.epochTimes(0)[1]
    chain.pending_timestamp = end  # the first block after the epoch
    gas, points = [], []
    for i, worker in enumerate(net.workers):
        walk = model.Walk(model.Tenure(i))
        while True:
            before = walk.cursor or 0
            receipt = rewards.register(0, worker, chunk, sender=sender)
            gas.append(receipt.gas_used)
            if walk.step(settled, 0, rounds, chunk, now=receipt.timestamp):
                break
            assert receipt.events == [
                rewards.RegistrationProgressed(
                    epoch=0, worker=worker, cursor=walk.cursor, end=rounds
                )
            ]
            if walk.cursor < min(rounds, before + chunk):  # stopped before a round's late votes
                chain.pending_timestamp = settled[walk.cursor].late_until + 1
        assert list(receipt.events[0].points) == walk.points
        points.append(walk.points)
    return points, gas


@pytest.mark.parametrize(
    ("network", "rounds"),
    [
        ("local", 24),
        ("mainnet", 672),
    ],
)
def test_shipped_cadence__every_worker_registers_in_bounded_chunks_and_is_paid(
    project, chain, owner, outsider, create_voting, network, rounds
):
    p = shipped(network)
    assert p["epoch_length"] == rounds * HOUR
    net = create_voting(
        "3/5",
        epoch_length=p["epoch_length"],
        max_window=p["max_window"],
        vote_duration=p["vote_duration"],
        speed_rank=p["speed_rank"],
    )
    rewards = owner.deploy(
        project.WorkerRewards,
        *(owner, net.voting, ZERO_ADDRESS, p["registration_window"], p["claim_expiry"]),
        p["weights"],
    )
    pot = 10**21 + 3
    rewards.fund(0, pot, value=pot, sender=owner)
    start, end = rewards.epochTimes(0)[:2]
    sender, settled = RawVotes(chain, net.voting), []

    began = time.monotonic()
    for k, votes in enumerate(plan(rounds)):  # round k is about the hour before start + k h
        chain.pending_timestamp = start + k * HOUR + 60
        descriptor = window_descriptor(start + (k - 1) * HOUR, start + k * HOUR)
        for worker, result in votes:
            sender.vote(net.workers[worker], descriptor, result)
        voted, early, agreed, deciding = model.attempt(votes, 3, p["speed_rank"])
        late_until = start + k * HOUR + 60 + deciding + p["vote_duration"]  # one block a second
        settled.append(model.SettledRound(k, voted, early, agreed, late_until))
    played = time.monotonic() - began
    assert net.voting.epochEntries(0) == (0, rounds)

    snapshot = chain.snapshot()
    points_default, gas_default = register_everyone(rewards, net, settled, CHUNK, chain, outsider)
    chain.restore(snapshot)
    points, gas = register_everyone(rewards, net, settled, SAFE_CHUNK, chain, outsider)
    assert points == points_default
    assert max(gas) <= GAS_CAP and max(gas_default) <= GAS_CAP
    print(
        f"\n{network}: {rounds} rounds played in {played:.0f} s; register gas max "
        f"{max(gas_default)} (chunks of {CHUNK}), {max(gas)} (chunks of {SAFE_CHUNK})"
    )

    chain.pending_timestamp = end + p["registration_window"] + 1
    shares = model.payouts(pot, p["weights"], points)
    paid = 0
    for worker, share in zip(net.workers, shares, strict=True):
        before = worker.balance
        receipt = rewards.claim(0, worker, sender=outsider)
        assert receipt.gas_used <= GAS_CAP
        assert worker.balance - before == sum(share) > 0
        paid += sum(share)
    rolled = model.rolled_over(pot, p["weights"], points)
    info = rewards.epochInfo(0)
    assert (info.paid, info.movedOut) == (paid, rolled)
    assert paid + rolled == pot
    assert rewards.balance == rolled == rewards.epochInfo(1).pot
