"""Hostile data from a source: every bad byte string is refused with `SourcePayloadError` (never
another exception), contradictions are refused at arrival (the first copy is kept), and the worker's
intake stores only what a round can use."""

import asyncio
import contextlib
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.errors import SourceConflictError, SourcePayloadError
from worker.intake import Intake
from worker.sources import SourceBatch, decode_payload
from worker.sources.base import MAX_DEPTH, MAX_INT_DIGITS, MAX_STRING
from worker.state import StateStore
from worker.workflow import load_workflow, run_workflow
from worker.workflows.matching import MatchingInput

MATCHING = load_workflow("worker.workflows.matching:run")
HOUR0 = 1_750_464_000


def reading(site: str, hour: int, wh: int) -> dict:
    return {"site": site, "hour": hour, "wh": wh}


def validate(payload) -> None:
    Intake(MATCHING, None).validate(payload)


HOSTILE = {
    "huge int": (
        b'{"wh": ' + b"9" * 5000 + b"}",
        f"an integer of 5000 digits (at most {MAX_INT_DIGITS})",
    ),
    "long negative int": (b'{"wh": -' + b"9" * 81 + b"}", "an integer of 81 digits"),
    "long float": (b'{"wh": 1' + b"0" * 90 + b".5}", "a number of 93 characters"),
    "float overflow": (b'{"wh": 1e999}', "a number out of range"),
    "NaN": (b'{"wh": NaN}', "NaN is not a JSON number"),
    "Infinity": (b'{"wh": Infinity}', "Infinity is not a JSON number"),
    "-Infinity": (b'{"wh": -Infinity}', "-Infinity is not a JSON number"),
    "deep": (b"[" * 40 + b"]" * 40, f"nested deeper than {MAX_DEPTH} levels"),
    "very deep": (b"[" * 100_000 + b"]" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
    "deep unclosed": (b"[{" * 50_000, f"nested deeper than {MAX_DEPTH} levels"),
    "invalid UTF-8": (b'{"site": "\xff\xfe"}', "not JSON"),
    "truncated UTF-8": (b"\xc3\x28", "not JSON"),
    "lone surrogate": (b'{"site": "\\ud800"}', "a lone surrogate"),
    "huge string": (b'{"s": "' + b"x" * (MAX_STRING + 1) + b'"}', f"a string of {MAX_STRING + 1}"),
    "huge key": (b'{"' + b"k" * (MAX_STRING + 1) + b'": 1}', "a string of"),
    "repeated key": (b'{"a": 1, "a": 2}', "object key 'a' given twice"),
    "empty": (b"", "not JSON"),
    "binary": (b"\x00\x01", "not JSON"),
}


@pytest.mark.parametrize(("body", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_decode_payload__hostile_bytes_are_refused(body, reason):
    with pytest.raises(SourcePayloadError, match=re.escape(reason)):
        decode_payload("meters", body)


def test_decode_payload__body_over_the_limit_is_refused():
    with pytest.raises(SourcePayloadError, match="11 bytes, more than 10"):
        decode_payload("meters", b'{"a": "bc"}', max_bytes=10)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"generation": [reading("g1", HOUR0, "5")]}, "wh"),
        ({"generation": [reading("g1", HOUR0, 1.5)]}, "wh"),
        ({"generation": [reading("g1", HOUR0, True)]}, "wh"),
        ({"generation": [reading("g1", HOUR0 + 1, 5)]}, "multiple of 3600"),
        ({"generation": [reading("g1", HOUR0, -1)]}, "wh"),
        ({"generation": [reading("g1", HOUR0, 10**16)]}, "wh"),
        ({"generation": {"site": "g1"}}, "generation"),
        ({"generation": [reading("g 1", HOUR0, 5)]}, "site"),
        ({"generation": [reading("g1", HOUR0, 5)], "extra": 1}, "extra"),
        ({"generation": []}, "names no data window"),
        (
            {"generation": [reading("g1", HOUR0, 5), reading("g1", HOUR0, 6)]},
            f"generation: g1 at hour {HOUR0} is both 5 and 6",
        ),
    ],
)
def test_decode_payload__workflow_refuses_wrong_types_and_conflicts(payload, reason):
    with pytest.raises(SourcePayloadError, match=re.escape(reason)):
        decode_payload("meters", json.dumps(payload).encode(), validate=validate)


def test_decode_payload__a_repeated_identical_reading_is_accepted():
    twice = {"consumption": [reading("c1", HOUR0, 7), reading("c1", HOUR0, 7)]}
    assert decode_payload("meters", json.dumps(twice).encode(), validate=validate) == twice


def test_decode_payload__any_exception_of_a_validator_refuses_the_payload():
    def broken(payload):
        raise RecursionError("too deep for the check")

    with pytest.raises(SourcePayloadError, match="validation failed: RecursionError"):
        decode_payload("meters", b"{}", validate=broken)


# -------------------------------------------------------------------------------------------------
# Fuzz: arbitrary JSON and arbitrary bytes
# -------------------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**90), max_value=10**90)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
sites = st.sampled_from(["g1", "g2", "c1", "c 1", "", "x" * 70])
hours = st.sampled_from([HOUR0, HOUR0 + 3600, HOUR0 + 1, -3600, 1 << 63])
amounts = st.one_of(st.integers(min_value=-5, max_value=10**16), st.sampled_from(["5", 2.0, None]))
readings = st.fixed_dictionaries({"site": sites, "hour": hours, "wh": amounts})
near_valid = st.fixed_dictionaries(
    {}, optional={"generation": st.lists(readings, max_size=4),
                  "consumption": st.lists(readings, max_size=4)}
)  # fmt: skip


def _check_accepted(payload) -> None:
    """What an accepted payload guarantees: a valid input whose round can be computed."""
    parsed = MatchingInput.model_validate(payload)
    facts = list(MATCHING.facts_function(parsed))
    assert len(dict(facts)) == len(set(facts))  # no key with two values
    assert run_workflow(MATCHING, [payload], {}).records


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(documents, near_valid))
def test_fuzz__arbitrary_json_is_accepted_valid_or_refused(document):
    body = json.dumps(document).encode()
    try:
        payload = decode_payload("fuzz", body, shape="object", validate=validate)
    except SourcePayloadError:
        return
    _check_accepted(payload)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz__arbitrary_bytes_never_raise_anything_else(body):
    with contextlib.suppress(SourcePayloadError):
        decode_payload("fuzz", body, validate=validate)


@settings(max_examples=300, deadline=None)
@given(near_valid)
def test_fuzz__input_model_accepts_only_consistent_readings(document):
    try:
        parsed = MatchingInput.model_validate(document)
    except ValueError:  # NOTE: pydantic's ValidationError
        return
    facts = list(MATCHING.facts_function(parsed))
    assert len(dict(facts)) == len(set(facts))


# -------------------------------------------------------------------------------------------------
# The intake: keep the first, refuse the later
# -------------------------------------------------------------------------------------------------


def batch(key: str, payload: dict) -> SourceBatch:
    return SourceBatch(source="grid", key=key, payload=payload, received_at=0.0)


def test_intake__a_later_conflicting_payload_is_refused_and_the_first_kept(tmp_path):
    first = {"generation": [reading("g1", HOUR0, 100)], "consumption": [reading("c1", HOUR0, 50)]}
    later = {"generation": [reading("g1", HOUR0, 999), reading("g2", HOUR0, 5)]}
    same_again = {"generation": [reading("g1", HOUR0, 100)]}
    other_hour = {"generation": [reading("g1", HOUR0 + 3600, 999)]}
    with StateStore(tmp_path) as store:
        intake = Intake(MATCHING, store)
        asyncio.run(intake.receive(batch("m1", first)))
        with pytest.raises(
            SourceConflictError, match=rf"g1 at hour {HOUR0} is 999, 100 was stored first"
        ):
            asyncio.run(intake.receive(batch("m2", later)))
        asyncio.run(intake.receive(batch("m3", same_again)))
        asyncio.run(intake.receive(batch("m4", other_hour)))
        stored = store.inputs_for_window(HOUR0, HOUR0 + 3600)
        assert [i["key"] for i in stored] == ["m1", "m3"]
        # The window still computes, from the first copy.
        output = run_workflow(MATCHING, [i["payload"] for i in stored], {})
        assert ("c1", "g1", HOUR0, 50) in output.records


def test_intake__conflict_is_a_payload_error_so_sources_never_deliver_it_again():
    assert issubclass(SourceConflictError, SourcePayloadError)
