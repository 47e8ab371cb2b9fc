"""worker.encoding's whole-column conversions and checks agree with the value-by-value rules."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.encoding import leaf_codec
from worker.errors import InvalidDumpError, LeafEncodingError, WorkflowOutputError
from worker.fields import field_type
from worker.merkle import StandardMerkleTree
from worker.workflow import WorkflowOutput, check_output

TYPES = ["bytes32", "uint256", "uint8", "bytes4"]


def test_prepare__json_columns_become_the_canonical_records():
    codec = leaf_codec(TYPES)
    records = [(bytes([i]) * 32, 2**256 - 1 - i, i, bytes([i]) * 4) for i in range(5)]

    assert codec.prepare(codec.to_json(records)) == codec.prepare(records)
    assert codec.to_json(records)[1] == ["0x" + "01" * 32, str(2**256 - 2), "1", "0x01010101"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (0, "0x" + "ab" * 30 + "  cd"),  # 66 characters; fromhex would skip the spaces
        (0, "0X" + "ab" * 32),
        (0, "0x" + "ab" * 31 + "zz"),
        (0, "0x" + "ab" * 33),
        (1, "+5"),
        (1, "1_000"),
        (1, "\u0661"),  # an Arabic-Indic digit: isdigit() but not [0-9]
        (1, str(2**256)),
        (2, "256"),
        (2, " 5"),
        (3, "0x" + "ab" * 3),
    ],
)
def test_prepare__a_bad_value_in_a_json_column_is_refused_by_name(column, value):
    codec = leaf_codec(TYPES)
    good = codec.to_json([(bytes(32), 1, 1, bytes(4))] * 3)
    good[1][column] = value

    with pytest.raises(LeafEncodingError, match=r"\(record 1\)"):
        codec.prepare(good)


def test_prepare__decimal_and_hex_forms_mix_in_one_column():
    codec = leaf_codec(["uint256"])

    assert codec.prepare([["10"], ["0x10"], [7], ["007"]])[0] == [(10,), (16,), (7,), (7,)]


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=20))
def test_load__tree_nodes_in_bulk_equal_the_dump(values):
    tree = StandardMerkleTree.of([(v,) for v in values], ["bytes32"])

    assert StandardMerkleTree.load(tree.dump()).dump() == tree.dump()


@pytest.mark.parametrize("bad", ["0x" + "00" * 30 + "  00", "0x" + "0" * 63, "0X" + "00" * 32])
def test_load__a_malformed_node_is_refused(bad):
    dump = StandardMerkleTree.of([(bytes(32),), (bytes([1]) * 32,)], ["bytes32"]).dump()
    dump["tree"][1] = bad

    with pytest.raises(InvalidDumpError, match="a Merkle node must be 32 bytes"):
        StandardMerkleTree.load(dump)


# A workflow's output of exact-typed tuples is checked a column at a time and kept as it is
# (`LeafCodec.is_static`); each value below slips one rule of that check, and must go the slow way
# and be refused there by record and field.
HOSTILE_STATIC = [
    (1, True, "field 1 \\(uint256\\)"),  # bool is an int subclass
    (1, 2**256, "field 1 \\(uint256\\)"),
    (1, -1, "field 1 \\(uint256\\)"),
    (2, 256, "field 2 \\(uint8\\)"),  # one over the top of a small int type
    (2, np.uint8(7), "field 2 \\(uint8\\)"),
    (0, bytes(31), "field 0 \\(bytes32\\)"),
    (0, bytes(33), "field 0 \\(bytes32\\)"),
    (3, bytearray(4), None),  # accepted, but converted to bytes: not kept as given
    (1, 1.0, "record 1 field 1 is a float"),
]


@pytest.mark.parametrize(("column", "value", "reason"), HOSTILE_STATIC)
def test_check_output__a_value_off_the_static_form_is_converted_or_refused(column, value, reason):
    records = [(bytes([i]) * 32, i, i, bytes(4)) for i in range(3)]
    records[1] = (*records[1][:column], value, *records[1][column + 1 :])
    output = WorkflowOutput(TYPES, records)

    assert not leaf_codec(TYPES).is_static(output.records)
    if reason is None:
        assert check_output("wf", output).records[1][column] == bytes(4)
        assert type(check_output("wf", output).records[1][column]) is bytes
    else:
        with pytest.raises(WorkflowOutputError, match=reason):
            check_output("wf", output)


def test_check_output__static_records_are_kept_as_they_are_and_still_ordered():
    records = [(bytes([i]) * 32, i, i, bytes(4)) for i in range(3)]

    assert leaf_codec(TYPES).is_static(records)
    assert all(a is b for a, b in zip(check_output("wf", WorkflowOutput(TYPES, records)).records,
                                      records))  # fmt: skip
    with pytest.raises(WorkflowOutputError, match="record 2 is out of order after record 1"):
        check_output("wf", WorkflowOutput(TYPES, [records[0], records[2], records[1]]))
    with pytest.raises(WorkflowOutputError, match="record 1 is a duplicate of record 0"):
        check_output("wf", WorkflowOutput(TYPES, [records[0], records[0], records[1]]))


@pytest.mark.parametrize("value", [b"abcde", b"abc"])
def test_bytes_column__a_value_of_another_width_is_not_written(value):
    column = field_type("bytes4").column
    out = np.zeros((2, 32), np.uint8)

    if len(value) > 4:  # NOTE: numpy would cut it to fit: the width check refuses it
        with pytest.raises(ValueError, match="expected exactly 4 bytes, got 5"):
            column([b"abcd", value], out)
    else:  # NOTE: shorter ones numpy pads; only `canonical` refuses them (checked before)
        assert not leaf_codec(["bytes4"]).is_static([(b"abcd",), (value,)])
