"""The explorer in headless Chromium, on anvil, after a short demo network run (real worker
processes, NATS, the deploy script): what the page shows is checked against the chain (read
here through Ape).

Plays the demo's 7 workers (4 of 7; w7 the copier, played by the demo): r1-r3 consensus (w2
offline in r2 and r3, w3 corrupted throughout), r4 a re-run (split data), r5 the plurality
fallback; then a round the test fails by hand (every worker another result, twice), the epoch's
rewards are registered and claimed, and records are exported. Screenshots: .build/explorer/.
"""

import json
import math
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from ape import accounts, chain
from click.testing import CliRunner
from eth_utils import keccak

from scripts._demo_net import Plan
from scripts.demo import Demo
from tests.explorer.browser import Browser, chromium_available
from worker.cli import cli
from worker.explorer.server import ExplorerServer

pytestmark = [
    pytest.mark.anvil,
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
]
SCENARIOS = frozenset({"offline", "corrupt", "copier", "split", "fallback"})
AUDIT_WALK = Path(__file__).with_name("audit_walk.js")
PAGE = 5  # blocks per eth_getLogs: a short history still takes many pages
FAILED = 7


def fail_a_round(demo, net) -> bytes:
    """Every worker votes another result in both attempts: the plurality fallback finds a tie."""
    descriptor = tuple(demo.naming.event("failed"))
    vid = bytes(net.voting.descriptorId(descriptor))
    members = [accounts.test_accounts[w] for w in net.plan.members]
    for attempt in (1, 2):
        for k, account in enumerate(members):
            result = keccak(text=f"failed-{attempt}-{k}")
            if attempt == 1 and k == 0:
                net.voting.openAndVote(descriptor, result, sender=account)
            else:
                net.voting.vote(vid, result, sender=account)
        net.voting.finalize(vid, sender=members[0])
    net.rounds.append({"label": "failed", "voting_id": vid, "kind": "failed"})
    return vid


def export(config, *args) -> dict:
    result = CliRunner().invoke(cli, [args[0], "--config", str(config), *map(str, args[1:])])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    if not chromium_available():
        pytest.fail("headless Chromium is missing: `make setup` installs chromium, chromium-driver")
    workdir = tmp_path_factory.mktemp("explorer")
    plan = Plan(workers=7, threshold=4, rounds=5, sealed=False, scenarios=SCENARIOS)
    demo = Demo(chain.provider, plan, workdir, None, None)
    started = time.monotonic()
    with demo.network() as net:
        demo.play(net)
        net.stop_workers()
        fail_a_round(demo, net)
        rewards = demo.rewards_epoch(net)
        audit = demo.audit(net)
    played = time.monotonic() - started
    config = net.workers[1].config
    first = "0x" + net.rounds[0]["voting_id"].hex()
    docs = {"proof": json.loads((workdir / "record.json").read_text()),
            "tree": export(config, "export", first),
            "multiproof": export(config, "multiproof", first, 0, 2, 3)}  # fmt: skip
    server = ExplorerServer(chain.provider.uri, net.manifest)
    server.start()
    browser = Browser()
    try:
        load = browser.open(f"{server.url}?page={PAGE}&poll=500")
        stats = server.stats()
        labels = {info["label"]: "0x" + info["voting_id"].hex() for info in net.rounds}
        yield SimpleNamespace(net=net, plan=plan, rewards=rewards, audit=audit, docs=docs,
                              server=server, browser=browser, load=load, stats=stats,
                              labels=labels, workdir=workdir, played=played,
                              pool=demo.rewards)  # fmt: skip
    finally:
        browser.close()
        server.stop()


def round_box(b, explored, label: str):
    return b.one(f"details.round[data-voting-id='{explored.labels[label]}']")


def address(explored, w: int) -> str:
    return accounts.test_accounts[w].address


def test_explorer__loads_the_deployment_in_pages_and_checks_the_result_chain(explored):
    b, voting = explored.browser, explored.net.voting
    head, length = voting.chainHead()
    badge = b.one("#chain-check")
    assert badge.get_attribute("data-ok") == "true"
    assert f"result chain: {int(length)} entries, head 0x{bytes(head).hex()[:8]}" in badge.text
    deployed = explored.server.manifest.voting_block
    pages = math.ceil((int(b.text("#block")) - deployed + 1) / PAGE)
    assert explored.stats["calls"]["eth_getLogs"] == pages >= 10
    assert len(b.all("details.round")) == 6
    print(f"\nexplorer: demo {explored.played:.0f} s, page load {explored.load:.2f} s, "
          f"{explored.stats['total']} RPC calls in {explored.stats['requests']} requests "
          f"{explored.stats['calls']}")  # fmt: skip
    b.screenshot("overview")
    before = explored.server.stats()
    load = b.open(explored.server.url)  # the defaults: 2,000 blocks a page, a poll every 3 s
    after = explored.server.stats()
    assert len(b.all("details.round")) == 6
    assert after["calls"]["eth_getLogs"] - before["calls"]["eth_getLogs"] == 1
    print(f"explorer, default pages: load {load:.2f} s, {after['total'] - before['total']} RPC "
          f"calls in {after['requests'] - before['requests']} requests")  # fmt: skip


@pytest.mark.parametrize(("label", "status", "attempt", "shown"), [
    ("r1", "Consensus", 1, "Consensus"), ("r3", "Consensus", 1, "Consensus"),
    ("r4", "Consensus", 2, "Consensus (re-run)"), ("r5", "Plurality", 2, "Plurality (re-run)"),
    ("failed", "Failed", 2, "Failed (re-run)")])  # fmt: skip
def test_explorer__rounds_show_status_attempts_and_result(explored, label, status, attempt, shown):
    b = explored.browser
    state = explored.net.voting.roundState(explored.labels[label])
    assert int(state.status) == {"Consensus": 4, "Plurality": 5, "Failed": FAILED}[status]
    box = round_box(b, explored, label)
    assert (box.get_attribute("data-status"), box.get_attribute("data-attempt")) == (
        status,
        str(attempt),
    )
    summary = box.find_element("css selector", "summary").text
    assert shown in summary and f"attempt {attempt}" in summary and "settled 20" in summary
    result = bytes(state.result).hex()
    assert (result[:8] in summary) == (status != "Failed")


def votes_of(b, explored, label: str, attempt: int) -> dict[str, str]:
    box = round_box(b, explored, label)
    rows = box.find_elements("css selector", f"tr.vote[data-attempt='{attempt}']")
    return {r.get_attribute("data-worker"): r.get_attribute("data-verdict") for r in rows}


def test_explorer__dissenting_and_offline_workers_per_round(explored):
    b, plan = explored.browser, explored.plan
    corrupt, offline = address(explored, plan.corrupt), address(explored, plan.offline)
    for label in ("r1", "r2", "r3"):
        verdicts = votes_of(b, explored, label, 1)
        assert verdicts[corrupt].startswith("dissent"), label  # "dissent late" once decided
        assert verdicts[offline].split()[0] == ("missed" if label in ("r2", "r3") else "agree")
        for w in plan.honest:  # the copier agrees or not, as the vote it copied
            away = w == plan.offline and label != "r1"
            assert verdicts[address(explored, w)].split()[0] == ("missed" if away else "agree")
    assert votes_of(b, explored, "r4", 2)[corrupt].startswith("dissent")
    box = round_box(b, explored, "r5")
    row = box.find_element("css selector", "tr.vote[data-attempt='1']")
    assert row.get_attribute("data-verdict") == "earlier attempt"
    box.find_element("css selector", "summary").click()
    assert row.is_displayed()
    b.screenshot("round-votes", "#s-rounds")


def test_explorer__time_from_opening_to_vote_is_block_time(explored):
    b, voting = explored.browser, explored.net.voting
    vid, w1 = explored.labels["r1"], address(explored, 1)
    height = chain.blocks.height + 1
    opened = next(iter(voting.RoundOpened.range(0, height, search_topics={"votingId": vid})))
    cast = next(iter(voting.VoteCast.range(0, height, search_topics={"votingId": vid,
                                                                     "worker": w1})))  # fmt: skip
    expected = (
        chain.blocks[cast.block_number].timestamp - chain.blocks[opened.block_number].timestamp
    )
    row = round_box(b, explored, "r1").find_element("css selector", f"tr.vote[data-worker='{w1}']")
    cells = row.find_elements("css selector", "td")
    assert cells[4].get_attribute("textContent") == f"{expected} s"
    assert cells[5].get_attribute("textContent") == str(cast.block_number)


def expected_counters(voting, addr: str) -> dict[str, int]:
    """From the contract's settled-round masks; a failed round counts as neither agreed nor
    dissent."""
    info = voting.workerInfo(addr)
    bit, out = 1 << int(info.index), dict.fromkeys(("eligible", "voted", "agreed", "dissent"), 0)
    for r in voting.settledRounds(0, int(voting.chainHead()[1])):
        out["eligible"] += 1
        if int(r.voted) & bit:
            out["voted"] += 1
            if int(r.kind) != FAILED:
                out["agreed" if int(r.agreed) & bit else "dissent"] += 1
    out["missed"] = out["eligible"] - out["voted"]
    return out


def worker_row(b, addr: str) -> dict[str, str]:
    row = b.one(f"tr.worker-row[data-address='{addr}']")
    return {c.get_attribute("data-col"): c.text for c in row.find_elements("css selector", "td")
            if c.get_attribute("data-col")}  # fmt: skip


def test_explorer__worker_table_matches_the_contracts_masks(explored):
    b, voting, plan = explored.browser, explored.net.voting, explored.plan
    for w in plan.members:
        shown = worker_row(b, address(explored, w))
        expected = expected_counters(voting, address(explored, w))
        assert {k: int(shown[k]) for k in expected} == expected, f"w{w}"
    corrupt, offline = worker_row(b, address(explored, plan.corrupt)), worker_row(
        b, address(explored, plan.offline))  # fmt: skip
    assert (corrupt["dissent"], corrupt["rate"]) == ("5", "0%")
    assert (offline["missed"], offline["rate"]) == ("2", "100%")
    assert b.all("#workers-charts svg.chart")
    b.js("const el = document.querySelector('#period-from'); el.value = '2999-01-01T00:00';"
         "el.dispatchEvent(new Event('change'));")  # fmt: skip
    assert worker_row(b, address(explored, 1))["eligible"] == "0"
    b.js("const el = document.querySelector('#period-from'); el.value = '';"
         "el.dispatchEvent(new Event('change'));")  # fmt: skip
    assert worker_row(b, address(explored, 1))["eligible"] == "6"


def test_explorer__reward_table_after_claims(explored):
    b, rewards = explored.browser, explored.rewards
    for w, got in rewards.items():
        row = b.one(f"tr.reward[data-epoch='0'][data-address='{address(explored, w)}']")
        assert row.get_attribute("data-claimed") == "true"
        cells = {
            c.get_attribute("data-col"): c.text for c in row.find_elements("css selector", "td")
        }
        assert cells["claimed"] == f"{got['claimed_wei'] / 1e18:.4f} ETH", f"w{w}"
        points = [int(cells[c].split()[0]) for c in ("availability", "consistency", "accuracy",
                                                       "speed")]  # fmt: skip
        assert tuple(points) == got["points"], f"w{w}"
    b.screenshot("rewards", "#s-rewards")


def test_explorer__verifies_a_proof_a_tree_and_a_multiproof(explored, tmp_path):
    b, docs = explored.browser, explored.docs
    proof = b.check(docs["proof"], tmp_path / "record.json")  # through the file input
    assert proof["ok"], proof["text"]
    assert proof["checks"] == dict.fromkeys(
        ["encoding", "proof", "result", "on-chain proof", "result chain"], "true"
    )
    tree = b.check(docs["tree"])
    assert tree["ok"], tree["text"]
    assert tree["checks"] == dict.fromkeys(["tree", "result", "on-chain records", "result chain"],
                                           "true")  # fmt: skip
    multi = b.check(docs["multiproof"])
    assert multi["ok"], multi["text"]
    assert multi["checks"] == dict.fromkeys(
        ["encoding", "multiproof", "result", "on-chain records", "result chain"], "true"
    )
    b.screenshot("verified", "#s-verify")


def test_explorer__refuses_a_tampered_record_and_a_tree_of_another_round(explored):
    b, docs = explored.browser, explored.docs
    tampered = json.loads(json.dumps(docs["proof"]))
    tampered["record"][3] = str(int(tampered["record"][3]) + 1)  # one matched amount
    report = b.check(tampered)
    assert not report["ok"] and "NOT VERIFIED" in report["text"]
    assert report["checks"]["encoding"] == "false"
    assert report["checks"]["result chain"] == "true"  # the round itself is fine
    other = dict(docs["tree"], votingId=explored.labels["r2"])
    report = b.check(other)
    assert not report["ok"]
    assert report["checks"] == {"tree": "true", "result": "false", "on-chain records": "false",
                                "result chain": "false"}  # fmt: skip
    failed = dict(docs["proof"], voting_id=explored.labels["failed"])
    report = b.check(failed)
    assert not report["ok"]
    assert (report["checks"]["result"], report["checks"]["on-chain proof"]) == ("false", "false")
    assert "no recorded result (status Failed)" in report["text"]
    assert "refused: VotingNotRecorded" in report["text"]  # a wrong round, not a wrong record
    b.screenshot("refused", "#s-verify")


def audit_walk(explored, tmp_path, docs: dict) -> subprocess.CompletedProcess:
    paths = []
    for name in ("proof", "tree", "multiproof"):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(docs[name]))
    args = [chain.provider.uri, explored.net.voting.address,
            explored.server.manifest.voting_block, *paths]  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(["node", str(AUDIT_WALK), *map(str, args)], capture_output=True,
                          text=True, cwd=root, timeout=120)  # fmt: skip


def test_audit_guide__walks_and_verifies_with_public_libraries_only(explored, tmp_path):
    voting = explored.net.voting
    done = audit_walk(explored, tmp_path, explored.docs)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["chainOk"], out["eventHeadsOk"], out["entries"]) == (True, True, 6)
    assert (out["proof"], out["tree"], out["multi"]) == (True, True, True)
    assert set(out["rounds"]) == set(explored.labels.values())
    assert all(r["descriptorOk"] for r in out["rounds"].values())
    members = [address(explored, w) for w in explored.plan.members]
    assert out["workers"] == {str(int(voting.workerInfo(a).index)): a for a in members}
    tampered = json.loads(json.dumps(explored.docs["tree"]))
    tampered["values"][0]["value"][3] = "1"
    done = audit_walk(explored, tmp_path, dict(explored.docs, tree=tampered))
    assert done.returncode == 1 and "Merkle tree does not contain the expected value" in done.stderr


def test_explorer__keeps_up_with_new_blocks(explored):
    b, pool = explored.browser, explored.pool
    epoch = int(pool.currentEpoch())
    before = int(b.js("return Number(document.body.dataset.block)"))
    pool.fund(epoch, 5 * 10**17, value=5 * 10**17, sender=accounts.test_accounts[0])
    b.wait(lambda: int(b.js("return Number(document.body.dataset.block)")) > before)
    header = b.wait(lambda: next((h.text for h in b.all("#rewards h3")
                                  if h.text.startswith(f"Epoch {epoch} ")), None))  # fmt: skip
    assert "pot 0.5000 ETH" in header
