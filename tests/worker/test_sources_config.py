"""Several sources per worker: the `sources` list (and one `source`), what each delivers, which
ones a window waits for, and a payload refused for holding what its source does not deliver."""

import pytest

from worker.config import parse_config
from worker.errors import ConfigError, SourceInputsError
from worker.intake import Intake
from worker.sources.build import data_sources, required_sources
from worker.state import StateStore
from worker.workflow import load_workflow

BASE = {
    "chain": {"network": "ethereum:local:foundry", "account": "worker-1"},
    "trigger": {"kind": "interval"},
    "workflow": {"ref": "worker.workflows.cfe:run", "name": "cfe", "params": {"zones": ["NL"]}},
}
REGISTRY = {"kind": "http", "name": "registry", "delivers": ["production"],
            "window_url": "http://127.0.0.1:8700/production?start={start}&end={end}"}  # fmt: skip
METERS = {"kind": "nats", "name": "meters", "servers": ["nats://127.0.0.1:4222"],
          "stream": "GRID", "subject": "grid.meters", "durable": "w1", "delivers": ["consumption"],
          "ack_wait": 5}  # fmt: skip
CFE = load_workflow("worker.workflows.cfe:run")
H = 1_750_464_000


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.upper().startswith("WORKER_"):
            monkeypatch.delenv(name)


def problems(data) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return dict(info.value.problems)


def test_sources__a_list_of_both_kinds_each_named_with_its_own_settings():
    config = parse_config(BASE | {"sources": [REGISTRY, METERS | {"retry_delay": 3}]})

    registry, meters = config.all_sources
    assert (registry.name, registry.url, registry.delivers) == ("registry", None, ["production"])
    assert (meters.name, meters.ack_wait, meters.retry_delay) == ("meters", 5, 3)
    assert required_sources(config.all_sources, CFE) == {"registry", "meters"}


def test_source__a_single_source_still_works_and_is_required():
    one = {"kind": "http", "url": "http://127.0.0.1:8080/readings"}
    config = parse_config(BASE | {"source": one})

    assert [s.name for s in config.all_sources] == ["http"]
    assert required_sources(config.all_sources, CFE) == {"http"}  # delivers both inputs


@pytest.mark.parametrize(
    ("sources", "field", "reason"),
    [
        ({"source": REGISTRY, "sources": [METERS]}, "sources", "`source` or a list as `sources`"),
        ({}, "sources", "give one source as `source`"),
        ({"sources": [REGISTRY, METERS | {"name": "registry"}]}, "sources", "named 'registry'"),
        ({"sources": [METERS, REGISTRY | {"window_url": "http://h/p?s={start}"}]},
         "sources[1].window_url", "must hold {start} and {end}"),
        ({"sources": [METERS, REGISTRY | {"window_url": "http://h/{day}"}]},
         "sources[1].window_url", "only {start} and {end}"),
        ({"sources": [{"kind": "http", "name": "x"}]}, "sources[0].url", "is required"),
        ({"sources": [METERS | {"name": "bad name"}]}, "sources[0].name", "letters, digits"),
        ({"sources": [METERS | {"ack_wait": 0}]}, "sources[0].ack_wait", "must be > 0"),
        ({"sources": [METERS | {"delivers": []}]}, "sources[0].delivers", "at least 1 item"),
    ],
)  # fmt: skip
def test_sources__bad_settings_name_the_field(sources, field, reason):
    found = problems(BASE | sources)

    assert field in found, found
    assert reason in found[field]


@pytest.mark.parametrize(
    ("sources", "reason"),
    [
        ([REGISTRY], "no source delivers 'consumption'"),
        ([REGISTRY, METERS | {"delivers": ["meters"]}], "delivers 'meters', not one of"),
    ],
)
def test_required_sources__inputs_not_covered_are_refused(sources, reason):
    config = parse_config(BASE | {"sources": sources})

    with pytest.raises(SourceInputsError, match=reason) as info:
        required_sources(config.all_sources, CFE)
    assert info.value.field == "sources"


def test_required_sources__a_workflow_without_inputs_waits_for_every_source():
    matching = load_workflow("worker.workflows.matching:run")
    nats = {k: v for k, v in METERS.items() if k != "delivers"}
    config = parse_config(BASE | {"sources": [nats, nats | {"name": "backup", "durable": "b"}]})

    assert required_sources(config.all_sources, matching) == {"meters", "backup"}
    with pytest.raises(SourceInputsError, match="declares no INPUTS"):
        required_sources(parse_config(BASE | {"sources": [METERS]}).all_sources, matching)


def test_validator__a_payload_holding_what_its_source_does_not_deliver_is_refused(tmp_path):
    config = parse_config(BASE | {"sources": [REGISTRY, METERS]})
    intake = Intake(CFE, StateStore(tmp_path))
    registry, meters = data_sources(config.all_sources, intake, intake.store)
    reading = {"zone": "NL", "start": H, "end": H + 3600, "wh": 5}
    production = {"production": [reading | {"device": "d", "source": "wind"}]}
    consumption = {"consumption": [reading | {"consumer": "c"}]}

    registry.validate(production)
    meters.validate(consumption)
    with pytest.raises(ValueError, match="'registry' delivers production, but the payload holds"):
        registry.validate(production | consumption)
    with pytest.raises(ValueError, match="holds production"):
        meters.validate(production)


def test_window_url__asks_for_the_waiting_windows_without_its_data_newest_first(tmp_path):
    config = parse_config(BASE | {"sources": [REGISTRY, METERS]})
    store = StateStore(tmp_path)
    registry, _ = data_sources(config.all_sources, Intake(CFE, store), store)
    for k in range(3):  # three windows missed during a downtime, tracked by the trigger
        store.put_round(bytes([k + 1]) * 32, 1, None, window=(H + 3600 * k, H + 3600 * (k + 1)),
                        status="skipped")  # fmt: skip
    store.put_round(b"\x09" * 32, 1, None, window=(H - 3600, H), status="closed")  # given up
    store.put_input("registry", "k1", H + 3600, H + 7200, {"production": []})
    store.put_input("meters", "k2", H, H + 3600, {"consumption": []})

    assert registry.windows() == [(H + 7200, H + 10800), (H, H + 3600)]
    assert registry.window_url.format(start=H, end=H + 3600).endswith(f"?start={H}&end={H + 3600}")
