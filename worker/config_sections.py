"""The sections of the worker's settings (`worker.config.WorkerConfig`), one model each.

Every section is frozen and forbids unknown fields, so a typo fails at start instead of being
ignored. A validator's `ValueError` message becomes the reason in the `ConfigError`.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

_NETWORK = re.compile(r"[A-Za-z0-9_-]+:[A-Za-z0-9_-]+(:\S+)?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_WORKFLOW_REF = re.compile(rf"{_IDENT}(\.{_IDENT})*:{_IDENT}(\.{_IDENT})*")
_NATS_NAME = re.compile(r"[^\s.*>/\\]+")  # stream and durable consumer names
_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _require_url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"must be a URL with scheme {' or '.join(schemes)} and a host")
    return value


def _http_url(value: str) -> str:
    return _require_url(value, ("http", "https"))


def _nats_url(value: str) -> str:
    return _require_url(value, ("nats", "tls", "ws", "wss"))


def _require_subject(value: str) -> str:
    tokens = value.split(".")
    if any(not t or any(c.isspace() for c in t) for t in tokens):
        raise ValueError("must be dot-separated tokens without spaces, e.g. 'meter.readings'")
    if ">" in tokens[:-1] or any(t != ">" and ">" in t for t in tokens):
        raise ValueError("'>' may only be the last token")
    return value


class ChainConfig(_Section):
    """Chain access: network, RPC endpoints, deployment, account, confirmation depth, gas margin."""

    network: str = Field(description="Ape network choice, e.g. 'energyweb:volta:node'")
    rpc: list[Annotated[str, AfterValidator(_http_url)]] = Field(
        default_factory=list,
        description="RPC endpoints in order of preference (failover); empty: the network's own",
    )
    rpc_max_lag: int = Field(
        5, ge=0, le=10_000, description="blocks an endpoint may lag the best head before failover"
    )
    rpc_probe_interval: float = Field(
        5.0, ge=0.1, le=600, description="seconds between health probes of each endpoint"
    )
    manifest: Path | None = Field(
        None, description="deployment manifest; None: the deploy default for the network"
    )
    account: str = Field(min_length=1, description="alias of an Ape account (any account type)")
    passphrase_env: str = Field(
        "WORKER_PASSPHRASE", description="NAME of the environment variable holding the passphrase"
    )
    passphrase_file: Path | None = Field(
        None, description="file holding the passphrase (mode 0600 or stricter); wins over the env"
    )
    confirmations: int = Field(2, ge=0, le=256, description="blocks before an event counts")
    gas_margin: float = Field(1.2, ge=1.0, le=5.0, description="gas limit = estimate x margin")
    gas_floors: dict[str, Annotated[int, Field(ge=0, le=30_000_000)]] = Field(
        default_factory=dict,
        description="least gas limit per contract method, over worker.gas.GAS_FLOORS (0: none)",
    )
    poll_interval: float = Field(2.0, ge=0.05, le=600, description="seconds between chain polls")
    rpc_timeout: float = Field(10.0, gt=0, le=300, description="seconds per request to the node")
    replace_after: float = Field(
        90.0, gt=0, description="seconds before a transaction without receipt is replaced"
    )
    low_balance: float = Field(
        0.1, ge=0, description="warn when the account holds less than this (native coin units)"
    )

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        if not _NETWORK.fullmatch(value):
            raise ValueError("must be 'ecosystem:network[:provider]', e.g. 'energyweb:volta:node'")
        return value

    @field_validator("rpc")
    @classmethod
    def _rpc_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists an endpoint twice")
        return value

    @field_validator("passphrase_env")
    @classmethod
    def _passphrase_env(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise ValueError("must be the name of an environment variable, not the passphrase")
        return value

    def read_passphrase(self) -> str | None:
        """The account passphrase: from `passphrase_file` if set, else from the environment
        variable `passphrase_env`; None if neither holds one.

        Raises:
            ConfigError: the file is missing, unreadable, empty, or readable by group or others.
        """
        if self.passphrase_file is None:
            return os.environ.get(self.passphrase_env)
        return read_secret_file(self.passphrase_file, "chain.passphrase_file")


def read_secret_file(path: Path, field: str) -> str:
    """The content of a secret file without its final line break, after checking its mode.

    Raises:
        ConfigError: missing, unreadable, not a regular file, empty, or readable by group or
            others (anyone on the machine could read the secret).
    """
    from worker.errors import ConfigError

    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError([(field, f"cannot read {path}: {exc.strerror or exc}")]) from exc
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError([(field, f"{path} is not a regular file")])
    if info.st_mode & 0o044:
        mode = stat.S_IMODE(info.st_mode)
        raise ConfigError([(field, f"{path} is readable by group or others (mode {mode:04o}): "
                                   f"run `chmod 600 {path}`")])  # fmt: skip
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(field, f"cannot read {path}: {exc}")]) from exc
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ConfigError([(field, f"{path} is empty")])
    return text


class _SourceSection(_Section):
    """What every source kind shares: its name and the workflow inputs it delivers."""

    name: str = Field(min_length=1, max_length=64, description="name in logs, metrics, store")
    delivers: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None,
        min_length=1,
        description="the workflow's INPUTS this source delivers (default: all of them); a window "
        "waits for every source that delivers one",
    )

    @field_validator("name")
    @classmethod
    def _source_name(cls, value: str) -> str:
        if not _SOURCE_NAME.fullmatch(value):
            raise ValueError("must be letters, digits, '.', '_' or '-', not starting with . _ -")
        return value


def _window_template(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        filled = value.format(start=0, end=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"only {{start}} and {{end}} may be filled in ({exc})") from exc
    if "{start}" not in value or "{end}" not in value:
        raise ValueError("must hold {start} and {end} (the window, UTC epoch seconds)")
    _require_url(filled, ("http", "https"))
    return value


class HttpSourceConfig(_SourceSection):
    """An HTTP JSON API, polled at an interval (read-only GET)."""

    kind: Literal["http"]
    name: str = Field("http", min_length=1, max_length=64)
    url: str | None = None
    window_url: str | None = Field(
        None,
        description="template of the URL of one window's data, with {start} and {end}: fetched "
        "for each window still waiting for this source (catch-up)",
    )
    poll_interval: float = Field(60.0, gt=0, description="seconds between polls")
    timeout: float = Field(10.0, gt=0, description="seconds per request")
    retries: int = Field(3, ge=0, le=100, description="retries of a failed poll")
    backoff: float = Field(1.0, gt=0, description="first retry delay in seconds, then doubled")
    backoff_max: float = Field(60.0, gt=0, description="longest retry delay in seconds")
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _require_url(value, ("http", "https"))

    @field_validator("window_url")
    @classmethod
    def _window_url(cls, value: str | None) -> str | None:
        return _window_template(value)

    @model_validator(mode="after")
    def _backoff_order(self) -> HttpSourceConfig:
        if self.url is None and self.window_url is None:
            raise ValueError("url: is required (or window_url)")
        if self.backoff_max < self.backoff:
            raise ValueError("backoff_max: must be >= backoff")
        return self


class NatsSourceConfig(_SourceSection):
    """A NATS JetStream subject read through a durable consumer."""

    kind: Literal["nats"]
    name: str = Field("nats", min_length=1, max_length=64)
    servers: list[Annotated[str, AfterValidator(_nats_url)]] = Field(min_length=1)
    stream: str
    subject: str
    durable: str = Field(description="durable consumer name: a restart resumes where it stopped")
    ack_wait: float = Field(30.0, gt=0, description="seconds before an unacked message comes again")
    retry_delay: float = Field(
        1.0, ge=0, description="seconds before a refused message comes again"
    )
    backoff_max: float = Field(10.0, gt=0, description="longest delay between connection attempts")

    @field_validator("stream", "durable")
    @classmethod
    def _names(cls, value: str) -> str:
        if not _NATS_NAME.fullmatch(value):
            raise ValueError("must be non-empty without spaces, '.', '*', '>', '/' or '\\'")
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        return _require_subject(value)


class IntervalTriggerConfig(_Section):
    """Fixed windows: every `period` seconds, for the window that just ended (after `lag`)."""

    kind: Literal["interval"]
    period: int = Field(3600, gt=0, description="window length in seconds")
    offset: int = Field(0, ge=0, description="windows start at offset + k x period (UTC epoch)")
    lag: int = Field(300, ge=0, description="seconds after a window ends before it is computed")
    catch_up: int = Field(24, ge=1, description="most past windows computed after a downtime")

    @model_validator(mode="after")
    def _offset_in_period(self) -> IntervalTriggerConfig:
        if self.offset >= self.period:
            raise ValueError("offset: must be < period")
        return self


class EventTriggerConfig(_Section):
    """A round per external event: a message on a NATS subject that carries an event key."""

    kind: Literal["event"]
    subject: str
    key_field: str = Field("key", min_length=1, description="message field with the event key")

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        return _require_subject(value)


class WorkflowConfig(_Section):
    """The workflow to run: a callable referenced as 'module:function', its name and params."""

    ref: str = Field(description="'module:function', e.g. 'worker.workflows.matching:run'")
    name: str = Field(min_length=1, max_length=64, description="part of every round's votingId")
    params: dict[str, Any] = Field(default_factory=dict)
    min_inputs: int = Field(
        1,
        ge=1,
        description="inputs a window needs before its result is computed (all workers alike)",
    )
    settle: float = Field(
        0,
        ge=0,
        description="seconds the newest input of a window must have rested before computing",
    )

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        if not _WORKFLOW_REF.fullmatch(value):
            raise ValueError("must be 'module:function', e.g. 'worker.workflows.matching:run'")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value != value.strip() or not value.isprintable():
            raise ValueError("must be printable, without leading or trailing spaces")
        return value


class RewardsConfig(_Section):
    """Reward registration after each epoch (`WorkerRewards.register` in chunks)."""

    register_chunk: int = Field(
        64,
        ge=1,
        le=400,
        description="chain entries counted per `register` transaction (about 11k gas each; 64 "
        "stays under 1M gas, 400 under Energy Web Chain's 6M block gas limit)",
    )


class StateConfig(_Section):
    """Where the local state store (SQLite) lives."""

    directory: Path = Path("state")


class MetricsConfig(_Section):
    """Prometheus metrics and health endpoint; port 0 disables both."""

    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)


class LoggingConfig(_Section):
    """Log format and level."""

    format: Literal["json", "human"] = "human"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


SourceConfig = Annotated[HttpSourceConfig | NatsSourceConfig, Field(discriminator="kind")]
TriggerConfig = Annotated[IntervalTriggerConfig | EventTriggerConfig, Field(discriminator="kind")]
