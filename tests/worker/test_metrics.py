"""worker.metrics: Prometheus metrics, their labels, counters, gauges and latency buckets."""

import pytest

from tests.worker.conftest import sample
from worker.metrics import Metrics

# -------------------------------------------------------------------------------------------------
# Metrics
# -------------------------------------------------------------------------------------------------


def test_render__known_labels_start_at_zero(metrics):
    text = metrics.render().decode()

    assert sample(text, "worker_votes_sent_total", kind="claim") == 0
    assert sample(text, "worker_source_errors_total", reason="sink") == 0
    assert sample(text, "worker_consensus_total", agreed="absent") == 0
    assert sample(text, "worker_up") == 0


def test_render__counts_events(metrics):
    metrics.round_seen("trigger")
    metrics.round_seen("chain")
    metrics.round_seen("chain")
    metrics.vote_sent("commit")
    metrics.vote_sent("commit")
    metrics.vote_sent("reveal")
    metrics.tx_failed("finalize")
    metrics.tx_replaced()
    metrics.round_failure("plurality")
    metrics.inputs_stored(24)
    metrics.inputs_stored()
    metrics.workflow_error()

    text = metrics.render().decode()

    assert sample(text, "worker_rounds_seen_total", source="trigger") == 1
    assert sample(text, "worker_rounds_seen_total", source="chain") == 2
    assert sample(text, "worker_votes_sent_total", kind="commit") == 2
    assert sample(text, "worker_votes_sent_total", kind="reveal") == 1
    assert sample(text, "worker_votes_sent_total", kind="vote") == 0
    assert sample(text, "worker_tx_failed_total", kind="finalize") == 1
    assert sample(text, "worker_tx_replaced_total") == 1
    assert sample(text, "worker_round_failures_total", kind="plurality") == 1
    assert sample(text, "worker_inputs_stored_total") == 25
    assert sample(text, "worker_workflow_errors_total") == 1


def test_gas_spent__adds_gas_and_fee(metrics):
    metrics.gas_spent(21_000, 21_000 * 10**9)
    metrics.gas_spent(50_000, 50_000 * 2 * 10**9)

    text = metrics.render().decode()

    assert sample(text, "worker_gas_used_total") == 71_000
    assert sample(text, "worker_gas_spent_wei_total") == 121_000 * 10**9


def test_consensus__maps_agreement_to_labels(metrics):
    metrics.consensus(True)
    metrics.consensus(True)
    metrics.consensus(False)
    metrics.consensus(None)

    text = metrics.render().decode()

    assert sample(text, "worker_consensus_total", agreed="yes") == 2
    assert sample(text, "worker_consensus_total", agreed="no") == 1
    assert sample(text, "worker_consensus_total", agreed="absent") == 1


def test_source_error__unknown_reason_counts_as_other(metrics):
    metrics.source_error("unreachable")
    metrics.source_error("timeout")

    text = metrics.render().decode()

    assert sample(text, "worker_source_errors_total", reason="unreachable") == 1
    assert sample(text, "worker_source_errors_total", reason="other") == 1
    assert "timeout" not in text


@pytest.mark.parametrize(
    "call", [lambda m: m.vote_sent("votes"), lambda m: m.tx_failed(""), lambda m: m.round_seen("x")]
)
def test_labelled_event__unknown_label_value_raises(metrics, call):
    with pytest.raises(ValueError, match="unknown"):
        call(metrics)


def test_gauges__set_state(metrics):
    metrics.balance(3 * 10**17, low=True)
    metrics.block(31_337)
    metrics.pending_transactions(2)
    metrics.running(True)

    text = metrics.render().decode()

    assert sample(text, "worker_account_balance_wei") == 3 * 10**17
    assert sample(text, "worker_low_balance") == 1
    assert sample(text, "worker_last_block") == 31_337
    assert sample(text, "worker_pending_transactions") == 2
    assert sample(text, "worker_up") == 1

    metrics.balance(5 * 10**18, low=False)
    metrics.running(False)
    text = metrics.render().decode()

    assert sample(text, "worker_low_balance") == 0
    assert sample(text, "worker_up") == 0


def test_latencies__land_in_buckets(metrics):
    metrics.observe_vote_latency(0.07)
    metrics.observe_vote_latency(90)
    metrics.observe_consensus_latency(400)

    text = metrics.render().decode()

    assert sample(text, "worker_trigger_to_vote_seconds_bucket", le="0.05") == 0
    assert sample(text, "worker_trigger_to_vote_seconds_bucket", le="0.1") == 1
    assert sample(text, "worker_trigger_to_vote_seconds_bucket", le="60.0") == 1
    assert sample(text, "worker_trigger_to_vote_seconds_bucket", le="120.0") == 2
    assert sample(text, "worker_trigger_to_vote_seconds_count") == 2
    assert sample(text, "worker_trigger_to_consensus_seconds_bucket", le="300.0") == 0
    assert sample(text, "worker_trigger_to_consensus_seconds_bucket", le="600.0") == 1


def test_metrics__instances_are_independent():
    first, second = Metrics(), Metrics()

    first.vote_sent("vote")

    assert sample(first.render().decode(), "worker_votes_sent_total", kind="vote") == 1
    assert sample(second.render().decode(), "worker_votes_sent_total", kind="vote") == 0


def test_metrics__refused_transactions_by_reason():
    metrics = Metrics()
    metrics.tx_refused("funds")
    text = metrics.render().decode()
    assert sample(text, "worker_tx_refused_total", reason="funds") == 1
    assert sample(text, "worker_tx_refused_total", reason="nonce") == 0
    with pytest.raises(ValueError, match="unknown reason"):
        metrics.tx_refused("bad luck")
