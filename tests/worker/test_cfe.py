"""worker.workflows.cfe: worked examples, tiers and zones, certificates, refused input."""

import json
from pathlib import Path

import pytest

from tests.worker.cfe_data import CFE, H, by_kind, consumption, production
from worker.encoding import encode_record
from worker.errors import InputError, WorkflowParamsError
from worker.merkle import StandardMerkleTree
from worker.state import StateStore
from worker.workflow import load_workflow, output_root, output_tree, run_workflow
from worker.workflows import cfe
from worker.workflows.cfe.allocate import apportion
from worker.workflows.cfe.errors import (
    CertificateBundleError,
    ConflictingDuplicateError,
    IntervalTooLongError,
    NoReadingsError,
    OverlappingIntervalsError,
    UnknownZoneError,
)
from worker.workflows.cfe.records import (
    ALLOCATION,
    EXCESS,
    LEFTOVER,
    ROUND_SCORE,
    SCORE,
    id_bytes,
    pack_info,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cfe"
ZONES = {"zones": ["A", "B", "C"]}


def test_load_workflow__cfe_declares_its_models_and_window():
    workflow = load_workflow(CFE)

    assert workflow.input_model is cfe.CfeInput and workflow.params_model is cfe.CfeParams
    payload = {"consumption": [consumption("c1", 0, 5), consumption("c1", 2, 5)]}
    assert workflow.window_of(payload) == (H, H + 3 * 3600)


def test_cfe__one_interval_by_hand():
    payload = {
        "production": [production("g1", 0, 60, certificates=(101, 160)), production("g2", 0, 40)],
        "consumption": [consumption("c1", 0, 100), consumption("c2", 0, 50)],
    }

    kinds = by_kind(run_workflow(CFE, payload, ZONES).records)

    # M = 100 of 150 Wh consumed: c1 gets 66.7 -> 67, c2 33.3 -> 33 (largest remainder); g1 and
    # g2 sell all. The walk: c1 takes g1's 60 (certificates 101..160) and 7 of g2, c2 the rest.
    assert kinds[ALLOCATION] == [("c1", "g1", H, 1, 101, 60), ("c1", "g2", H, 1, 0, 7),
                                 ("c2", "g2", H, 1, 0, 33)]  # fmt: skip
    assert kinds[LEFTOVER] == [("c1", "", H, 0, 0, 33), ("c2", "", H, 0, 0, 17)]
    assert kinds[EXCESS] == [("", "g1", H, 0, 0, 0), ("", "g2", H, 0, 0, 0)]
    assert kinds[SCORE] == [("c1", "", H, 0, 0, 670_000), ("c2", "", H, 0, 0, 660_000)]


def test_cfe__leaf_is_four_words_with_ids_as_bytes32():
    output = run_workflow(CFE, {"consumption": [consumption("c1", 0, 0)]}, ZONES)

    assert list(output.types) == ["bytes32", "bytes32", "uint256", "uint256"]
    leftover = (id_bytes("c1"), bytes(32), pack_info(H, H + 3600, LEFTOVER), 0)
    score = (id_bytes("c1"), bytes(32), pack_info(H, H + 3600, SCORE), 1_000_000)
    whole = (id_bytes("c1"), bytes(32), pack_info(H, H + 3600, ROUND_SCORE), 1_000_000)
    assert output.records == (leftover, score, whole)  # nothing consumed: 10^6, as documented
    assert encode_record(output.types, leftover) == b"c1" + bytes(62) + (
        (H << 192 | (H + 3600) << 128 | 2 << 120).to_bytes(32, "big") + bytes(32)
    )


def test_cfe__tiers_fill_in_order_group_before_zone():
    params = ZONES | {"tiers": [
        {"name": "contracted", "scope": "group",
         "groups": {"ppa": {"devices": ["wind"], "consumers": ["factory"]}}},
        {"name": "zone", "scope": "zone"},
    ]}  # fmt: skip
    payload = {
        "production": [production("wind", 0, 100), production("solar", 0, 100)],
        "consumption": [consumption("factory", 0, 150), consumption("office", 0, 50)],
    }

    kinds = by_kind(run_workflow(CFE, payload, params).records)

    # Tier 1 gives the factory all of its contracted wind; tier 2 splits the solar 50/50 between
    # the factory's remaining 50 Wh and the office's 50 Wh.
    assert kinds[ALLOCATION] == [
        ("factory", "solar", H, 2, 0, 50),
        ("factory", "wind", H, 1, 0, 100),
        ("office", "solar", H, 2, 0, 50),
    ]


def test_cfe__no_zone_crossing_unless_an_area_allows_it():
    payload = {"production": [production("fr-nuclear", 0, 80, zone="B")],
               "consumption": [consumption("de-office", 0, 100, zone="A")]}  # fmt: skip
    tiers = {"tiers": [{"name": "zone", "scope": "zone"}, {"name": "cwe", "scope": "area"}]}

    alone = by_kind(run_workflow(CFE, payload, ZONES | tiers).records)
    linked = by_kind(
        run_workflow(CFE, payload, ZONES | tiers | {"areas": {"cwe": ["A", "B"]}}).records
    )

    assert alone[ALLOCATION] == [] and alone[EXCESS] == [("", "fr-nuclear", H, 0, 0, 80)]
    assert linked[ALLOCATION] == [("de-office", "fr-nuclear", H, 2, 0, 80)]


def test_cfe__group_tier_stays_within_deliverable_zones():
    group = {"p": {"devices": ["g"], "consumers": ["c"]}}
    params = ZONES | {"tiers": [{"name": "ppa", "scope": "group", "groups": group}]}
    payload = {
        "production": [production("g", 0, 10, zone="B")],
        "consumption": [consumption("c", 0, 10)],
    }

    assert by_kind(run_workflow(CFE, payload, params).records)[ALLOCATION] == []


def test_cfe__only_the_same_interval_matches():
    payload = {"production": [production("g", 0, 10)], "consumption": [consumption("c", 1, 10)]}

    kinds = by_kind(run_workflow(CFE, payload, ZONES).records)

    assert kinds[ALLOCATION] == [] and kinds[SCORE] == [("c", "", H + 3600, 0, 0, 0)]


def test_cfe__certificates_split_in_walk_order_rest_in_excess():
    payload = {"production": [production("g", 0, 30, certificates=(1, 30))],
               "consumption": [consumption("c1", 0, 10), consumption("c2", 0, 5)]}  # fmt: skip

    kinds = by_kind(run_workflow(CFE, payload, ZONES).records)

    assert kinds[ALLOCATION] == [("c1", "g", H, 1, 1, 10), ("c2", "g", H, 1, 11, 5)]
    assert kinds[EXCESS] == [("", "g", H, 0, 16, 15)]


def test_cfe__redelivered_reading_counts_once():
    payload = {"production": [production("g", 0, 10)], "consumption": [consumption("c", 0, 7)]}

    assert run_workflow(CFE, [payload, payload], ZONES) == run_workflow(CFE, payload, ZONES)


def test_apportion__largest_remainder_ties_to_the_lower_index():
    assert apportion(1, [1, 1, 1]) == [1, 0, 0]
    assert apportion(2, [1, 1, 1]) == [1, 1, 0]
    assert apportion(5, [3, 1, 3]) == [2, 1, 2]  # quotas 2.14, 0.71, 2.14: 0.71 is the largest
    assert apportion(0, [0, 0]) == [0, 0]


# -------------------------------------------------------------------------------------------------
# Refused input and params, each by name; limits off by one
# -------------------------------------------------------------------------------------------------


def test_cfe__interval_of_exactly_one_hour_passes_one_second_more_is_refused():
    ok = {"consumption": [consumption("c", 0, 1, length=3600)]}
    assert len(run_workflow(CFE, ok, ZONES)) == 3

    with pytest.raises(IntervalTooLongError, match="is 3601 s, longer than 3600") as info:
        run_workflow(CFE, {"production": [production("g", 0, 1, length=3601)]}, ZONES)

    assert (info.value.side, info.value.party) == ("production", "g")


def test_cfe__intervals_may_touch_but_not_overlap():
    touching = [consumption("c", 0, 1, length=1800), consumption("c", 0, 1)]
    touching[1] = touching[1] | {"start": H + 1800, "end": H + 3600}
    assert len(run_workflow(CFE, {"consumption": touching}, ZONES)) == 5

    late = consumption("c", 0, 1) | {"start": H + 3599, "end": H + 7199}
    overlapping = {"production": [production("g", 0, 1)], "consumption": [late]}
    with pytest.raises(OverlappingIntervalsError) as info:
        run_workflow(CFE, overlapping, ZONES)

    assert (info.value.first, info.value.second) == ((H, H + 3600), (H + 3599, H + 7199))


def test_cfe__unknown_zone_refused():
    with pytest.raises(UnknownZoneError, match="c is in zone 'D'") as info:
        run_workflow(CFE, {"consumption": [consumption("c", 0, 1, zone="D")]}, ZONES)

    assert info.value.zone == "D"


@pytest.mark.parametrize(
    ("second", "what"),
    [
        (production("g", 0, 11), "at 1750464000"),
        (production("g", 1, 10, zone="B"), "zone"),
        (production("g", 1, 10, source="wind"), "source"),
    ],
)
def test_cfe__conflicting_duplicates_refused(second, what):
    first = {"production": [production("g", 0, 10)]}

    with pytest.raises(ConflictingDuplicateError) as info:
        run_workflow(CFE, [first, {"production": [second]}], ZONES)

    assert info.value.what == what
    with pytest.raises(ConflictingDuplicateError):  # either order
        run_workflow(CFE, [{"production": [second]}, first], ZONES)


@pytest.mark.parametrize(
    ("bundles", "reason"),
    [
        ([(1, 9)], "1..9 hold 9, not the 10 Wh produced"),
        ([(1, 11)], "1..11 hold 11, not the 10 Wh produced"),
        ([(1, 10), (10, 19)], "from 10 overlap another bundle"),
    ],
)
def test_cfe__certificate_bundles_must_hold_the_wh_and_not_overlap(bundles, reason):
    readings = [production(f"g{i}", 0, 10, certificates=b) for i, b in enumerate(bundles)]

    with pytest.raises(CertificateBundleError, match=reason):
        run_workflow(CFE, {"production": readings}, ZONES)

    adjacent = [production("g0", 0, 10, certificates=(1, 10)),
                production("g1", 0, 10, certificates=(11, 20))]  # fmt: skip
    assert run_workflow(CFE, {"production": adjacent}, ZONES)


@pytest.mark.parametrize("wh", [-1, 1.5, 10.0, "10", True, None, 10**15 + 1])
def test_cfe__wh_must_be_a_non_negative_integer(wh):
    with pytest.raises(InputError, match=r"input\[0\]\.consumption\[0\]\.wh: "):
        run_workflow(CFE, {"consumption": [consumption("c", 0, 1) | {"wh": wh}]}, ZONES)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": H}, "consumption[0]: end"),
        ({"consumer": "x" * 33}, "consumer"),
        ({"zone": ""}, "zone"),
        ({"kwh": 1}, "kwh"),
    ],
)
def test_cfe__reading_schema_is_strict(change, field):
    with pytest.raises(InputError, match=field.replace("[", r"\[").replace("]", r"\]")):
        run_workflow(CFE, {"consumption": [consumption("c", 0, 1) | change]}, ZONES)


def test_cfe__no_readings_refused():
    with pytest.raises(NoReadingsError):
        run_workflow(CFE, [{}, {"production": []}], ZONES)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "zones: is required"),
        ({"zones": ["A", "A"]}, "a zone is listed twice"),
        ({"zones": ["A"], "areas": {"x": ["B"]}}, "names zone 'B', not one of zones"),
        ({"zones": ["A", "B"], "areas": {"x": ["A"], "y": ["A", "B"]}}, "zone A is in areas"),
        (ZONES | {"tiers": []}, "tiers: "),
        (ZONES | {"tiers": [{"name": "t", "scope": "zone"}] * 2}, "two tiers have the same name"),
        (ZONES | {"tiers": [{"name": "t", "scope": "group"}]}, "needs at least one group"),
        (ZONES | {"tiers": [{"name": "t", "scope": "zone", "groups": {"g": {}}}]}, "only a group"),
        (ZONES | {"tiers": [{"name": "t", "scope": "group", "groups": {
            "g1": {"devices": ["d"]}, "g2": {"devices": ["d"]}}}]}, "d is in groups g1 and g2"),
    ],
)  # fmt: skip
def test_cfe__params_are_checked(params, reason):
    with pytest.raises(WorkflowParamsError, match=reason):
        run_workflow(CFE, {"consumption": [consumption("c", 0, 1)]}, params)


# -------------------------------------------------------------------------------------------------
# The bundled data set
# -------------------------------------------------------------------------------------------------


def test_cfe__example_data_set_gives_the_pinned_root():
    expected = json.loads((EXAMPLE / "expected.json").read_text())
    payloads = [json.loads((EXAMPLE / name).read_text()) for name in expected["inputs"]]
    params = json.loads((EXAMPLE / "params.json").read_text())

    output = run_workflow(CFE, payloads, params)

    assert len(output) == expected["records"]
    assert output_root(output) == expected["root"]
    kinds = by_kind(output.records)
    assert sum(r[-1] for r in kinds[ALLOCATION]) == expected["matched_wh"]
    assert sum(r[-1] for r in kinds[LEFTOVER]) == expected["leftover_wh"]
    assert sum(r[-1] for r in kinds[EXCESS]) == expected["excess_wh"]


def test_cfe__worked_example_of_docs_matching():
    params = {"zones": ["DE-LU", "NL"], "areas": {"cwe": ["DE-LU", "NL"]}, "tiers": [
        {"name": "contracted", "scope": "group",
         "groups": {"ppa": {"devices": ["wind"], "consumers": ["factory"]}}},
        {"name": "zone", "scope": "zone"}, {"name": "cwe", "scope": "area"}]}  # fmt: skip
    payload = {
        "production": [production("wind", 0, 100, zone="DE-LU", source="wind"),
                       production("solar", 0, 100, zone="DE-LU"),
                       production("nl-wind", 0, 10, zone="NL", source="wind")],
        "consumption": [consumption("factory", 0, 150, zone="DE-LU"),
                        consumption("office", 0, 20, zone="DE-LU"),
                        consumption("home-1", 0, 40, zone="NL"),
                        consumption("home-2", 0, 25, zone="NL")],
    }  # fmt: skip

    kinds = by_kind(run_workflow(CFE, payload, params).records)

    assert kinds[ALLOCATION] == [
        ("factory", "solar", H, 2, 0, 50),
        ("factory", "wind", H, 1, 0, 100),
        ("home-1", "nl-wind", H, 2, 0, 6),
        ("home-1", "solar", H, 3, 0, 19),
        ("home-2", "nl-wind", H, 2, 0, 4),
        ("home-2", "solar", H, 3, 0, 11),
        ("office", "solar", H, 2, 0, 20),
    ]
    assert [r[-1] for r in kinds[LEFTOVER]] == [0, 15, 10, 0]
    assert [r[-1] for r in kinds[EXCESS]] == [0, 0, 0]
    assert [r[-1] for r in kinds[SCORE]] == [1_000_000, 625_000, 600_000, 1_000_000]
    assert kinds[ROUND_SCORE] == [(c, "", H, 0, 0, ppm) for c, _, _, _, _, ppm in kinds[SCORE]]


def test_cfe__round_score_sums_the_intervals_of_a_consumer():
    payload = {
        "production": [production("g", 0, 30), production("g", 1, 0)],
        "consumption": [consumption("c", 0, 40), consumption("c", 1, 20), consumption("c", 2, 0)],
    }

    kinds = by_kind(run_workflow(CFE, payload, ZONES).records)

    # Hours: 30/40 (750,000 ppm), 0/20 (0), nothing consumed (10^6); the day: 30/60.
    assert [r[-1] for r in kinds[SCORE]] == [750_000, 0, 1_000_000]
    assert kinds[ROUND_SCORE] == [("c", "", H, 0, 0, 500_000)]
    infos = [info for _, _, info, _ in run_workflow(CFE, payload, ZONES).records]
    assert pack_info(H, H + 3 * 3600, ROUND_SCORE) in infos  # the round: first start, last end


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({"wh": 10**15}, True),
        ({"wh": 10**15 + 1}, False),
        ({"device": "d" * 32}, True),
        ({"device": "d" * 33}, False),
        ({"start": (1 << 63) - 2, "end": (1 << 63) - 1}, True),
        ({"start": (1 << 63) - 1, "end": 1 << 63}, False),
        ({"wh": 1, "certificates": {"first": (1 << 112) - 1, "last": (1 << 112) - 1}}, True),
        ({"wh": 1, "certificates": {"first": 1 << 112, "last": 1 << 112}}, False),
        ({"wh": 1, "certificates": {"first": 0, "last": 0}}, False),
    ],
)
def test_cfe__limits_that_keep_the_leaf_words_exact(change, accepted):
    reading = production("g", 0, 0) | change

    if accepted:
        output = run_workflow(CFE, {"production": [reading]}, ZONES)
        assert by_kind(output.records)[EXCESS][0][-1] == reading["wh"]
    else:
        with pytest.raises(InputError, match=r"input\[0\]\.production\[0\]\."):
            run_workflow(CFE, {"production": [reading]}, ZONES)


def test_cfe__at_most_255_tiers_fit_the_tier_byte():
    tiers = [{"name": f"t{i}", "scope": "zone"} for i in range(256)]
    payload = {"consumption": [consumption("c", 0, 1)]}

    assert run_workflow(CFE, payload, ZONES | {"tiers": tiers[:255]})
    with pytest.raises(WorkflowParamsError, match="tiers: "):
        run_workflow(CFE, payload, ZONES | {"tiers": tiers})


def test_cfe__tree_dump_loads_and_proves_a_record():
    payload = {"production": [production("g", 0, 30, certificates=(1, 30))],
               "consumption": [consumption("c1", 0, 10), consumption("c2", 0, 5)]}  # fmt: skip
    tree = output_tree(run_workflow(CFE, payload, ZONES))

    loaded = StandardMerkleTree.load(json.loads(json.dumps(tree.dump())))

    assert loaded.root == tree.root and loaded.at(0) == tree.at(0)
    assert StandardMerkleTree.verify(tree.root, loaded.leaf_hash(3), loaded.get_proof(3))


def test_cfe__round_stored_and_a_record_proven_from_a_fresh_store(tmp_path):
    payloads = [{"production": [production("g", 0, 30, certificates=(1, 30))]},
                {"consumption": [consumption("c1", 0, 10), consumption("c2", 0, 5)]}]  # fmt: skip
    output = run_workflow(CFE, payloads, ZONES)
    voting_id = "0x" + "ab" * 32
    StateStore(tmp_path).put_round(voting_id, 1, output_tree(output), window=(H, H + 3600))

    proof = StateStore(tmp_path).proof_for(voting_id, 2)

    assert proof.root == output_root(output) and proof.record == output.records[2]
    assert proof.encoded == "0x" + encode_record(output.types, output.records[2]).hex()
    assert StandardMerkleTree.verify(proof.root, proof.leaf_hash, proof.proof)
