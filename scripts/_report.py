"""Readable text: the summary of a parameter file and the status of a deployed network."""

from datetime import datetime, timezone

from ape import chain
from ape.contracts import ContractInstance

from scripts._deployment import Deployment, erc20, format_amount, native_symbol
from scripts._params import (
    DAY,
    HOUR,
    WEIGHT_NAMES,
    DeployParams,
    VotingParams,
    validate_voting,
    voting_fields,
)

# -------------------------------------------------------------------------------------------------
# Parameter files
# -------------------------------------------------------------------------------------------------


def human_duration(seconds: int) -> str:
    """`5400` -> `5400 s (1h 30m)`."""
    parts, rest = [], seconds
    for unit, size in (("d", DAY), ("h", HOUR), ("m", 60)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    if rest or not parts:
        parts.append(f"{rest}s")
    return f"{seconds} s ({' '.join(parts)})"


def voting_items(voting: VotingParams) -> list[tuple[str, str]]:
    """Readable (label, value) pairs for the round parameters."""
    threshold = "simple majority" if voting.threshold == 0 else f"{voting.threshold} votes"
    fallback = voting.fallback.policy
    if fallback == "plurality":
        fallback += f" (at least {voting.fallback.min_votes} votes)"
    elif fallback == "failover":
        timeout = human_duration(voting.fallback.failover_timeout or 0)
        fallback += f" to {voting.fallback.failover}, timeout {timeout}"
    items = [
        ("threshold", threshold),
        ("mode", voting.mode),
        ("vote duration", human_duration(voting.vote_duration)),
    ]
    if voting.mode == "sealed":
        items.append(("reveal duration", human_duration(voting.reveal_duration)))
    return [*items, ("fallback", fallback), ("speed rank", f"first {voting.speed_rank} votes")]


def describe_voting(voting: VotingParams) -> list[str]:
    """Readable lines for the round parameters."""
    return [f"{label:<16} {value}" for label, value in voting_items(voting)]


def describe(params: DeployParams) -> list[str]:
    """Readable lines for everything a deployment will set."""
    reward = params.reward
    weights = ", ".join(f"{n} {w / 100:g}%" for n, w in zip(WEIGHT_NAMES, reward.weights))
    lines = [f"Pool: up to {params.pool.max_workers} workers"]
    lines += [f"  initial worker   {w}" for w in params.pool.initial_workers] or [
        "  initial workers  none"
    ]
    lines += ["Voting (WorkerVoting):"] + [f"  {line}" for line in describe_voting(params.voting)]
    lines += [
        f"  max window       {human_duration(params.max_window)} (longest vote or reveal window)",
        f"  epoch length     {human_duration(reward.epoch_length)}",
        "  admin module     "
        + (f"reuse {params.voting.admin_module}" if params.voting.admin_module else "deploy one"),
        "Rewards (WorkerRewards):",
        f"  token            {reward.token}",
        f"  weights          {weights}",
        f"  registration     {human_duration(reward.registration_window)} after an epoch ends",
        f"  claim expiry     {human_duration(reward.claim_expiry)} after registration closes",
    ]
    gate = params.eligibility_gate
    if gate is None:
        lines.append("Eligibility gate: none")
    else:
        role = f"{gate.role} (0x{gate.role_hash.hex()})" if gate.role[:2] != "0x" else gate.role
        lines += [
            f"Eligibility gate: {gate.address}",
            f"  role             {role}",
            f"  version          >= {gate.version}",
        ]
    return lines


STATUS_NAMES = (
    "None",
    "Voting",
    "Committing",
    "Revealing",
    "Consensus",
    "Plurality",
    "FailoverResolved",
    "Failed",
    "AwaitingFailover",
)


def reward_token(rewards: ContractInstance) -> tuple[str | None, int, str]:
    """(ERC-20 address or None for the native coin, decimals, symbol) of the reward pot."""
    token = rewards.token()
    if int(token, 16) == 0:
        return None, 18, native_symbol(chain.provider.network)
    return token, erc20(token).decimals(), erc20(token).symbol()


# -------------------------------------------------------------------------------------------------
# Deployed network
# -------------------------------------------------------------------------------------------------


def _owner_line(name: str, contract: ContractInstance) -> str:
    pending = contract.pendingOwner()
    offer = "" if int(pending, 16) == 0 else f", ownership offered to {pending}"
    return f"{name:<14}{contract.address}  owner {contract.owner()}{offer}"


def _pool_lines(net: Deployment) -> list[str]:
    voting = net.voting
    state = voting.poolState()
    config, version = voting.currentConfig()
    paused = "yes (round clocks stand still)" if state.paused else "no"
    lines = [f"Paused: {paused}"]
    if state.pausedFor:
        lines.append(f"  round clocks behind block time by {human_duration(state.pausedFor)}")
    lines.append(
        f"Pool: {state.activeCount} active workers (limit {net.max_workers}), "
        f"membership generation {state.generation}"
    )
    lines += [f"  {worker}" for worker in voting.workers()]
    lines.append(f"Round parameters (version {version}):")
    lines += [
        f"  {line}" for line in describe_voting(validate_voting(voting_fields(config), "", ""))
    ]
    lines.append(f"  max window       {human_duration(voting.maxWindow())} (fixed at deployment)")
    gate, role, role_version = voting.eligibilityGate()
    if int(gate, 16) == 0:
        lines.append("Eligibility gate: none")
    else:
        lines.append(
            f"Eligibility gate: {gate} role 0x{bytes(role).hex()} version >= {role_version}"
        )
    return lines


def _chain_lines(voting: ContractInstance, rounds: int) -> list[str]:
    head, length = voting.chainHead()
    lines = [f"Result chain: length {length}, head 0x{bytes(head).hex()}"]
    if length:
        lines.append(f"Most recent rounds (newest first, up to {rounds}):")
    for index in range(length - 1, max(length - rounds, 0) - 1, -1):
        entry = voting.chainEntry(index)
        lines.append(
            f"  #{index} {STATUS_NAMES[entry.kind]:<16} round 0x{bytes(entry.votingId).hex()}  "
            f"result 0x{bytes(entry.result).hex()}  attempt {entry.attempt}, {entry.votes} votes"
        )
    return lines


def _reward_lines(rewards: ContractInstance) -> list[str]:
    token, decimals, symbol = reward_token(rewards)
    epoch = rewards.currentEpoch()
    _, ends, _ = rewards.epochTimes(epoch)
    info = rewards.epochInfo(epoch)
    current, pending, from_epoch = rewards.weights()
    weights = ", ".join(f"{n} {w}" for n, w in zip(WEIGHT_NAMES, current))
    ends_at = datetime.fromtimestamp(ends, timezone.utc).isoformat(timespec="seconds")
    begins = datetime.fromtimestamp(rewards.start(), timezone.utc).isoformat(timespec="seconds")
    lines = [
        f"Rewards: {symbol} ({token or 'native coin'}), epochs of "
        f"{human_duration(rewards.epochLength())} from {begins} (the voting contract's)",
        f"  registration window {human_duration(rewards.registrationWindow())}, claim expiry "
        f"{human_duration(rewards.claimExpiry())}",
        f"  current epoch {epoch}, ends {ends_at}, pot {format_amount(info.pot, decimals, symbol)}",
        f"  weights (bps) {weights}",
    ]
    if from_epoch:
        later = ", ".join(f"{n} {w}" for n, w in zip(WEIGHT_NAMES, pending))
        lines.append(f"  from epoch {from_epoch}: {later}")
    return lines


def status_lines(net: Deployment, rounds: int) -> list[str]:
    """Owners, pause switch, pool, round parameters, result chain and the current epoch."""
    lines = [_owner_line("WorkerVoting", net.voting), _owner_line("WorkerRewards", net.rewards)]
    return lines + _pool_lines(net) + _chain_lines(net.voting, rounds) + _reward_lines(net.rewards)
