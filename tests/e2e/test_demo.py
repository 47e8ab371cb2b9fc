"""End to end: the demo network (real worker processes, NATS, the deploy script) with every fault
scenario in sealed mode, the early opener included, checked against the chain."""

import pytest
from ape import chain

from scripts._demo_net import CFE_REF, PARAMS, SCENARIOS, Plan, corrupted, load_hours
from scripts.demo import Demo
from worker.workflow import output_root, run_workflow

pytestmark = [
    pytest.mark.anvil,
    # A helper thread of the demo (copier, early opener) that dies fails the test.
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
]
STATUS = {4: "Consensus", 5: "Plurality", 7: "Failed"}


def root_of(*payloads) -> bytes:
    output = run_workflow(CFE_REF, list(payloads), PARAMS)
    return bytes.fromhex(output_root(output)[2:])


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    plan = Plan(workers=7, threshold=4, rounds=6, sealed=True, scenarios=frozenset(SCENARIOS))
    demo = Demo(chain.provider, plan, tmp_path_factory.mktemp("demo"), None, None)
    with demo.network() as net:
        demo.play(net)
        net.stop_workers()
        rewards = demo.rewards_epoch(net)
        audit = demo.audit(net)
        states = {info["label"]: net.voting.roundState(info["voting_id"]) for info in net.rounds}
        height = chain.blocks.height + 1
        first = {info["label"]: next(iter(net.voting.VoteCommitted.range(
            0, height, search_topics={"votingId": info["voting_id"]}))).worker
            for info in net.rounds}  # fmt: skip
    net.first_committer = first
    net.naming = demo.naming
    return plan, net, states, rewards, audit


def test_demo__rounds_settle_as_the_scenarios_say(played):
    _plan, net, states, _rewards, _audit = played
    outcome = {label: (STATUS.get(int(s.status)), int(s.attempt)) for label, s in states.items()}
    assert outcome == {
        "r1": ("Consensus", 1), "r2": ("Consensus", 1), "r3": ("Consensus", 1),
        "r4": ("Consensus", 1),
        "r5": ("Consensus", 2),  # split data: attempt 1 fails, the late data arrives, re-run agrees
        "r6": ("Plurality", 2),  # split through both attempts: the plurality fallback records
    }  # fmt: skip
    hours = load_hours()
    for r, info in enumerate(net.rounds):
        _hour, gen, con = hours[r]
        assert bytes(states[info["label"]].result) == root_of(gen, con), info["label"]
        assert info["voting_id"] == net.naming.event(info["label"]).voting_id


def test_demo__corrupted_worker_dissents_in_every_round(played):
    plan, _net, states, rewards, _audit = played
    bit = 1 << (plan.corrupt - 1)
    for label, state in states.items():
        assert int(state.dissent) & bit, label
    assert rewards[plan.corrupt]["points"][2] == 0  # no accuracy points
    _hour, gen, con = load_hours()[0]
    assert root_of(corrupted(gen), con) != root_of(gen, con)


def test_demo__offline_worker_misses_its_rounds_and_earns_less(played):
    plan, _net, states, rewards, _audit = played
    bit = 1 << (plan.offline - 1)
    assert [bool(int(states[label].voted) & bit) for label in ("r1", "r2", "r3", "r4")] == [
        True, False, False, True]  # fmt: skip
    honest = [w for w in plan.honest if w != plan.offline]
    assert all(rewards[plan.offline]["claimed_wei"] < rewards[w]["claimed_wei"] for w in honest
               if rewards[w]["points"][2] == 6)  # fmt: skip


def test_demo__copier_earns_nothing_in_sealed_mode(played):
    plan, net, _states, rewards, _audit = played
    assert rewards[plan.copier]["points"] == (0, 0, 0, 0)
    assert rewards[plan.copier]["claimed_wei"] == 0
    assert net.copier_log and all("refused" in line for line in net.copier_log)


def test_demo__rewards_follow_the_rules(played):
    plan, _net, _states, rewards, _audit = played
    full = [w for w in plan.honest if w != plan.offline and rewards[w]["points"][2] == 6]
    assert full  # honest workers with the whole data in every round
    for w in full:
        assert rewards[w]["claimed_wei"] > rewards[plan.corrupt]["claimed_wei"] > 0
    assert sum(r["claimed_wei"] for r in rewards.values()) <= 3 * 10**18


def test_demo__a_record_verifies_against_the_chain(played):
    *_rest, audit = played
    assert "NOT VERIFIED" not in audit and "VERIFIED" in audit, audit


def test_demo__early_opener_opens_every_round_and_decides_nothing(played):
    plan, net, states, rewards, _audit = played
    assert set(net.first_committer.values()) == {net.opener_address}  # it opened every round
    assert all(bytes(s.result) != bytes(32) for s in states.values())  # the workers' results
    assert rewards[plan.opener]["points"][2:] == (0, 0)  # no accuracy, no speed
    assert any("opened it with a wrong result" in line for line in net.opener_log)
