"""Parameter files and amounts, without a chain: the shipped examples, units and role hashes."""

import itertools
import re
from pathlib import Path

import click
import pytest

from scripts._deployment import parse_amount
from scripts._params import DeployParams, load_params, namehash, parse_duration

NETWORKS = Path(__file__).resolve().parents[2] / "networks"


def fill_placeholders(text: str) -> str:
    """Replaces `0xREPLACE_WITH_...` by distinct addresses and other placeholders by names."""
    counter = itertools.count(1)
    text = re.sub(r"0xREPLACE_WITH_\w+", lambda _: f"0x{next(counter):040x}", text)
    return re.sub(r"REPLACE_WITH_(\w+)", lambda m: m.group(1).lower().replace("_", "-"), text)


def test_local_example__valid_as_shipped():
    params = load_params(NETWORKS / "local.yaml")

    assert (params.network, params.chain_id) == ("ethereum:local", 31337)
    assert len(params.pool.initial_workers) == 4
    assert params.reward.weights == (2000, 2000, 4000, 2000)
    assert params.voting.as_config() == (0, False, 3600, 0, 0, 0, 3, "0x" + "00" * 20, 0)
    assert params.max_window == 3600  # half of the 2 h registration window
    assert params.warnings() == []


@pytest.mark.parametrize("name, chain_id", [("volta", 73799), ("mainnet", 246)])
def test_live_examples__refused_until_placeholders_are_replaced(name, chain_id, tmp_path):
    with pytest.raises(click.BadParameter, match="placeholder '0xREPLACE_WITH_WORKER_1_ADDRESS'"):
        load_params(NETWORKS / f"{name}.yaml")

    filled = tmp_path / f"{name}.yaml"
    filled.write_text(fill_placeholders((NETWORKS / f"{name}.yaml").read_text()))
    params = load_params(filled)

    assert (params.network, params.chain_id) == (f"energyweb:{name}", chain_id)
    assert params.reward.registration_window > params.max_window >= params.voting.vote_duration
    assert params.warnings() == []


def test_mainnet_example__sealed_with_failover_and_gate(tmp_path):
    filled = tmp_path / "mainnet.yaml"
    filled.write_text(fill_placeholders((NETWORKS / "mainnet.yaml").read_text()))

    params = load_params(filled)

    assert params.voting.as_config()[1:5] == (True, 1200, 600, 2)
    assert params.voting.as_config()[8] == params.voting.fallback.failover_timeout == 86400
    assert params.max_window == 86400
    assert params.eligibility_gate.role == "worker.roles.app.apps.org.iam.ewc"
    assert params.eligibility_gate.role_hash == namehash("worker.roles.app.apps.org.iam.ewc")


def test_volta_example__plurality_at_the_least_minimum(tmp_path):
    filled = tmp_path / "volta.yaml"
    filled.write_text(fill_placeholders((NETWORKS / "volta.yaml").read_text()))

    params = load_params(filled)

    assert (params.voting.fallback.policy, params.voting.fallback.min_votes) == ("plurality", 2)
    assert params.max_window == 86400  # half of the 2-day registration window


def test_warnings__short_registration_and_vote_windows():
    data = load_params(NETWORKS / "local.yaml").model_dump()
    data["voting"] |= {"mode": "sealed", "vote_duration": 30, "reveal_duration": 20}
    data["reward"]["registration_window"] = 600

    warnings = DeployParams.model_validate(data).warnings()

    assert [w.split(" is ")[0] for w in warnings] == [
        "reward.registration_window",
        "voting.vote_duration",
        "voting.reveal_duration",
    ]
    assert "600 s (120 blocks of 5 s)" in warnings[0] and "15 minutes or more" in warnings[0]
    assert "30 s, 6 blocks of 5 s" in warnings[1] and "50 s (10 blocks) or more" in warnings[1]


def test_defaults_are_validated_too():
    data = load_params(NETWORKS / "local.yaml").model_dump()
    del data["voting"]["reveal_duration"]
    data["voting"]["mode"] = "sealed"

    with pytest.raises(ValueError, match="sealed mode needs a reveal duration"):
        DeployParams.model_validate(data)


@pytest.mark.parametrize(
    "text, seconds",
    [
        (90, 90),
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("7d", 604800),
        ("2w", 1209600),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "1.5h", "-3", True])
def test_parse_duration__rejects(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text, decimals, amount",
    [
        ("1.5 ether", 18, 1_500_000_000_000_000_000),
        ("10 EWT", 18, 10 * 10**18),
        ("0.25 VT", 18, 25 * 10**16),
        ("2 token", 6, 2_000_000),
        ("20 gwei", 18, 20 * 10**9),
        ("7 wei", 18, 7),
        ("1_000", 18, 1000),
    ],
)
def test_parse_amount(text, decimals, amount):
    assert parse_amount(text, decimals) == amount


@pytest.mark.parametrize("text", ["lots", "1.5", "0 ether", "1 dollar", "0.1 wei"])
def test_parse_amount__rejects(text):
    with pytest.raises(click.BadParameter):
        parse_amount(text)


def test_namehash__ens_vectors():
    assert namehash("eth").hex() == (
        "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
    )
    assert namehash("foo.eth").hex() == (
        "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"
    )
