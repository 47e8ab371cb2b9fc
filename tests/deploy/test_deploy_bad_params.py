"""`ape run deploy` with bad parameters: every problem named, one line each, before anything is
sent."""

import pytest
from eth_utils import to_checksum_address

from tests.deploy.conftest import deploy_args

pytestmark = pytest.mark.anvil

# Test accounts 1-3 of the test mnemonic.
WORKERS = (
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
)
NO_CODE = to_checksum_address("0x" + "ab" * 20)


BAD_PARAMS = {
    "weights": (
        {"reward": {"weights": [2000, 2000, 3000, 2000]}},
        "params.reward.weights: must sum to 10000, got 9000",
    ),
    "weight names": (
        {"reward": {"weights": {"availability": 5000, "speed": 5000}}},
        "params.reward.weights: missing categories ['consistency', 'accuracy']",
    ),
    "pool limit": (
        {"pool": {"max_workers": 65}},
        "params.pool.max_workers: Input should be less than or equal to 64, got 65",
    ),
    "too many workers": (
        {"pool": {"max_workers": 2, "initial_workers": list(WORKERS)}},
        "params.pool.initial_workers: 3 workers exceed pool.max_workers (2)",
    ),
    "duplicate worker": (
        {"pool": {"initial_workers": [WORKERS[0], WORKERS[0].lower()]}},
        f"params.pool.initial_workers: listed more than once: {WORKERS[0]}",
    ),
    "bad address": (
        {"pool": {"initial_workers": ["0x1234"]}},
        "params.pool.initial_workers[0]: not an address: '0x1234'",
    ),
    "threshold": (
        {"voting": {"threshold": 6}},
        "params.voting.threshold: 6 exceeds pool.max_workers (5)",
    ),
    "registration window": (
        {
            "voting": {"mode": "sealed", "reveal_duration": "5m"},
            "reward": {"registration_window": 1200},
        },
        "params.reward.registration_window: must be at least the longest vote or reveal window "
        "+ 1 h (4500 s), so every late vote of an epoch is in before its registration closes, "
        "got 1200",
    ),
    "max window too short": (
        {"voting": {"max_window": "10m"}},
        "params.voting.max_window: 600 s is shorter than voting.vote_duration / reveal_duration "
        "(900 s)",
    ),
    "max window not below registration": (
        {"voting": {"max_window": "2d"}},
        "params.voting.max_window: 172800 s must be at most reward.registration_window - 1 h "
        "(169200 s)",
    ),
    "sealed without reveal": (
        {"voting": {"mode": "sealed"}},
        "params.voting.reveal_duration: sealed mode needs a reveal duration >= 1 s",
    ),
    "open with reveal": (
        {"voting": {"reveal_duration": 60}},
        "params.voting.reveal_duration: must be 0 in open mode, got 60",
    ),
    "plurality without minimum": (
        {"voting": {"fallback": {"policy": "plurality"}}},
        "params.voting.fallback.min_votes: policy plurality needs min_votes >= 2",
    ),
    "timeout without failover": (
        {"voting": {"fallback": {"policy": "alert", "failover_timeout": "1d"}}},
        "params.voting.fallback.failover_timeout: only policy failover uses failover_timeout; "
        "policy is alert",
    ),
    "failover timeout too long": (
        {
            "voting": {
                "fallback": {
                    "policy": "failover",
                    "failover": WORKERS[0],
                    "failover_timeout": "31d",
                }
            }
        },
        "params.voting.fallback.failover_timeout: must be 1 s to 30 d (2592000 s), got 2678400",
    ),
    "failover without address": (
        {"voting": {"fallback": {"policy": "failover"}}},
        "params.voting.fallback.failover: policy failover needs a failover address",
    ),
    "mode": (
        {"voting": {"mode": "secret"}},
        "params.voting.mode: Input should be 'open' or 'sealed', got 'secret'",
    ),
    "duration": (
        {"voting": {"vote_duration": "soon"}},
        "params.voting.vote_duration: not a duration (seconds, or a number with s, m, h, d or w)",
    ),
    "typo": (
        {"voting": {"treshold": 2}},
        "params.voting.treshold: Extra inputs are not permitted, got 2",
    ),
    "missing chain id": ({"chain_id": None}, "params.chain_id: Field required"),
    "epoch length": (
        {"reward": {"epoch_length": "30m"}},
        "params.reward.epoch_length: Input should be greater than or equal to 3600, got 1800",
    ),
    "claim expiry": (
        {"reward": {"claim_expiry": "7d"}},
        "params.reward.claim_expiry: Input should be greater than or equal to 2592000",
    ),
    "token": (
        {"reward": {"token": "ewt"}},
        "params.reward.token: must be native or an ERC-20 address; not an address: 'ewt'",
    ),
    "token without code": (
        {"reward": {"token": NO_CODE}},
        f"params.reward.token: no contract at {NO_CODE} on energyweb:volta",
    ),
    "gate role": (
        {"eligibility_gate": {"address": NO_CODE, "role": "Worker Role"}},
        "params.eligibility_gate.role: must be 0x and 64 hex digits, or a lower-case dotted role "
        "name, got 'Worker Role'",
    ),
}


@pytest.mark.parametrize("case", BAD_PARAMS, ids=list(BAD_PARAMS))
def test_deploy__bad_params_rejected_before_sending(
    case, run_deploy, write_params, deployments_dir, nonce_unchanged
):
    sections, message = BAD_PARAMS[case]
    params = write_params(**sections)

    result = run_deploy(*deploy_args(params))

    assert result.exit_code == 2
    assert "Invalid value for --params" in result.output
    assert message in result.output
    assert not deployments_dir.exists()


ONE_LINE_REFUSALS = {
    "plurality of one": (
        {"policy": "plurality", "min_votes": 1},
        "params.voting.fallback.min_votes: policy plurality needs min_votes >= 2 (one worker "
        "alone never decides), got 1",
    ),
    "failover without timeout": (
        {"policy": "failover", "failover": WORKERS[0]},
        "params.voting.fallback.failover_timeout: policy failover needs failover_timeout (how long "
        "the failover address may decide before anyone may fail the round), e.g. 1d",
    ),
}


@pytest.mark.parametrize("case", ONE_LINE_REFUSALS, ids=list(ONE_LINE_REFUSALS))
def test_deploy__refuses_what_the_contract_refuses_in_one_line(
    case, ape_run, volta, write_params, deployments_dir, nonce_unchanged
):
    fallback, message = ONE_LINE_REFUSALS[case]
    params = write_params(voting={"fallback": fallback})

    result = ape_run(
        "deploy", *deploy_args(params), "--network", volta,
        "--deployments-dir", str(deployments_dir),
    )  # fmt: skip

    assert result.returncode == 2
    problems = [line.strip() for line in result.stderr.splitlines() if "params." in line]
    assert problems == [message], result.stderr
    assert "Traceback" not in result.stderr
    assert not deployments_dir.exists()


def test_deploy__every_problem_listed_at_once(
    run_deploy, write_params, deployments_dir, nonce_unchanged
):
    params = write_params(
        pool={"max_workers": 0}, voting={"mode": "secret"}, reward={"weights": [1, 2, 3, 4]}
    )

    result = run_deploy(*deploy_args(params))

    assert result.exit_code == 2
    for field in ("params.pool.max_workers", "params.voting.mode", "params.reward.weights"):
        assert field in result.output
