"""The operator install: the wheel goes into a fresh virtualenv outside the checkout with pip and
runs `worker status` and `worker run` against anvil with no Node, npm, solc or checkout; the
systemd unit verifies against that install."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ape import chain

from tests.worker import localnet as ln

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".build" / "wheelhouse"  # the dependencies' wheels, built once per lock file
UNIT = ROOT / "deploy" / "systemd" / "ewc-worker.service"
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def run(command, **kwargs):
    # NOTE: never the test's PYTHONPATH: pip would find the checkout's egg-info and install nothing.
    kwargs.setdefault("env", {k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def wheelhouse(wheel: Path) -> Path:
    """Wheels of the worker's dependencies at the pinned versions (from pip's cache or the
    registry the first time, reused while requirements.txt and the dependencies are the same)."""
    key = hashlib.sha256((ROOT / "requirements.txt").read_bytes()
                         + (ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]  # fmt: skip
    stamp = WHEELHOUSE / f".complete-{key}"
    if not stamp.is_file():
        shutil.rmtree(WHEELHOUSE, ignore_errors=True)
        run([*PIP, "wheel", "-q", "-w", str(WHEELHOUSE), "-c", str(ROOT / "requirements.txt"),
             str(wheel)])  # fmt: skip
        stamp.touch()
    return WHEELHOUSE


@pytest.fixture(scope="module")
def operator_venv(tmp_path_factory):
    """The wheel installed with pip into a new virtualenv outside the checkout."""
    work = tmp_path_factory.mktemp("operator")
    started = time.monotonic()
    wheel = Path(run(["bash", str(ROOT / "tools" / "build_wheel.sh"), str(work / "dist")])
                 .stdout.strip().splitlines()[-1])  # fmt: skip
    built = time.monotonic()
    house = wheelhouse(wheel)
    housed = time.monotonic()
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    # NOTE: this pip installs into the new venv (`--python`); no byte-compiling keeps it fast.
    run([*PIP, "--python", str(venv / "bin" / "python"), "install", "-q", "--no-compile",
         "--no-index", "--find-links", str(house), str(wheel)])  # fmt: skip
    print(
        f"\nwheel {built - started:.1f} s, wheelhouse {housed - built:.1f} s, "
        f"install {time.monotonic() - housed:.1f} s"
    )
    return venv


def operator_env(work: Path, venv: Path) -> dict:
    """An environment without the checkout, Node, npm or solc: only the venv on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WORKER_", "PYTHON", "SOLCX", "VIRTUAL_ENV"))}  # fmt: skip
    return {**env, "PATH": str(venv / "bin"), "HOME": str(work), "PYTHONUNBUFFERED": "1",
            "APE_DATA_FOLDER": str(work / "ape")}  # fmt: skip


def test_operator_install__has_no_dev_toolchain(operator_venv):
    python = str(operator_venv / "bin" / "python")
    code = ("import importlib.util as u, worker.chain as c, worker.cli_common as cli;"
            "print([m for m in ('ape_solidity', 'ape_foundry', 'solcx', 'matplotlib', 'scripts')"
            " if u.find_spec(m)]); print(c.ABI_DIR); print(cli._project_dir(None));"
            "from worker.build_info import revision; print(revision())")  # fmt: skip
    done = run([python, "-c", code], cwd=operator_venv.parent,
               env=operator_env(operator_venv.parent, operator_venv))  # fmt: skip
    missing, abi_dir, project, revision = done.stdout.split("\n")[:4]
    assert missing == "[]"
    head = run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"]).stdout.strip()
    assert revision == head  # stamped into the wheel by tools/build_wheel.sh
    assert abi_dir.startswith(str(operator_venv)) and project.startswith(str(operator_venv))
    assert not any((operator_venv / "bin" / b).exists() for b in ("node", "npm", "solc", "anvil"))


def test_operator_install__bundled_networks_match_the_checkout():
    bundled = yaml.safe_load((ROOT / "worker" / "project" / "ape-config.yaml").read_text())
    checkout = yaml.safe_load((ROOT / "ape-config.yaml").read_text())
    assert bundled["networks"] == checkout["networks"] and bundled["node"] == checkout["node"]


def test_operator_install__status_and_run_against_anvil(operator_venv, deploy, broker, tmp_path):
    voting, manifest = deploy(1, 1)
    work = tmp_path / "operator"
    config = ln.worker_config(
        work,
        "w1",
        "TEST::1",
        f"ethereum:local:{chain.provider.uri}",
        manifest,
        broker.url,
        {"kind": "event", "subject": ln.EVENT_SUBJECT},
    )
    env, worker = operator_env(work, operator_venv), str(operator_venv / "bin" / "worker")
    status = run([worker, "status", "--config", str(config)], cwd=work, env=env)
    assert "active" in status.stdout.lower(), status.stdout

    log = (work / "run.log").open("wb")
    process = subprocess.Popen([worker, "run", "--config", str(config)], cwd=work, env=env,
                               stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    output = lambda: (work / "run.log").read_text(errors="replace")  # noqa: E731
    try:
        ln.wait_for(lambda: "running (pool index" in output() or process.poll() is not None, 90,
                    what="the installed worker running")  # fmt: skip
        assert process.poll() is None, output()[-3000:]
        hour = ln.previous_hour()
        ln.publish(broker.url, ln.DATA_SUBJECT, ln.hour_payload(hour), msg_id=f"h{hour}")
        event = {"key": "wheel", "window_start": hour, "window_end": hour + ln.HOUR}
        ln.publish(broker.url, ln.EVENT_SUBJECT, event)
        vid = ln.NAMING.event("wheel").voting_id
        ln.wait_for(lambda: int(voting.roundState(vid).status) == 4, 30, what="its vote decides")
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0, output()[-3000:]


def test_systemd_unit__verifies_against_the_install(operator_venv, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text()
    assert "/opt/ewc-worker/venv/bin/worker run" in text
    unit = tmp_path / "ewc-worker.service"
    unit.write_text(text.replace("/opt/ewc-worker/venv", str(operator_venv)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for setting in (
        "Restart=on-failure",
        "RestartPreventExitStatus=3 4 5",
        "NoNewPrivileges=yes",
        "LoadCredential=passphrase:",
        "WORKER_CHAIN__PASSPHRASE_FILE=%d/passphrase",
    ):
        assert setting in text  # fmt: skip
