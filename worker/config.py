"""The worker's settings: one model, read from a YAML file with environment overrides.

`load_config(path)` reads the YAML file, then applies environment variables named `WORKER_` + the
field path in capitals, sections joined by `__`: `WORKER_CHAIN__NETWORK=energyweb:volta:node`,
`WORKER_SOURCE__POLL_INTERVAL=30`, `WORKER_METRICS__PORT=0`. Lists and mappings are given as JSON
(`WORKER_SOURCE__SERVERS='["nats://a:4222"]'`); a mapping's keys may also be set one at a time
(`WORKER_SOURCE__HEADERS__AUTHORIZATION=...`, keys are lower-cased), which is how secrets such as
API tokens stay out of the file. The environment wins over the file.

Every model forbids unknown fields, so a typo fails at start instead of being ignored. Any problem
raises one `ConfigError` naming each field path and the reason, e.g.
`invalid config worker.yaml: source.poll_interval: must be > 0`. Relative paths (`chain.manifest`,
`chain.passphrase_file`, `state.directory`) are relative to the directory of the config file.

The account passphrase is never part of the config: `chain.passphrase_env` names the environment
variable that holds it, and `ChainConfig.read_passphrase()` reads it when the account is unlocked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from worker.config_sections import (
    ChainConfig,
    EventTriggerConfig,
    HttpSourceConfig,
    IntervalTriggerConfig,
    LoggingConfig,
    MetricsConfig,
    NatsSourceConfig,
    RewardsConfig,
    SourceConfig,
    StateConfig,
    TriggerConfig,
    WorkflowConfig,
)
from worker.errors import ConfigError

__all__ = [
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "ChainConfig",
    "EventTriggerConfig",
    "HttpSourceConfig",
    "IntervalTriggerConfig",
    "LoggingConfig",
    "MetricsConfig",
    "NatsSourceConfig",
    "RewardsConfig",
    "SourceConfig",
    "StateConfig",
    "TriggerConfig",
    "WorkerConfig",
    "WorkflowConfig",
    "load_config",
    "parse_config",
    "validation_problems",
]

ENV_PREFIX = "WORKER_"
ENV_DELIMITER = "__"
_TAGGED = {"source": ("http", "nats"), "sources": ("http", "nats"),
           "trigger": ("interval", "event")}  # discriminated unions  # fmt: skip


class WorkerConfig(BaseSettings):
    """All settings of one worker. Build it with `load_config`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    chain: ChainConfig
    source: SourceConfig | None = None
    sources: list[SourceConfig] = []
    trigger: TriggerConfig
    workflow: WorkflowConfig
    rewards: RewardsConfig = RewardsConfig()
    state: StateConfig = StateConfig()
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        # NOTE: the YAML file arrives as init arguments; listing the environment first makes it win.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _one_way_to_name_sources(self) -> WorkerConfig:
        if (self.source is None) == (not self.sources):
            raise ValueError("sources: give one source as `source` or a list as `sources`")
        names = [source.name for source in self.all_sources]
        if twice := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"sources: two sources are named {twice[0]!r}; names must differ")
        return self

    @property
    def all_sources(self) -> list[HttpSourceConfig | NatsSourceConfig]:
        """The data sources: `sources`, or the one `source`."""
        return list(self.sources) if self.sources else [self.source]

    def redacted(self) -> dict[str, Any]:
        """The settings as JSON-ready data with secret values (HTTP headers) masked, for logs."""
        data = self.model_dump(mode="json")
        for source in [data["source"] or {}, *data["sources"]]:
            if "headers" in source:
                source["headers"] = {k: "***" for k in source["headers"]}
        return data


# -------------------------------------------------------------------------------------------------
# Loading
# -------------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys (which PyYAML silently overwrites)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable) or key in mapping:
            problem = f"duplicate key {key!r}" if isinstance(key, Hashable) else "unhashable key"
            raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_config(path: str | os.PathLike[str]) -> WorkerConfig:
    """Reads the YAML config at `path`, applies `WORKER_...` environment overrides and validates.

    Args:
        path: The YAML file.

    Returns:
        The validated settings, with relative paths resolved against the file's directory.

    Raises:
        ConfigError: the file cannot be read or parsed, or a field is missing or invalid; the
            message names every field path at fault and the reason.
    """
    file = Path(path)
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise ConfigError(
            [("", f"cannot read the file: {exc.strerror or exc}")], str(file)
        ) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError([("", f"not valid YAML: {exc}")], str(file)) from exc
    config = parse_config({} if data is None else data, source=str(file))
    return _resolve_paths(config, file.resolve().parent)


def parse_config(data: Any, source: str | None = None) -> WorkerConfig:
    """Validates already-parsed config data (with environment overrides) into `WorkerConfig`.

    Raises:
        ConfigError: naming each field path at fault and the reason.
    """
    if not isinstance(data, Mapping):
        raise ConfigError([("", "the top level must be a mapping of sections")], source)
    if bad := sorted(str(k) for k in data if not isinstance(k, str) or k.startswith("_")):
        raise ConfigError([(k, "unknown field") for k in bad], source)
    try:
        return WorkerConfig(**data)
    except ValidationError as exc:
        problems = validation_problems(exc, tagged=_TAGGED)
        given = {str(k).lower() for k in data} | {
            k.upper().removeprefix(ENV_PREFIX).split(ENV_DELIMITER)[0].lower() for k in os.environ
        }
        if not {"source", "sources"} & given and not any(
            f.startswith("source") for f, _ in problems
        ):
            # NOTE: the check that one of the two is given runs only once every section is valid
            problems.append(("source", "is required (or sources, a list of sources)"))
        raise ConfigError([(f, r + _env_hint(f)) for f, r in problems], source) from exc
    except SettingsError as exc:
        # NOTE: an environment override that is not valid JSON for a list or mapping field.
        raise ConfigError([("", f"bad environment override: {exc}")], source) from exc


def _env_hint(field: str) -> str:
    """Names the environment variable that set `field` (or a section holding it), if any."""
    names = {name.upper() for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    parts = re.sub(r"\[\d+\]", "", field).upper().split(".")
    for end in range(len(parts), 0, -1):
        name = ENV_PREFIX + ENV_DELIMITER.join(parts[:end])
        if name in names:
            return f" (set by environment variable {name})"
    return ""


def _join(base: Path, path: Path) -> Path:
    return Path(os.path.normpath(base / path))


def _resolve_paths(config: WorkerConfig, base: Path) -> WorkerConfig:
    for name in ("manifest", "passphrase_file"):
        path = getattr(config.chain, name)
        if path is not None and not path.is_absolute():
            chain = config.chain.model_copy(update={name: _join(base, path)})
            config = config.model_copy(update={"chain": chain})
    directory = config.state.directory
    if not directory.is_absolute():
        state = config.state.model_copy(update={"directory": _join(base, directory)})
        config = config.model_copy(update={"state": state})
    return config


# -------------------------------------------------------------------------------------------------
# Readable validation errors
# -------------------------------------------------------------------------------------------------


def _bound(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_REASONS = {
    "missing": lambda ctx: "is required",
    "extra_forbidden": lambda ctx: "unknown field",
    "greater_than": lambda ctx: f"must be > {_bound(ctx['gt'])}",
    "greater_than_equal": lambda ctx: f"must be >= {_bound(ctx['ge'])}",
    "less_than": lambda ctx: f"must be < {_bound(ctx['lt'])}",
    "less_than_equal": lambda ctx: f"must be <= {_bound(ctx['le'])}",
    "literal_error": lambda ctx: f"must be one of {ctx['expected']}",
    "union_tag_invalid": lambda ctx: f"must be one of {ctx['expected_tags']}",
    "union_tag_not_found": lambda ctx: "is required",
    "int_parsing": lambda ctx: "must be an integer",
    "int_type": lambda ctx: "must be an integer",
    "int_from_float": lambda ctx: "must be an integer",
    "float_parsing": lambda ctx: "must be a number",
    "float_type": lambda ctx: "must be a number",
    "bool_parsing": lambda ctx: "must be true or false",
    "string_type": lambda ctx: "must be a string",
    "list_type": lambda ctx: "must be a list",
    "dict_type": lambda ctx: "must be a mapping",
    "model_type": lambda ctx: "must be a mapping",
    "model_attributes_type": lambda ctx: "must be a mapping",
    "multiple_of": lambda ctx: f"must be a multiple of {ctx['multiple_of']}",
    "string_pattern_mismatch": lambda ctx: f"must match {ctx['pattern']}",
    "too_short": lambda ctx: f"must have at least {ctx['min_length']} item(s)",
    "string_too_short": lambda ctx: f"must have at least {ctx['min_length']} character(s)",
    "string_too_long": lambda ctx: f"must have at most {ctx['max_length']} character(s)",
}


def validation_problems(
    exc: ValidationError, tagged: Mapping[str, tuple[str, ...]] | None = None
) -> list[tuple[str, str]]:
    """(field path, reason) for each error of a pydantic `ValidationError`, e.g.
    `("source.servers[0]", "must be a URL ...")`.

    Args:
        exc: The validation error.
        tagged: Field names of discriminated unions and their tags; the tag pydantic inserts in
            the location (`source.http.url`) is dropped (`source.url`).
    """
    problems = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        tag = 2 if len(loc) > 2 and isinstance(loc[1], int) else 1  # a list item: `sources[0]`
        if tagged and len(loc) > tag and loc[tag] in tagged.get(str(loc[0]), ()):
            del loc[tag]
        kind, ctx = error["type"], error.get("ctx") or {}
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            loc.append(ctx.get("discriminator", "kind").strip("'"))
        message = error["msg"].removeprefix("Value error, ")
        if kind in _REASONS:
            message = _REASONS[kind](ctx)
        elif message[:1].isupper() and not message[1:2].isupper():
            message = message[0].lower() + message[1:]
        field = ""
        for part in loc:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        # A model validator reports `field: reason` for a field it checked against another.
        if kind == "value_error" and re.match(r"\w+: ", message):
            name, message = message.split(": ", 1)
            field = f"{field}.{name}" if field else name
        problems.append((field, message))
    return problems
