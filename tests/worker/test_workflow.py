"""worker.workflow (plugin interface, output rules) and the reference matching workflow."""

import json
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from worker.errors import (
    InputError,
    WorkerError,
    WorkflowError,
    WorkflowFailedError,
    WorkflowOutputError,
    WorkflowParamsError,
    WorkflowRefError,
)
from worker.merkle import StandardMerkleTree
from worker.workflow import (
    WorkflowOutput,
    load_workflow,
    output_root,
    output_tree,
    run_workflow,
)
from worker.workflows import matching
from worker.workflows.matching import MatchingInput, apportion

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "matching"
MATCHING = "worker.workflows.matching:run"
H = 1_750_464_000  # 2025-06-21T00:00:00Z

PLUGIN = """
from pydantic import BaseModel
from worker.errors import InputError
from worker.workflow import WorkflowOutput

class Numbers(BaseModel):
    values: list[int]

INPUT = Numbers
NOT_CALLABLE = 3

def distinct(inputs, params):
    return WorkflowOutput(["uint256"], sorted({(v,) for i in inputs for v in i.values}))

def as_given(inputs, params):
    return WorkflowOutput(["uint256"], [(v,) for i in inputs for v in i.values])

def floats(inputs, params):
    return WorkflowOutput(["uint256"], [(1.5,)])

def bad_type(inputs, params):
    return WorkflowOutput(["uint256"], [("one",)])

def bad_types(inputs, params):
    return WorkflowOutput(["float"], [(1,)])

def a_list(inputs, params):
    return [(1,)]

def crash(inputs, params):
    return 1 // 0

def picky(inputs, params):
    raise InputError("picky", ["need at least two values"])
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Writes workflow modules into a fresh import path; returns a writer (name, source) -> name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str = PLUGIN) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return write


def example_payloads() -> list[dict]:
    return [json.loads((EXAMPLES / f"{n}.json").read_text()) for n in ("generation", "consumption")]


def reading(site: str, hour: int, wh: int) -> dict:
    return {"site": site, "hour": H + 3600 * hour, "wh": wh}


# -------------------------------------------------------------------------------------------------
# Loading workflows
# -------------------------------------------------------------------------------------------------


def test_load_workflow__reference_workflow():
    workflow = load_workflow(MATCHING)

    assert workflow.function is matching.run
    assert workflow.input_model is MatchingInput
    assert workflow.params_model is matching.MatchingParams
    assert workflow.types == matching.TYPES


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("worker.workflows.matching.run", "expected 'module:function'"),
        ("worker.workflows.matching:", "expected 'module:function'"),
        ("no_such_workflows_pkg.mod:run", "module 'no_such_workflows_pkg.mod' not found"),
        ("worker.workflows.matching:nope", "has no attribute 'nope'"),
        ("worker.workflows.matching:TYPES", "is a tuple, not a callable"),
        ("json:dumps", "declares no INPUT model"),
    ],
)
def test_load_workflow__bad_reference_is_explained(ref, reason):
    with pytest.raises(WorkflowRefError, match=reason) as info:
        load_workflow(ref)

    assert info.value.workflow == ref


def test_load_workflow__module_that_fails_to_import(plugin):
    name = plugin("wf_broken", "import no_such_dependency_xyz\n")

    with pytest.raises(WorkflowRefError, match="importing 'wf_broken' failed"):
        load_workflow(f"{name}:run")


def test_load_workflow__input_must_be_a_pydantic_model(plugin):
    name = plugin("wf_bad_input", "INPUT = dict\ndef run(inputs, params): pass\n")

    with pytest.raises(WorkflowRefError, match="INPUT must be a pydantic BaseModel subclass"):
        load_workflow(f"{name}:run")


# -------------------------------------------------------------------------------------------------
# Running workflows: inputs, params and output rules
# -------------------------------------------------------------------------------------------------


def test_run_workflow__validated_inputs_in_canonical_output(plugin):
    name = plugin("wf_ok")

    output = run_workflow(f"{name}:distinct", [{"values": [3, 1]}, {"values": [1, 2]}])

    assert output == WorkflowOutput(["uint256"], [(1,), (2,), (3,)])


def test_run_workflow__bad_input_names_payload_and_field():
    payload = {"generation": [reading("solar-1", 0, -5)], "consumption": [{"site": "c"}]}

    with pytest.raises(InputError) as info:
        run_workflow(MATCHING, [{"generation": []}, payload], {})

    assert info.value.problems == [
        "input[1].generation[0].wh: must be >= 0",
        "input[1].consumption[0].hour: is required",
        "input[1].consumption[0].wh: is required",
    ]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"site": "s", "hour": H, "wh": 1.0}, "wh"),  # a float, even a whole one
        ({"site": "s", "hour": H, "wh": "100"}, "wh"),
        ({"site": "s", "hour": H, "wh": True}, "wh"),
        ({"site": "s", "hour": H + 1, "wh": 1}, "hour"),  # not the start of an hour
        ({"site": "", "hour": H, "wh": 1}, "site"),
        ({"site": "s", "hour": H, "wh": 10**16}, "wh"),
        ({"site": "s", "hour": H, "wh": 1, "unit": "kWh"}, "unit"),
    ],
)
def test_run_workflow__matching_input_is_strict(entry, field):
    with pytest.raises(InputError, match=rf"input\[0\]\.generation\[0\]\.{field}: "):
        run_workflow(MATCHING, {"generation": [entry]}, {})


@pytest.mark.parametrize("raw", ["text", 42, None, [[1, 2]]])
def test_run_workflow__payloads_of_the_wrong_shape(raw):
    with pytest.raises(InputError):
        run_workflow(MATCHING, raw, {})


def test_run_workflow__unknown_params_rejected():
    with pytest.raises(WorkflowParamsError, match="region: unknown field"):
        run_workflow(MATCHING, example_payloads(), {"region": "DE"})


@pytest.mark.parametrize(
    ("function", "error", "reason"),
    [
        ("floats", WorkflowOutputError, "record 0 field 0 is a float"),
        ("bad_type", WorkflowOutputError, "field 0 \\(uint256\\)"),
        ("bad_types", WorkflowOutputError, "invalid field type"),
        ("a_list", WorkflowOutputError, "expected a WorkflowOutput, got list"),
        ("crash", WorkflowFailedError, "ZeroDivisionError"),
        ("picky", InputError, "need at least two values"),
    ],
)
def test_run_workflow__every_failure_is_a_workflow_error(plugin, function, error, reason):
    name = plugin("wf_failures")

    with pytest.raises(error, match=reason) as info:
        run_workflow(f"{name}:{function}", {"values": [1, 2]})

    assert isinstance(info.value, WorkflowError) and isinstance(info.value, WorkerError)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([2, 1], "record 1 is out of order after record 0"),
        ([1, 1], "record 1 is a duplicate of record 0"),
        ([], "no records"),
    ],
)
def test_run_workflow__output_must_be_sorted_distinct_and_non_empty(plugin, values, reason):
    name = plugin("wf_order")

    with pytest.raises(WorkflowOutputError, match=reason):
        run_workflow(f"{name}:as_given", {"values": values})


def test_output_root__standard_tree_root_with_proofs():
    output = run_workflow(MATCHING, example_payloads(), {})
    tree = output_tree(output)

    assert output_root(output) == StandardMerkleTree.of(output.records, output.types).root
    assert tree.at(5) == output.records[5]
    assert StandardMerkleTree.verify(tree.root, tree.leaf_hash(5), tree.get_proof(5))


# -------------------------------------------------------------------------------------------------
# Matching: worked example, properties
# -------------------------------------------------------------------------------------------------


def test_matching__example_data_set_gives_the_pinned_result():
    expected = json.loads((EXAMPLES / "expected.json").read_text())

    output = run_workflow(MATCHING, example_payloads(), {})

    assert list(output.types) == expected["leaf_encoding"]
    assert len(output) == expected["records"]
    assert output_root(output) == expected["root"]
    totals = defaultdict(int)
    for consumer, generator, _, wh in output.records:
        totals["matched" if consumer and generator else "deficit" if consumer else "surplus"] += wh
    assert totals["matched"] + totals["deficit"] == expected["consumption_wh"]
    assert totals["matched"] + totals["surplus"] == expected["generation_wh"]
    assert totals["deficit"] == expected["deficit_wh"]


def test_matching__one_hour_by_hand():
    payload = {
        "generation": [reading("g1", 0, 60), reading("g2", 0, 40)],
        "consumption": [reading("c1", 0, 100), reading("c2", 0, 50)],
    }

    output = run_workflow(MATCHING, payload, {})

    # M = 100 of 150 Wh consumed: c1 gets 66.7 -> 67, c2 33.3 -> 33 (largest remainder).
    # g1's 60 Wh go 40.2 -> 40 to c1, 19.8 -> 20 to c2; g2's 40 Wh close the rest (27, 13).
    hour = H
    assert output.records == (
        ("", "g1", hour, 0),
        ("", "g2", hour, 0),
        ("c1", "", hour, 33),
        ("c1", "g1", hour, 40),
        ("c1", "g2", hour, 27),
        ("c2", "", hour, 17),
        ("c2", "g1", hour, 20),
        ("c2", "g2", hour, 13),
    )


def test_matching__duplicate_readings_count_once_conflicting_ones_fail():
    payload = {"generation": [reading("g1", 0, 60)], "consumption": [reading("c1", 0, 10)]}
    once = run_workflow(MATCHING, payload, {})

    assert run_workflow(MATCHING, [payload, payload], {}) == once
    conflicting = {"generation": [reading("g1", 0, 61)]}
    with pytest.raises(InputError, match="g1 at hour 1750464000 is both 60 and 61"):
        run_workflow(MATCHING, [payload, conflicting], {})


def test_matching__no_readings_is_an_input_error():
    with pytest.raises(InputError, match="no readings"):
        run_workflow(MATCHING, [{}, {"generation": [], "consumption": []}], {})


side = st.dictionaries(
    st.tuples(st.sampled_from("abcd"), st.integers(0, 3)),
    st.one_of(st.just(0), st.integers(1, 10), st.integers(0, 10**12)),
    max_size=12,
)


def payload_of(readings: list[tuple]) -> dict:
    """A MatchingInput payload of (kind, site, hour, wh) readings."""
    data: dict = {"generation": [], "consumption": []}
    for kind, site, hour, wh in readings:
        data[kind].append({"site": site, "hour": hour, "wh": wh})
    return data


def within_one(share: int, total: int, weight: int, weight_sum: int) -> bool:
    """|share - total * weight / weight_sum| < 1, in integers."""
    return weight_sum == 0 or abs(share * weight_sum - total * weight) < weight_sum


@settings(max_examples=150, deadline=None)
@given(generation=side, consumption=side, data=st.data())
def test_matching__conserves_energy_exactly_and_fairly(generation, consumption, data):
    readings = [("generation", f"g-{s}", H + 3600 * h, wh) for (s, h), wh in generation.items()]
    readings += [("consumption", f"c-{s}", H + 3600 * h, wh) for (s, h), wh in consumption.items()]
    assume(readings)
    shuffled = data.draw(st.permutations(readings))
    cut = data.draw(st.integers(0, len(readings)))

    output = run_workflow(MATCHING, [payload_of(shuffled[:cut]), payload_of(shuffled[cut:])], {})

    # Any order of readings and any split into payloads gives the same records.
    assert output == run_workflow(MATCHING, payload_of(sorted(readings)), {})
    # Per site-hour: matched + leftover = the reading, with exactly one leftover record each.
    seen: Counter = Counter()
    for consumer, generator, hour, wh in output.records:
        assert wh > 0 or not (consumer and generator)
        seen.update({("consumption", consumer, hour): wh} if consumer else {})
        seen.update({("generation", generator, hour): wh} if generator else {})
    assert seen == {(kind, site, hour): wh for kind, site, hour, wh in readings}
    leftovers = [r for r in output.records if not (r[0] and r[1])]
    assert len(leftovers) == len(readings)
    for hour in {r[2] for r in readings}:
        g = {site: wh for kind, site, h, wh in readings if kind == "generation" and h == hour}
        c = {site: wh for kind, site, h, wh in readings if kind == "consumption" and h == hour}
        pairs = {(ci, gi): wh for ci, gi, h, wh in output.records if ci and gi and h == hour}
        total = min(sum(g.values()), sum(c.values()))
        assert sum(pairs.values()) == total
        # Fair: each consumer gets total * c_i / C and each generator sells total * g_j / G, to
        # within 1 Wh; a pair gets m_i * n_j / total, off by less than k Wh for the k-th generator.
        m = {ci: sum(wh for (x, _), wh in pairs.items() if x == ci) for ci in c}
        n = {gi: sum(wh for (_, x), wh in pairs.items() if x == gi) for gi in g}
        assert all(within_one(m[ci], total, c[ci], sum(c.values())) for ci in c)
        assert all(within_one(n[gi], total, g[gi], sum(g.values())) for gi in g)
        for k, gi in enumerate(sorted(g), start=1):
            for ci in c:
                assert abs(pairs.get((ci, gi), 0) * total - m[ci] * n[gi]) <= k * total


@given(
    total=st.integers(0, 10**15),
    weights=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 10**15), min_size=1),
)
def test_apportion__exact_sum_capped_and_within_one_of_the_quota(total, weights):
    weight_sum = sum(weights.values())
    if weight_sum == 0:
        total = 0
    total = min(total, weight_sum)

    shares = apportion(total, weights.items())

    assert sum(shares.values()) == total
    assert shares.keys() == weights.keys()
    for site, weight in weights.items():
        assert shares[site] <= weight
        if weight_sum:
            assert abs(shares[site] * weight_sum - total * weight) < weight_sum


def test_apportion__ties_go_to_the_lower_id():
    assert apportion(1, [("b", 1), ("a", 1), ("c", 1)]) == {"a": 1, "b": 0, "c": 0}
    assert apportion(2, [("b", 1), ("a", 1), ("c", 1)]) == {"a": 1, "b": 1, "c": 0}
