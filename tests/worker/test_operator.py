"""The operator's surface, through real `worker` processes: read-only commands without the key and
with pure JSON on stdout, the trigger x workflow refusal, `proof --find`, and `/health` naming the
data source when it is down from the start."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml
from ape import chain
from eth_account import Account

from tests.worker import localnet as ln
from tests.worker.natsutil import free_port
from worker.state import StateStore
from worker.workflow import output_tree, run_workflow

MATCHING = "worker.workflows.matching:run"


def cli(*args, env=None, timeout=120):
    """A `worker` subprocess without a terminal: stdin closed, stdout and stderr apart."""
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], cwd=ln.ROOT,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def write_config(path, **sections):
    path.write_text(yaml.safe_dump(sections))
    return path


def store_config(tmp_path, trigger=None):
    """A config whose chain is never contacted (the commands read the local store only)."""
    return write_config(
        tmp_path / "worker.yaml",
        chain={"network": "ethereum:local:http://127.0.0.1:9", "account": "worker-1",
               "manifest": str(tmp_path / "none.json")},
        source={"kind": "http", "name": "meters", "url": "http://127.0.0.1:9/readings"},
        trigger=trigger or {"kind": "interval"},
        workflow={"ref": MATCHING, "name": "matching-test"},
        state={"directory": str(tmp_path / "state")},
    )  # fmt: skip


def test_run__period_shorter_than_the_workflow_window_refused_with_the_reason(tmp_path):
    config = store_config(tmp_path, trigger={"kind": "interval", "period": 60})

    done = cli("run", "--config", str(config))

    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: trigger: trigger.period 60 s can never contain a payload of {MATCHING}: its "
        "payloads span 3600 s (WINDOW); use a period of 3600 s or a multiple of it"
    )


def test_proof_find_and_rounds__pure_json_on_stdout_no_key(tmp_path):
    config = store_config(tmp_path)
    hour = ln.previous_hour()
    tree = output_tree(run_workflow(MATCHING, [ln.hour_payload(hour)], {}))
    vid = ln.NAMING.window(hour, hour + ln.HOUR).voting_id
    with StateStore(tmp_path / "state") as store:
        store.put_round(vid, 1, tree, window=(hour, hour + ln.HOUR))

    found = cli("proof", "-c", str(config), "--find", "consumer=factory",
                "--find", "generator=gen-solar", "--json")  # fmt: skip
    listed = cli("rounds", "-c", str(config), "--json")
    missing = cli("proof", "-c", str(config), "--find", "consumer=nobody", "--json")
    unknown = cli("proof", "-c", str(config), "--find", "site=factory")

    assert found.returncode == 0, found.stderr
    docs = json.loads(found.stdout)
    assert [d["record"][:3] for d in docs] == [["factory", "gen-solar", str(hour)]]
    assert docs[0]["voting_id"] == "0x" + vid.hex() and docs[0]["root"] == tree.root
    rows = json.loads(listed.stdout)
    assert [(r["voting_id"], r["window"], r["status"], r["my_vote"], r["outcome"]) for r in rows] \
        == [("0x" + vid.hex(), [hour, hour + ln.HOUR], "computed", None, None)]  # fmt: skip
    assert (missing.returncode, json.loads(missing.stdout)) == (1, [])
    assert unknown.returncode == 2
    assert "unknown field 'site' (fields: consumer, generator, hour, wh" in unknown.stderr


@pytest.fixture
def keystore(tmp_path, accounts):
    """Ape's data folder with a keystore account `worker-1` of test account 1."""
    folder = tmp_path / "ape"
    (folder / "accounts").mkdir(parents=True)
    document = Account.encrypt(accounts[1].private_key, "correct horse", iterations=2)
    (folder / "accounts" / "worker-1.json").write_text(json.dumps(document))
    return folder


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return None, {}


@pytest.mark.anvil
def test_keystore_worker__status_without_passphrase_health_names_the_dead_source(
    deploy, keystore, accounts, tmp_path
):
    _, manifest = deploy(1, 1)
    port, dead = free_port(), free_port()
    config = write_config(
        tmp_path / "worker.yaml",
        chain={"network": f"ethereum:local:{chain.provider.uri}", "manifest": str(manifest),
               "account": "worker-1", "passphrase_env": "TEST_WORKER_PASSPHRASE",
               "confirmations": 0, "poll_interval": 0.5},
        source={"kind": "http", "name": "meters", "url": f"http://127.0.0.1:{dead}/readings",
                "poll_interval": 1, "timeout": 1, "retries": 0},
        trigger={"kind": "interval"},
        workflow={"ref": MATCHING, "name": "matching-test"},
        state={"directory": str(tmp_path / "state")},
        metrics={"port": port},
        logging={"format": "json", "level": "INFO"},
    )  # fmt: skip
    env = {"APE_DATA_FOLDER": str(keystore)}

    status = cli("status", "-c", str(config), "--json", env=env)
    checked = cli("check", "-c", str(config), "--json", env=env)

    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["address"] == accounts[1].address
    assert checked.returncode == 1
    results = {c["check"]: c for c in json.loads(checked.stdout)["checks"]}
    assert [name for name, c in results.items() if not c["ok"]] == ["source"]
    assert f"127.0.0.1:{dead}" in results["source"]["detail"]
    assert results["enrolment"]["detail"].startswith(f"{accounts[1].address} is an active worker")
    log = tmp_path / "w1.log"
    proc = ln.WorkerProcess("w1", config, log, env={**env, "TEST_WORKER_PASSPHRASE":
                                                    "correct horse"})  # fmt: skip
    proc.start()
    try:
        code, report = ln.wait_for(lambda: (h := health(port))[1].get("reasons", {}).get("source")
                                   and h, 60, what="the source's reason")  # fmt: skip
    finally:
        proc.stop(timeout=10)
    time.sleep(0.1)
    assert code == 503 and report["live"] is True and report["ready"] is False
    assert report["reasons"]["source"].startswith("source 'meters' fails (never succeeded): ")
    assert report["components"]["enrolment"]["ok"] is True
    assert report["components"]["windows"]["waiting"] >= 23
    lines = [json.loads(line) for line in proc.output().splitlines()]  # every line is JSON
    messages = [line["message"] for line in lines]
    assert f"account worker-1 ({accounts[1].address}) unlocked for signing" in messages
    assert not any("Danger!" in m or "cached key" in m for m in messages)
    tracked = next(line for line in lines if line["message"].startswith("round "))
    assert set(tracked) >= {"voting_id", "window"}
