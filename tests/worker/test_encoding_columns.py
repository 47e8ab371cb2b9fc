"""worker.encoding's whole-column conversions of JSON forms agree with the value-by-value rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.encoding import leaf_codec
from worker.errors import InvalidDumpError, LeafEncodingError
from worker.merkle import StandardMerkleTree

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
