"""The demo's local worker network: parameters, deployment, data, workers, scenarios, rewards.

Roles for n workers (scenarios on): w2 goes offline for rounds 2-3, w3 is fed corrupted data, the
last worker is a copier (played by the demo, not a real worker: it copies the first vote of another
worker than the opener and, in sealed mode, can only see votes once commits are closed). The other
workers are honest. The early opener is one more enrolled account, played by the demo: it opens
every round (and its re-run) with a wrong result before the workers see the trigger, and calls
finalize whenever the contract would take it; attempt 1 has no clock until `threshold` workers
voted, so it can neither cut the honest workers' window short nor fail a round.
Split round: only threshold-1 honest workers have the whole hour at first, a few have half of it,
the rest nothing, so attempt 1 fails; the missing data then arrives and attempt 2 reaches
consensus. Fallback round: the data stays split through both attempts and the plurality fallback
(at least threshold-1 votes) records the leading result.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import yaml

from scripts._localnet import EVENT_SUBJECT, HOUR, WorkerProcess, publish, worker_config
from worker.chain import decode_error
from worker.rounds import STATUS
from worker.state import FILE_NAME

if TYPE_CHECKING:
    from worker.descriptor import RoundNaming

DATA = Path(__file__).resolve().parent.parent / "examples" / "cfe"
WORKFLOW, CFE_REF = "cfe-24-7", "worker.workflows.cfe:run"
PARAMS = json.loads((DATA / "params.json").read_text())  # zones, the cross-zone area, tiers
SCENARIOS = ("offline", "corrupt", "copier", "split", "fallback", "opener")
WRONG = bytes.fromhex("0bad" * 16)  # the early opener's result


def load_hours() -> list[tuple[int, dict, dict]]:
    """(hour, production payload, consumption payload) of each hour of the bundled day
    (examples/cfe: EnergyTag-shaped certificates and meter readings)."""
    production = json.loads((DATA / "production.json").read_text())["production"]
    consumption = json.loads((DATA / "consumption.json").read_text())["consumption"]
    hours = sorted({r["start"] for r in production} | {r["start"] for r in consumption})
    return [
        (h, {"production": [r for r in production if r["start"] == h]},
         {"consumption": [r for r in consumption if r["start"] == h]})
        for h in hours
    ]  # fmt: skip


def corrupted(payload: dict) -> dict:
    """The payload with one device's reading 1 MWh too high and without its certificate bundle
    (a faulty registry feed)."""
    readings = [dict(r) for r in payload["production"]]
    readings[0]["wh"] += 1_000_000
    readings[0].pop("certificates", None)
    return {"production": readings}


@dataclass
class Plan:
    """Who does what in which round."""

    workers: int
    threshold: int
    rounds: int
    sealed: bool
    scenarios: frozenset[str]

    @property
    def offline(self) -> int | None:
        return 2 if "offline" in self.scenarios else None

    @property
    def corrupt(self) -> int | None:
        return 3 if "corrupt" in self.scenarios else None

    @property
    def copier(self) -> int | None:
        return self.workers if "copier" in self.scenarios else None

    @property
    def opener(self) -> int | None:
        """The early opener: one more enrolled account (test account workers + 1)."""
        return self.workers + 1 if "opener" in self.scenarios else None

    @property
    def members(self) -> list[int]:
        """Every enrolled account: the workers, then the early opener."""
        return list(range(1, self.workers + 1)) + ([self.opener] if self.opener else [])

    @property
    def honest(self) -> list[int]:
        roles = {self.corrupt, self.copier}
        return [i for i in range(1, self.workers + 1) if i not in roles]

    def kind(self, r: int) -> str:
        """What round `r` (0-based) plays: normal, split or fallback (the last rounds)."""
        special = [s for s in ("split", "fallback") if s in self.scenarios]
        index = r - (self.rounds - len(special))
        return special[index] if index >= 0 else "normal"

    def offline_in(self, r: int) -> bool:
        return self.offline is not None and r in (1, 2) and self.kind(r) == "normal"

    def check(self) -> None:
        """Raises ValueError when the scenarios cannot be played with these numbers."""
        if not 1 <= self.threshold <= self.workers:
            raise ValueError(f"threshold {self.threshold} must be between 1 and {self.workers}")
        if self.scenarios and self.workers < 5:
            raise ValueError("fault scenarios need at least 5 workers")
        special = len({"split", "fallback"} & self.scenarios)
        if self.rounds < special + (3 if "offline" in self.scenarios else 1):
            raise ValueError(f"{self.rounds} rounds are too few for the chosen scenarios")
        live = len(self.honest) - (1 if "offline" in self.scenarios else 0)
        if live < self.threshold:
            raise ValueError(f"only {live} honest workers online: threshold {self.threshold} "
                             "could never be reached")  # fmt: skip
        if special and self.threshold < 3:
            raise ValueError("split and fallback rounds need a threshold of at least 3")

    def data_for(self, r: int, attempt: int) -> dict[int, str]:
        """Worker -> "full" | "half" | "none" | "corrupt" for round r's data, per attempt."""
        kind, m = self.kind(r), self.threshold
        out = {}
        for rank, w in enumerate(self.honest):
            if kind == "normal" or (kind == "split" and attempt == 2):
                out[w] = "full"
            elif kind == "split":
                out[w] = "full" if rank < m - 1 else "half" if rank < 2 * m - 3 else "none"
            else:  # fallback: one half-data worker, the rest nothing
                out[w] = "full" if rank < m - 1 else "half" if rank == m - 1 else "none"
        if self.corrupt is not None:
            out[self.corrupt] = "corrupt"
        return out


def round_naming(config: Path) -> RoundNaming:
    """How the workers of `config` name their rounds (schedule and encoding of the descriptors)."""
    from worker.descriptor import RoundNaming
    from worker.workflow import load_workflow

    section = yaml.safe_load(config.read_text())["workflow"]
    workflow = load_workflow(section["ref"])
    params = workflow.parse_params(section.get("params") or {})
    return RoundNaming.of(section["name"], params, workflow.types)


def counters(voting: Any, address: str) -> SimpleNamespace:
    """A worker's counters over the settled rounds, off chain: eligible (joinedSeq <= seq and, once
    it left, seq < leftSeq; entries before joinedIndex never concern it), cast, in consensus,
    dissenting, missed. A consensus round still taking late votes is counted as it stands."""
    info = voting.workerInfo(address)
    length = int(voting.chainHead()[1])
    entries = voting.settledRounds(int(info.joinedIndex), length) if length else []
    bit, out = 1 << int(info.index), dict.fromkeys(("eligible", "cast", "agreed", "dissent"), 0)
    for r in entries:
        if int(r.seq) < int(info.joinedSeq) or (
            not info.active and int(r.seq) >= int(info.leftSeq)
        ):
            continue
        out["eligible"] += 1
        if int(r.voted) & bit:
            out["cast"] += 1
            out["agreed" if int(r.agreed) & bit else "dissent"] += 1
    missed = out["eligible"] - out["cast"]
    return SimpleNamespace(eligible=out["eligible"], cast=out["cast"], inConsensus=out["agreed"],
                           dissenting=out["dissent"], missed=missed)  # fmt: skip


def params_yaml(path: Path, plan: Plan, addresses: list[str]) -> Path:
    """A deploy parameter file (networks/local.yaml format) for the demo pool."""
    params = {
        "network": "ethereum:local",
        "chain_id": 31337,
        "pool": {"max_workers": max(16, plan.workers), "initial_workers": addresses},
        "voting": {
            "threshold": plan.threshold,
            "mode": "sealed" if plan.sealed else "open",
            "vote_duration": "6s",
            "reveal_duration": "6s" if plan.sealed else 0,
            "fallback": {"policy": "plurality", "min_votes": max(2, plan.threshold - 1)},
            "speed_rank": 3,
        },
        "reward": {
            "token": "native",
            "weights": {"availability": 2000, "consistency": 2000, "accuracy": 4000,
                        "speed": 2000},
            "epoch_length": "1h",
            "registration_window": "2h",  # >= max window (1 h) + 1 h
            "claim_expiry": "30d",
        },
    }  # fmt: skip
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@dataclass
class Network:
    """The running demo network: broker, workers and the contract bindings."""

    plan: Plan
    workdir: Path
    uri: str
    nats_url: str
    manifest: Path
    voting: Any
    workers: dict[int, WorkerProcess] = field(default_factory=dict)
    rounds: list[dict] = field(default_factory=list)  # label, hour, votingId, kind
    copier_log: list[str] = field(default_factory=list)
    opener_log: list[str] = field(default_factory=list)
    opener_address: str | None = None

    def subject(self, w: int) -> str:
        return f"grid.readings.w{w}"

    def start_workers(self) -> None:
        trigger = {"kind": "event", "subject": EVENT_SUBJECT}
        for w in range(1, self.plan.workers + 1):
            if w == self.plan.copier:
                continue
            config = worker_config(self.workdir, f"w{w}", f"TEST::{w}",
                                   f"ethereum:local:{self.uri}", self.manifest, self.nats_url,
                                   trigger, poll_interval=0.25, workflow_name=WORKFLOW,
                                   workflow_ref=CFE_REF)  # fmt: skip
            data = yaml.safe_load(config.read_text())
            data["source"]["subject"] = self.subject(w)
            data["workflow"]["params"] = PARAMS
            config.write_text(yaml.safe_dump(data))
            self.workers[w] = WorkerProcess(f"w{w}", config, self.workdir / f"w{w}.log")
            self.workers[w].start()

    def stop_workers(self) -> None:
        for p in self.workers.values():
            p.stop()

    def feed(self, r: int, hour: int, gen: dict, con: dict, attempt: int) -> None:
        """Publishes round r's data to each worker's subject, as the plan says, and waits until
        every running worker has stored its share (so a round never starts on half its data)."""
        expected = {}
        for w, what in self.plan.data_for(r, attempt).items():
            bad = corrupted(gen)
            parts = {"full": [gen, con], "half": [gen], "none": [], "corrupt": [bad, con]}
            for i, payload in enumerate(parts[what]):
                publish(self.nats_url, self.subject(w), payload, msg_id=f"{hour}-{w}-{i}-{what}")
            expected[w] = len(parts[what])
        deadline = time.monotonic() + 15
        for w, count in expected.items():
            process = self.workers.get(w)
            if process is None or process.process.poll() is not None or count == 0:
                continue
            while self.stored(w, hour) < count and time.monotonic() < deadline:
                time.sleep(0.05)

    def stored(self, w: int, hour: int) -> int:
        """How many payloads of `hour` worker w has stored (read from its state file)."""
        path = self.workdir / f"w{w}" / "state" / FILE_NAME
        if not path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            try:
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM inputs WHERE window_start >= ? AND window_end <= ?",
                    (hour, hour + HOUR),
                ).fetchone()
            except sqlite3.OperationalError:
                return 0  # NOTE: the worker is still creating its tables
        return count

    def trigger(self, label: str, hour: int) -> None:
        event = {"key": label, "window_start": hour, "window_end": hour + HOUR}
        publish(self.nats_url, EVENT_SUBJECT, event, msg_id=f"event-{label}")

    def status(self, vid: bytes) -> tuple[str, int]:
        state = self.voting.roundState(vid)
        return STATUS[int(state.status)], int(state.attempt)


class Copier(threading.Thread):
    """A lazy worker: copies the first vote of each round it watches instead of computing."""

    def __init__(self, net: Network, account: Any) -> None:
        super().__init__(daemon=True, name="copier")
        self.net, self.account = net, account
        self.watch: dict[bytes, str] = {}  # votingId -> label
        self.stop = threading.Event()

    def run(self) -> None:
        done: set[bytes] = set()
        while not self.stop.wait(0.1):
            for vid, label in list(self.watch.items()):
                if vid not in done and self._try(vid, label):
                    done.add(vid)

    def _try(self, vid: bytes, label: str) -> bool:
        voting = self.net.voting
        state = voting.roundState(vid)
        status = STATUS[int(state.status)]
        if status == "None" or int(state.voted) == 0:
            return False  # nothing cast yet (sealed mode: nothing revealed), nothing to copy
        result = self._first_vote(vid)
        if result is None:
            return False
        function = "commit" if state.sealedMode else "vote"
        call = {"from": self.account.address, "to": voting.address,
                "data": bytes(getattr(voting, function).encode_input(vid, result))}  # fmt: skip
        try:
            voting.provider.web3.eth.estimate_gas(call, "pending")
        except Exception as exc:  # NOTE: the contract refuses the copy; that is the point
            decoded = decode_error(getattr(exc, "data", None))
            reason = decoded[0] if decoded else type(exc).__name__
            self.net.copier_log.append(f"{label}: {function} of a copy refused ({reason})")
            return True
        getattr(voting, function)(vid, result, sender=self.account)
        self.net.copier_log.append(f"{label}: copied {result.hex()[:10]}")
        return True

    def _first_vote(self, vid: bytes) -> bytes | None:
        from ape import chain

        height = chain.blocks.height + 1
        for log in self.net.voting.VoteCast.range(0, height, search_topics={"votingId": vid}):
            if log.worker != self.net.opener_address:  # NOTE: the demo's copier skips the opener
                return bytes(log.result)
        return None


class EarlyOpener(threading.Thread):
    """An enrolled account that opens every round first with a wrong result (and votes it again in
    the re-run), and sends finalize whenever the contract would accept it."""

    def __init__(self, net: Network, account: Any) -> None:
        super().__init__(daemon=True, name="opener")
        self.net, self.account = net, account
        self.rounds: dict[bytes, list] = {}  # votingId -> [label, descriptor, attempts voted]
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def open(self, label: str, descriptor: tuple) -> None:
        """Opens the round about `descriptor` with a wrong result, before anyone else can."""
        with self.lock:
            vid = self.net.voting.descriptorId(descriptor)
            self._cast(vid, descriptor, 1, opening=True)
            self.rounds[bytes(vid)] = [label, descriptor, {1}]
            self.log(label, "opened it with a wrong result")

    def run(self) -> None:
        while not self.stop.wait(0.2):
            with self.lock:
                for vid, (label, descriptor, voted) in list(self.rounds.items()):
                    try:
                        self._tick(vid, label, descriptor, voted)
                    except Exception as exc:  # NOTE: a passing RPC fault; next tick tries again
                        self.log(label, f"tick failed: {type(exc).__name__}", once=True)

    def _tick(self, vid: bytes, label: str, descriptor: tuple, voted: set) -> None:
        state = self.net.voting.roundState(vid)
        status = STATUS[int(state.status)]
        if status in ("Voting", "Committing") and int(state.attempt) not in voted:
            self._cast(vid, descriptor, int(state.attempt))  # the re-run: wrong again, at once
            voted.add(int(state.attempt))
            self.log(label, f"voted wrong again in attempt {state.attempt}")
        if status == "Revealing" and not int(state.voted) & (1 << self.index):
            self._send("reveal", vid, WRONG, self.salt(vid, int(state.attempt)))
        if status in ("Voting", "Committing", "Revealing", "AwaitingFailover"):
            if self._send("finalize", vid):
                self.log(label, f"finalized attempt {state.attempt} ({status})")
            elif int(state.deadline) == 0:
                self.log(label, "finalize refused: no clock before the quorum", once=True)
        elif status != "AwaitingFailover":
            del self.rounds[vid]  # settled

    @property
    def index(self) -> int:
        return int(self.net.voting.workerInfo(self.account.address).index)

    def salt(self, vid: bytes, attempt: int) -> bytes:
        return bytes(vid[:16]) + attempt.to_bytes(16, "big")

    def _cast(self, vid: bytes, descriptor: tuple, attempt: int, opening: bool = False) -> None:
        voting = self.net.voting
        if self.net.plan.sealed:
            salt = self.salt(vid, attempt)
            value = voting.commitmentOf(WRONG, salt, self.account.address, vid, attempt)
            name, args = ("openAndCommit", descriptor) if opening else ("commit", vid)
        else:
            value, (name, args) = WRONG, (("openAndVote", descriptor) if opening else ("vote", vid))
        self._send(name, args, value)

    def _send(self, function: str, *args: Any) -> bool:
        """Sends `function(*args)` if a gas estimate says the contract accepts it."""
        voting = self.net.voting
        data = bytes(getattr(voting, function).encode_input(*args))
        call = {"from": self.account.address, "to": voting.address, "data": data}
        try:
            voting.provider.web3.eth.estimate_gas(call, "pending")
            getattr(voting, function)(*args, sender=self.account)
        except Exception:  # NOTE: refused (or beaten to it by a worker); it tries again later
            return False
        return True

    def log(self, label: str, text: str, once: bool = False) -> None:
        line = f"{label}: {text}"
        if not (once and line in self.net.opener_log):
            self.net.opener_log.append(line)
