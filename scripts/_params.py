"""Network parameter files (`networks/*.yaml`): the schema and its validation.

Every check runs before anything is sent. Problems are reported by field path, for example
`params.reward.weights: must sum to 10000, got 9000`.
"""

import re
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import click
import yaml
from eth_utils import is_address, keccak, to_checksum_address
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

MAX_WORKERS = 64  # WorkerPool.MAX_WORKERS
BPS = 10_000
HOUR = 3600
DAY = 24 * HOUR
ZERO_ADDRESS = "0x" + "00" * 20
FALLBACK_CODES = {"alert": 0, "plurality": 1, "failover": 2}
WEIGHT_NAMES = ("availability", "consistency", "accuracy", "speed")
_UNITS = {"s": 1, "m": 60, "h": HOUR, "d": DAY, "w": 7 * DAY}
_BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ROLE_LABEL = re.compile(r"^[a-z0-9_-]+$")


# -------------------------------------------------------------------------------------------------
# Field types
# -------------------------------------------------------------------------------------------------


def _address(value: Any) -> str:
    """A non-zero address, returned checksummed; lower-case or correctly checksummed input."""
    if isinstance(value, str) and "REPLACE" in value.upper():
        raise ValueError(f"placeholder {value!r}: replace it with a real address")
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"not an address: {value!r}")
    if int(value, 16) == 0:
        raise ValueError("must not be the zero address")
    return to_checksum_address(value)


def parse_duration(value: Any) -> int:
    """Seconds from an integer or a string with a unit: `90`, `90s`, `30m`, `1h`, `7d`, `2w`."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", str(value))
    if not match:
        raise ValueError(f"not a duration (seconds, or a number with s, m, h, d or w): {value!r}")
    number, unit = match.groups()
    return int(number) * _UNITS[unit or "s"]


def _weights(value: Any) -> Any:
    """Accepts the four weights as a list or as a mapping by category name."""
    if isinstance(value, dict):
        unknown = set(value) - set(WEIGHT_NAMES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; use {list(WEIGHT_NAMES)}")
        missing = [name for name in WEIGHT_NAMES if name not in value]
        if missing:
            raise ValueError(f"missing categories {missing}")
        return [value[name] for name in WEIGHT_NAMES]
    return value


def namehash(name: str) -> bytes:
    """ENS namehash of a dotted name: how Energy Web IAM identifies a role on chain."""
    node = b"\x00" * 32
    for label in reversed(name.split(".")):
        node = keccak(node + keccak(text=label))
    return node


Address = Annotated[str, BeforeValidator(_address)]
Duration = Annotated[int, BeforeValidator(parse_duration)]
Weight = Annotated[int, Field(ge=0, le=BPS)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# -------------------------------------------------------------------------------------------------
# Sections
# -------------------------------------------------------------------------------------------------


class PoolParams(_Section):
    """The worker pool: its size limit and the workers enrolled at deployment."""

    max_workers: int = Field(ge=1, le=MAX_WORKERS)
    initial_workers: list[Address] = []

    @field_validator("initial_workers")
    @classmethod
    def _check_workers(cls, workers: list[str], info: ValidationInfo) -> list[str]:
        duplicates = sorted({w for w in workers if workers.count(w) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        limit = info.data.get("max_workers")
        if limit is not None and len(workers) > limit:
            raise ValueError(f"{len(workers)} workers exceed pool.max_workers ({limit})")
        return workers


class FallbackParams(_Section):
    """What happens when the second attempt of a round fails."""

    policy: Literal["alert", "plurality", "failover"] = "alert"
    min_votes: int = Field(0, ge=0, le=255)
    failover: Address | None = None

    @field_validator("min_votes")
    @classmethod
    def _check_min_votes(cls, value: int, info: ValidationInfo) -> int:
        policy = info.data.get("policy")
        if policy == "plurality" and value == 0:
            raise ValueError("policy plurality needs min_votes >= 1")
        if policy not in (None, "plurality") and value != 0:
            raise ValueError(f"only policy plurality uses min_votes; policy is {policy}")
        return value

    @field_validator("failover")
    @classmethod
    def _check_failover(cls, value: str | None, info: ValidationInfo) -> str | None:
        policy = info.data.get("policy")
        if policy is not None and (policy == "failover") != (value is not None):
            need = "needs a failover address" if value is None else "takes no failover address"
            raise ValueError(f"policy {policy} {need}")
        return value


class VotingParams(_Section):
    """Round parameters of WorkerVoting (its `Config` struct)."""

    threshold: int = Field(0, ge=0, le=MAX_WORKERS)
    mode: Literal["open", "sealed"] = "open"
    vote_duration: Duration = Field(ge=1, le=30 * DAY)
    reveal_duration: Duration = Field(0, ge=0, le=30 * DAY)
    fallback: FallbackParams = FallbackParams()
    speed_rank: int = Field(3, ge=0, le=MAX_WORKERS)

    @field_validator("reveal_duration")
    @classmethod
    def _check_reveal(cls, value: int, info: ValidationInfo) -> int:
        mode = info.data.get("mode")
        if mode == "sealed" and value == 0:
            raise ValueError("sealed mode needs a reveal duration >= 1 s")
        if mode == "open" and value != 0:
            raise ValueError(f"must be 0 in open mode, got {value}")
        return value

    def as_config(self) -> tuple:
        """The `IWorkerVoting.Config` struct as a tuple, field by field."""
        return (
            self.threshold,
            self.mode == "sealed",
            self.vote_duration,
            self.reveal_duration,
            FALLBACK_CODES[self.fallback.policy],
            self.fallback.min_votes,
            self.speed_rank,
            self.fallback.failover or ZERO_ADDRESS,
        )


def voting_fields(config: Any) -> dict:
    """The fields of `VotingParams` from an on-chain `Config` struct (a tuple in field order)."""
    threshold, sealed, vote, reveal, policy_code, min_votes, speed_rank, failover = config
    policy = {code: name for name, code in FALLBACK_CODES.items()}[int(policy_code)]
    return {
        "threshold": threshold,
        "mode": "sealed" if sealed else "open",
        "vote_duration": vote,
        "reveal_duration": reveal,
        "fallback": {
            "policy": policy,
            "min_votes": min_votes,
            "failover": None if int(failover, 16) == 0 else failover,
        },
        "speed_rank": speed_rank,
    }


class RewardParams(_Section):
    """WorkerRewards constructor arguments."""

    token: str = "native"
    weights: Annotated[tuple[Weight, Weight, Weight, Weight], BeforeValidator(_weights)]
    epoch_length: Duration = Field(ge=HOUR, le=365 * DAY)
    registration_window: Duration = Field(ge=1, le=90 * DAY)
    claim_expiry: Duration = Field(ge=30 * DAY, le=3650 * DAY)

    @field_validator("token")
    @classmethod
    def _check_token(cls, token: str) -> str:
        if token == "native":
            return token
        try:
            return _address(token)
        except ValueError as err:
            raise ValueError(f"must be native or an ERC-20 address; {err}") from None

    @field_validator("weights")
    @classmethod
    def _check_sum(cls, weights: tuple[int, ...]) -> tuple[int, ...]:
        if sum(weights) != BPS:
            raise ValueError(f"must sum to {BPS}, got {sum(weights)}")
        return weights

    @property
    def token_address(self) -> str:
        """The token constructor argument: zero for the native coin."""
        return ZERO_ADDRESS if self.token == "native" else self.token


class GateParams(_Section):
    """Eligibility gate (an Energy Web IAM ClaimManager): only role holders may be enrolled."""

    address: Address
    role: str
    version: int = Field(1, ge=0, lt=2**256)

    @field_validator("role")
    @classmethod
    def _check_role(cls, role: str) -> str:
        if "REPLACE" in role.upper():
            raise ValueError(f"placeholder {role!r}: replace it with the role name or its hash")
        if _BYTES32.match(role):
            return role.lower()
        labels = role.split(".")
        if not all(_ROLE_LABEL.match(label) for label in labels):
            raise ValueError(
                f"must be 0x and 64 hex digits, or a lower-case dotted role name, got {role!r}"
            )
        return role

    @property
    def role_hash(self) -> bytes:
        """The role as bytes32: given as hex, or the namehash of the role name."""
        return bytes.fromhex(self.role[2:]) if _BYTES32.match(self.role) else namehash(self.role)


class DeployParams(_Section):
    """A whole parameter file."""

    network: Annotated[str, Field(pattern=r"^[a-z0-9_-]+:[a-z0-9_-]+$")] | None = None
    chain_id: int = Field(gt=0)
    pool: PoolParams
    voting: VotingParams
    reward: RewardParams
    eligibility_gate: GateParams | None = None

    def cross_check(self) -> list[tuple[str, str]]:
        """Checks that span sections, as (field path, problem) pairs."""
        problems = []
        limit = self.pool.max_workers
        if self.voting.threshold > limit:
            problems.append(
                ("voting.threshold", f"{self.voting.threshold} exceeds pool.max_workers ({limit})")
            )
        if self.voting.fallback.min_votes > limit:
            problems.append(
                (
                    "voting.fallback.min_votes",
                    f"{self.voting.fallback.min_votes} exceeds pool.max_workers ({limit})",
                )
            )
        problem = window_problem(self.voting, self.reward.registration_window)
        if problem:
            problems.append(("reward.registration_window", problem))
        return problems


def window_problem(voting: VotingParams, registration_window: int) -> str | None:
    """Why `registration_window` is too short for rounds of `voting` to settle, or None."""
    round_time = voting.vote_duration + voting.reveal_duration
    if registration_window > round_time:
        return None
    return (
        f"must exceed voting.vote_duration + voting.reveal_duration ({round_time} s) so rounds "
        f"settle before registration closes, got {registration_window}"
    )


# -------------------------------------------------------------------------------------------------
# Loading
# -------------------------------------------------------------------------------------------------


def _describe(error: dict, prefix: str) -> str:
    path = prefix
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    if error["type"] == "value_error":
        message = str(error["ctx"]["error"])
    else:
        message = error["msg"]
        if not isinstance(error["input"], dict | list):
            message += f", got {error['input']!r}"
    return f"{path}: {message}"


def _fail(lines: list[str], param_hint: str) -> NoReturn:
    raise click.BadParameter("\n  " + "\n  ".join(lines), param_hint=param_hint)


def _read_yaml(path: Path, param_hint: str) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf8"))
    except (OSError, yaml.YAMLError) as err:
        raise click.BadParameter(f"cannot read {path}: {err}", param_hint=param_hint) from err
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: expected a mapping of sections", param_hint=param_hint)
    return data


def load_params(path: Path, param_hint: str = "--params") -> DeployParams:
    """Reads and validates a parameter file.

    Args:
        path: The YAML parameter file.
        param_hint: The option named in error messages.

    Returns:
        The validated parameters.

    Raises:
        click.BadParameter: Listing every problem as `params.<field path>: <problem>`.
    """
    data = _read_yaml(path, param_hint)
    try:
        params = DeployParams.model_validate(data)
    except ValidationError as err:
        _fail([_describe(e, "params") for e in err.errors()], param_hint)
    problems = params.cross_check()
    if problems:
        _fail([f"params.{field}: {problem}" for field, problem in problems], param_hint)
    return params


def read_section(path: Path, section: str, param_hint: str = "--params") -> dict:
    """One section of a parameter file, unvalidated (see `validate_voting`)."""
    data = _read_yaml(path, param_hint).get(section)
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: no {section} section", param_hint=param_hint)
    return data


def validate_voting(fields: dict, prefix: str, param_hint: str) -> VotingParams:
    """Validates round parameters; raises click.BadParameter listing every problem."""
    try:
        return VotingParams.model_validate(fields)
    except ValidationError as err:
        _fail([_describe(e, prefix) for e in err.errors()], param_hint)
