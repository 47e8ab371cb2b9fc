"""Network parameter files (`networks/*.yaml`): the schema and its validation.

Every check runs before anything is sent. Problems are reported by field path, for example
`params.reward.weights: must sum to 10000, got 9000`.
"""

from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import click
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from scripts._param_types import (  # noqa: F401 (re-exported for the scripts and tests)
    BLOCK_TIME,
    BPS,
    BYTES32,
    DAY,
    FALLBACK_CODES,
    HOUR,
    MAX_DURATION,
    MAX_WORKERS,
    MIN_PLURALITY_VOTES,
    MIN_REGISTRATION,
    MIN_WINDOW_BLOCKS,
    REGISTRATION_MARGIN,
    ROLE_LABEL,
    WEIGHT_NAMES,
    ZERO_ADDRESS,
    Address,
    Duration,
    Weight,
    address,
    namehash,
    parse_duration,
    weights_list,
)


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
    failover_timeout: Duration | None = None

    @field_validator("min_votes")
    @classmethod
    def _check_min_votes(cls, value: int, info: ValidationInfo) -> int:
        policy = info.data.get("policy")
        if policy == "plurality" and value < MIN_PLURALITY_VOTES:
            raise ValueError(
                f"policy plurality needs min_votes >= {MIN_PLURALITY_VOTES} (one worker alone "
                f"never decides), got {value}"
            )
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

    @field_validator("failover_timeout", mode="after")
    @classmethod
    def _check_timeout(cls, value: int | None, info: ValidationInfo) -> int | None:
        policy = info.data.get("policy")
        if policy == "failover" and value is None:
            raise ValueError(
                "policy failover needs failover_timeout (how long the failover address may "
                "decide before anyone may fail the round), e.g. 1d"
            )
        if policy not in (None, "failover") and value is not None:
            raise ValueError(f"only policy failover uses failover_timeout; policy is {policy}")
        if value is not None and not 1 <= value <= MAX_DURATION:
            raise ValueError(f"must be 1 s to 30 d ({MAX_DURATION} s), got {value}")
        return value


class VotingParams(_Section):
    """Round parameters of WorkerVoting (its `Config` struct)."""

    threshold: int = Field(0, ge=0, le=MAX_WORKERS)
    mode: Literal["open", "sealed"] = "open"
    vote_duration: Duration = Field(ge=1, le=MAX_DURATION)
    reveal_duration: Duration = Field(0, ge=0, le=MAX_DURATION)
    fallback: FallbackParams = FallbackParams()
    speed_rank: int = Field(3, ge=0, le=MAX_WORKERS)
    # Fixed at deployment (a WorkerVoting constructor argument, not part of its Config); None: half
    # of reward.registration_window (see `DeployParams.max_window`).
    max_window: Duration | None = Field(None, ge=1, le=MAX_DURATION)
    # A WorkerPoolAdmin already on this chain to reuse (it keeps no state); None: deploy one.
    admin_module: Address | None = None

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
            self.fallback.failover_timeout or 0,
        )

    def window_problem(self, max_window: int) -> str | None:
        """Why the vote or reveal window does not fit `max_window` seconds, or None."""
        for name in ("vote_duration", "reveal_duration"):
            value = getattr(self, name)
            if value > max_window:
                return f"voting.{name} ({value} s) exceeds the longest window, {max_window} s"
        return None


def voting_fields(config: Any) -> dict:
    """The fields of `VotingParams` from an on-chain `Config` struct (a tuple in field order)."""
    threshold, sealed, vote, reveal, policy_code, min_votes, speed_rank, failover, timeout = config
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
            "failover_timeout": timeout or None,
        },
        "speed_rank": speed_rank,
    }


class RewardParams(_Section):
    """WorkerRewards constructor arguments."""

    token: str = "native"
    weights: Annotated[tuple[Weight, Weight, Weight, Weight], BeforeValidator(weights_list)]
    epoch_length: Duration = Field(ge=HOUR, le=365 * DAY)
    registration_window: Duration = Field(ge=1, le=90 * DAY)
    claim_expiry: Duration = Field(ge=30 * DAY, le=3650 * DAY)

    @field_validator("token")
    @classmethod
    def _check_token(cls, token: str) -> str:
        if token == "native":
            return token
        try:
            return address(token)
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
        if BYTES32.match(role):
            return role.lower()
        labels = role.split(".")
        if not all(ROLE_LABEL.match(label) for label in labels):
            raise ValueError(
                f"must be 0x and 64 hex digits, or a lower-case dotted role name, got {role!r}"
            )
        return role

    @property
    def role_hash(self) -> bytes:
        """The role as bytes32: given as hex, or the namehash of the role name."""
        return bytes.fromhex(self.role[2:]) if BYTES32.match(self.role) else namehash(self.role)


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
        problems += self._window_problems()
        return problems

    @property
    def max_window(self) -> int:
        """WorkerVoting's maxWindow: voting.max_window, or by default half the registration
        window, at most the registration window less 1 h (WorkerRewards' margin) and 30 d."""
        if self.voting.max_window is not None:
            return self.voting.max_window
        registration = self.reward.registration_window
        return max(1, min(registration // 2, registration - REGISTRATION_MARGIN, MAX_DURATION))

    def _window_problems(self) -> list[tuple[str, str]]:
        voting, registration = self.voting, self.reward.registration_window
        longest = max(voting.vote_duration, voting.reveal_duration)
        margin = f"{REGISTRATION_MARGIN // HOUR} h"
        if voting.max_window is None and registration < longest + REGISTRATION_MARGIN:
            problem = (
                f"must be at least the longest vote or reveal window + {margin} "
                f"({longest + REGISTRATION_MARGIN} s), so every late vote of an epoch is in "
                f"before its registration closes, got {registration}"
            )
            return [("reward.registration_window", problem)]
        window = self.max_window
        source = f"{window} s"
        if voting.max_window is None:
            source += " (half of reward.registration_window by default)"
        problems = []
        if longest > window:
            problem = (
                f"{source} is shorter than voting.vote_duration / reveal_duration ({longest} s); "
                f"set it to {longest} s or more, at most {registration - REGISTRATION_MARGIN} s"
            )
            problems.append(("voting.max_window", problem))
        if window + REGISTRATION_MARGIN > registration:
            problem = (
                f"{window} s must be at most reward.registration_window - {margin} "
                f"({registration - REGISTRATION_MARGIN} s), so every late vote of an epoch is in "
                "before its registration closes"
            )
            problems.append(("voting.max_window", problem))
        return problems

    def warnings(self) -> list[str]:
        """Legal but risky choices, as lines for the operator (nothing refuses them)."""
        out = []
        registration = self.reward.registration_window
        if registration < MIN_REGISTRATION:
            out.append(
                f"reward.registration_window is {registration} s ({registration // BLOCK_TIME} "
                f"blocks of {BLOCK_TIME} s): a worker that is down for a few minutes misses its "
                f"registration; {MIN_REGISTRATION // 60} minutes or more is safer"
            )
        least = MIN_WINDOW_BLOCKS * BLOCK_TIME
        for name in ("vote_duration", "reveal_duration"):
            value = getattr(self.voting, name)
            if 0 < value < least:
                out.append(
                    f"voting.{name} is {value} s, {value / BLOCK_TIME:g} blocks of {BLOCK_TIME} s "
                    f"on Energy Web Chain: votes that miss a block or two miss the window; "
                    f"{least} s ({MIN_WINDOW_BLOCKS} blocks) or more is safer"
                )
        return out


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
