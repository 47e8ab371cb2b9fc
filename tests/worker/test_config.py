"""worker.config: the YAML settings model, environment overrides and errors that name the field."""

import copy
from pathlib import Path

import pytest
import yaml

from worker.config import (
    EventTriggerConfig,
    HttpSourceConfig,
    IntervalTriggerConfig,
    NatsSourceConfig,
    WorkerConfig,
    load_config,
    parse_config,
)
from worker.errors import ConfigError, WorkerError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "worker.yaml"

MINIMAL = {
    "chain": {"network": "ethereum:local:foundry", "account": "worker-1"},
    "source": {"kind": "http", "url": "http://127.0.0.1:8080/readings"},
    "trigger": {"kind": "interval"},
    "workflow": {"ref": "worker.workflows.matching:run", "name": "matching-24-7"},
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No WORKER_ variable of the surrounding shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("WORKER_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, data, name: str = "worker.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def with_change(path: str, value) -> dict:
    """MINIMAL with the field at dotted `path` set to `value` (or removed if value is ...)."""
    data = copy.deepcopy(MINIMAL)
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return data


def test_load_config__example_file_loads():
    config = load_config(EXAMPLE)

    assert isinstance(config, WorkerConfig)
    assert config.chain.network == "energyweb:volta:node"
    assert config.chain.confirmations == 2
    assert isinstance(config.source, HttpSourceConfig)
    assert isinstance(config.trigger, IntervalTriggerConfig)
    assert (config.trigger.period, config.trigger.lag) == (3600, 300)
    assert config.workflow.ref == "worker.workflows.matching:run"
    assert config.rewards.register_chunk == 64
    assert config.state.directory == EXAMPLE.parents[1] / "state"
    assert config.chain.manifest == EXAMPLE.parents[1] / "deployments" / "energyweb-volta.json"


def test_load_config__defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))

    assert config.chain.confirmations == 2
    assert config.chain.gas_margin == 1.2
    assert config.chain.passphrase_env == "WORKER_PASSPHRASE"
    assert config.chain.manifest is None
    assert config.state.directory == tmp_path / "state"
    assert (config.metrics.host, config.metrics.port) == ("127.0.0.1", 9464)
    assert (config.logging.format, config.logging.level) == ("human", "INFO")
    assert config.source.name == "http"
    assert (config.source.retries, config.source.timeout) == (3, 10.0)
    assert (config.workflow.min_inputs, config.workflow.settle) == (1, 0)
    assert config.rewards.register_chunk == 64


def test_load_config__nats_source_and_event_trigger(tmp_path):
    data = {
        **MINIMAL,
        "source": {
            "kind": "nats",
            "servers": ["nats://127.0.0.1:4222", "tls://nats.example.org:4222"],
            "stream": "METERS",
            "subject": "meters.>",
            "durable": "worker-1",
        },
        "trigger": {"kind": "event", "subject": "settlement.requests"},
    }
    config = load_config(write(tmp_path, data))

    assert isinstance(config.source, NatsSourceConfig)
    assert config.source.servers[1] == "tls://nats.example.org:4222"
    assert isinstance(config.trigger, EventTriggerConfig)
    assert config.trigger.key_field == "key"


def test_load_config__environment_overrides_file(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_CHAIN__NETWORK", "energyweb:mainnet:node")
    monkeypatch.setenv("WORKER_CHAIN__CONFIRMATIONS", "12")
    monkeypatch.setenv("WORKER_SOURCE__POLL_INTERVAL", "15")
    monkeypatch.setenv("WORKER_SOURCE__HEADERS__AUTHORIZATION", "Bearer token")
    monkeypatch.setenv("WORKER_METRICS__PORT", "0")
    monkeypatch.setenv("WORKER_WORKFLOW__PARAMS", '{"region": "DE"}')

    config = load_config(write(tmp_path, with_change("chain.confirmations", 3)))

    assert config.chain.network == "energyweb:mainnet:node"
    assert config.chain.confirmations == 12
    assert config.source.poll_interval == 15.0
    assert config.source.headers == {"authorization": "Bearer token"}
    assert config.metrics.port == 0
    assert config.workflow.params == {"region": "DE"}


def test_load_config__secrets_stay_out_of_reprs_and_dumps(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("WORKER_SOURCE__HEADERS__AUTHORIZATION", "Bearer s3cret")

    config = load_config(write(tmp_path, MINIMAL))

    assert config.chain.read_passphrase() == "correct horse battery staple"
    for text in (repr(config), str(config.redacted()), config.model_dump_json()):
        assert "correct horse" not in text
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.redacted())
    assert config.redacted()["source"]["headers"] == {"authorization": "***"}


def test_read_passphrase__unset_variable_is_none(tmp_path):
    assert load_config(write(tmp_path, MINIMAL)).chain.read_passphrase() is None


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("source.poll_interval", 0, "source.poll_interval", "must be > 0"),
        ("source.timeout", -1, "source.timeout", "must be > 0"),
        ("source.retries", -1, "source.retries", "must be >= 0"),
        ("source.url", "ftp://example.org", "source.url", "scheme http or https"),
        ("source.backoff_max", 0.5, "source.backoff_max", "must be >= backoff"),
        ("source.kind", "ftp", "source.kind", "must be one of 'http', 'nats'"),
        ("source.kind", ..., "source.kind", "is required"),
        ("source.colour", "blue", "source.colour", "unknown field"),
        ("chain.network", "volta", "chain.network", "ecosystem:network[:provider]"),
        ("chain.account", ..., "chain.account", "is required"),
        ("chain.confirmations", -1, "chain.confirmations", "must be >= 0"),
        ("chain.gas_margin", 0.9, "chain.gas_margin", "must be >= 1"),
        ("chain.passphrase_env", "hunter2 hunter2", "chain.passphrase_env", "not the passphrase"),
        ("chain.passphrase", "hunter2", "chain.passphrase", "unknown field"),
        ("trigger.period", 0, "trigger.period", "must be > 0"),
        ("trigger.offset", 3600, "trigger.offset", "must be < period"),
        ("trigger.lag", -5, "trigger.lag", "must be >= 0"),
        ("workflow.ref", "matching.run", "workflow.ref", "must be 'module:function'"),
        ("workflow.name", "", "workflow.name", "at least 1 character"),
        ("workflow.name", " padded", "workflow.name", "without leading or trailing spaces"),
        ("workflow.min_inputs", 0, "workflow.min_inputs", "must be >= 1"),
        ("workflow.settle", -1, "workflow.settle", "must be >= 0"),
        ("rewards.register_chunk", 0, "rewards.register_chunk", "must be >= 1"),
        ("rewards.register_chunk", 401, "rewards.register_chunk", "must be <= 400"),
        ("metrics.port", 70000, "metrics.port", "must be <= 65535"),
        ("metrics.port", "http", "metrics.port", "must be an integer"),
        ("logging.format", "xml", "logging.format", "must be one of 'json' or 'human'"),
        ("logging.level", "loud", "logging.level", "must be one of"),
        ("workflow", ..., "workflow", "is required"),
        ("unknown_section", {}, "unknown_section", "unknown field"),
    ],
)
def test_load_config__invalid_field_is_named(tmp_path, path, value, field, reason):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, with_change(path, value)))

    assert info.value.field == field
    assert reason in info.value.reason
    assert f"{field}: " in str(info.value)
    assert str(tmp_path / "worker.yaml") in str(info.value)


def test_load_config__nats_fields_are_checked():
    source = {"kind": "nats", "servers": ["nats://ok:4222", "http://no"], "stream": "A.B"}
    source |= {"subject": "a..b", "durable": "worker 1"}

    with pytest.raises(ConfigError) as info:
        parse_config({**MINIMAL, "source": source})

    fields = [field for field, _ in info.value.problems]
    assert fields == ["source.servers[1]", "source.stream", "source.subject", "source.durable"]


def test_load_config__every_problem_is_reported(tmp_path):
    data = with_change("source.poll_interval", 0)
    data["metrics"] = {"port": -1}

    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, data))

    assert info.value.problems == [
        ("source.poll_interval", "must be > 0"),
        ("metrics.port", "must be >= 0"),
    ]


def test_load_config__bad_environment_override_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_SOURCE__POLL_INTERVAL", "-3")

    with pytest.raises(
        ConfigError, match="set by environment variable WORKER_SOURCE__POLL_INTERVAL"
    ):
        load_config(write(tmp_path, MINIMAL))


def test_load_config__environment_override_of_unknown_field_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_CHAIN__CONFIRMATION", "5")  # typo

    with pytest.raises(ConfigError, match=r"chain\.confirmation: unknown field"):
        load_config(write(tmp_path, MINIMAL))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("chain: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("chain: {network: a:b}\nchain: {network: c:d}\n", "duplicate key 'chain'"),
    ],
)
def test_load_config__unparsable_file_fails(tmp_path, content, reason):
    with pytest.raises(ConfigError, match=reason):
        load_config(write(tmp_path, content))


def test_load_config__missing_file_fails(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file") as info:
        load_config(tmp_path / "absent.yaml")

    assert isinstance(info.value, WorkerError)


def test_load_config__empty_file_names_required_sections(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ""))

    fields = {field for field, _ in info.value.problems}
    assert fields == {"chain", "source", "trigger", "workflow"}


def test_config_is_immutable(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))

    with pytest.raises(ValueError):
        config.chain.confirmations = 0
