"""worker.descriptor: the round descriptor every worker derives, and its id as the contract's."""

import textwrap

import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from worker.descriptor import (
    ZERO,
    Descriptor,
    RoundNaming,
    canonical_params,
    encoding_id,
    encoding_text,
    schedule_id,
)
from worker.errors import LeafEncodingError, TriggerError, WorkflowOutputError, WorkflowRefError
from worker.workflow import load_workflow, run_workflow
from worker.workflows import matching

NAME = "matching-24-7"
NAMING = RoundNaming.of(NAME, matching.MatchingParams(), matching.TYPES)
TUPLE = "(bytes32,uint64,uint64,bytes32,bytes32)"


class Params(BaseModel):
    unit: str = "Wh"
    rounding: int = 1


def test_naming__pinned_ids_of_the_reference_workflow():
    # Pinned: a change of any formula would split the network, so it must not go unnoticed.
    assert NAMING.schedule == keccak(encode(["string", "string"], [NAME, "{}"]))
    assert NAMING.encoding == keccak(text="(string,string,uint64,uint256)")
    assert NAMING.window(0, 3600).voting_id.hex() == (
        "945c98673f3461fb5aab40fcc8c927f25e7e9c736635c762bc3ff6d84b1fdb48"
    )
    assert NAMING.event("settle-2025-06-21").voting_id.hex() == (
        "6212abb8fe3d3dfb138ee6d14133b1f56687180c5652b8b2c9dcd41c733d033a"
    )


@pytest.mark.smoke
@pytest.mark.parametrize("kind", ["window", "event"])
def test_voting_id__equals_contract_descriptor_id(create_voting, kind):
    voting = create_voting("2/3").voting
    d = NAMING.window(1_750_464_000, 1_750_467_600) if kind == "window" else NAMING.event("k-1")
    assert d.voting_id == bytes(voting.descriptorId(tuple(d)))
    assert d.voting_id == keccak(encode([TUPLE], [tuple(d)]))


def test_window_and_event__fields_as_the_contract_checks_them():
    w, e = NAMING.window(10, 20), NAMING.event("settle-1")
    assert w == Descriptor(NAMING.schedule, 10, 20, ZERO, NAMING.encoding) and w.is_window
    assert e == Descriptor(NAMING.schedule, 0, 0, keccak(text="settle-1"), NAMING.encoding)
    assert not e.is_window
    assert NAMING.of_round((10, 20), None) == w
    assert NAMING.of_round((10, 20), "settle-1") == e  # an event's data window stays local
    assert NAMING.owns(tuple(w)) and NAMING.owns(e)
    other = RoundNaming.of("other", {}, matching.TYPES)
    assert not other.owns(w) and other.window(10, 20).voting_id != w.voting_id


@pytest.mark.parametrize(
    ("call", "args"),
    [("window", (20, 20)), ("window", (-1, 5)), ("window", (0, 2**64)), ("window", (0, True)),
     ("event", ("",)), ("event", (7,)), ("of_round", (None, None)),
     ("of_round", ((None, None), None))],
)  # fmt: skip
def test_naming__invalid_round_rejected(call, args):
    with pytest.raises(TriggerError):
        getattr(NAMING, call)(*args)


def test_schedule__canonical_params_defaults_included_and_order_free():
    assert canonical_params({"b": 1, "a": ["x", 2]}) == '{"a":["x",2],"b":1}'
    assert canonical_params(Params()) == '{"rounding":1,"unit":"Wh"}'
    assert schedule_id(NAME, Params()) == schedule_id(NAME, {"unit": "Wh", "rounding": 1})
    assert schedule_id(NAME, {"a": 1, "b": 2}) == schedule_id(NAME, {"b": 2, "a": 1})
    assert schedule_id(NAME, Params(rounding=2)) != schedule_id(NAME, Params())
    assert schedule_id(NAME, None) == schedule_id(NAME, {})
    with pytest.raises(TriggerError, match="not canonical JSON"):
        canonical_params({"x": float("nan")})
    with pytest.raises(TriggerError, match="non-empty string"):
        schedule_id("", {})


def test_encoding__normalised_type_string():
    assert encoding_text(["string", "uint", "int"]) == "(string,uint256,int256)"
    assert encoding_id(["uint"]) == encoding_id(["uint256"]) == keccak(text="(uint256)")
    assert encoding_id(["uint64"]) != encoding_id(["uint256"])
    with pytest.raises(LeafEncodingError):
        encoding_id(["float"])


@given(
    a=st.tuples(st.text(min_size=1, max_size=12), st.integers(0, 2**40), st.integers(1, 2**20)),
    b=st.tuples(st.text(min_size=1, max_size=12), st.integers(0, 2**40), st.integers(1, 2**20)),
)
def test_window_id__stable_and_distinct(a, b):
    def vid(name, start, length):
        return RoundNaming.of(name, {}, ["uint64"]).window(start, start + length).voting_id

    assert vid(*a) == vid(*a)
    assert (vid(*a) == vid(*b)) == (a == b)


@given(key=st.text(min_size=1, max_size=40))
def test_event_id__never_a_window_id(key):
    assert NAMING.event(key).voting_id != NAMING.window(0, 3600).voting_id


# -------------------------------------------------------------------------------------------------
# The declared leaf encoding of a workflow (`TYPES`): what the descriptor's `encoding` names
# -------------------------------------------------------------------------------------------------

PLUGIN = """
from pydantic import BaseModel
from worker.workflow import WorkflowOutput

class Numbers(BaseModel):
    values: list[int]

INPUT = Numbers

def distinct(inputs, params):
    return WorkflowOutput(["uint256"], sorted({(v,) for i in inputs for v in i.values}))
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Writes workflow modules into a fresh import path; returns a writer (name, source) -> name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str = PLUGIN) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return write


def test_load_workflow__declared_types_checked_and_kept(plugin):
    assert load_workflow(f"{plugin('wf_untyped')}:distinct").types is None
    typed = plugin("wf_typed", PLUGIN + "\nTYPES = ('uint',)\n")
    assert load_workflow(f"{typed}:distinct").types == ("uint",)
    bad = plugin("wf_bad_types", PLUGIN + "\nTYPES = ('float',)\n")
    with pytest.raises(WorkflowRefError, match="TYPES must be the records' leaf ABI types"):
        load_workflow(f"{bad}:distinct")


def test_node__workflow_without_types_refused_at_start(plugin):
    from worker.config import parse_config
    from worker.node import Node

    ref = f"{plugin('wf_untyped_node')}:distinct"
    config = parse_config({
        "chain": {"network": "ethereum:local:foundry", "account": "TEST::1"},
        "source": {"kind": "http", "url": "http://127.0.0.1:9/readings"},
        "trigger": {"kind": "interval"},
        "workflow": {"ref": ref, "name": "untyped"},
    })  # fmt: skip
    with pytest.raises(WorkflowRefError, match="declares no TYPES"):
        Node(config, None, None, load_workflow(ref))


def test_run_workflow__records_of_other_types_than_declared_refused(plugin):
    name = plugin("wf_declared", PLUGIN + "\nTYPES = ('uint64',)\n")
    with pytest.raises(WorkflowOutputError, match=r"records of types \['uint256'\], but the "
                       r"workflow declares TYPES \['uint64'\]"):  # fmt: skip
        run_workflow(f"{name}:distinct", [{"values": [1]}])
    plugin("wf_declared_alias", PLUGIN + "\nTYPES = ('uint',)\n")  # uint is uint256
    assert len(run_workflow("wf_declared_alias:distinct", [{"values": [1]}])) == 1
