"""The main job: a local worker network of real worker processes, with fault scenarios.

Usage: ape run demo --network ethereum:local:foundry [--workers 7 --threshold 4] [--sealed]
       [--scenario offline --scenario corrupt ... | --no-faults] [--rounds 8] [--headless] [--hold]

Starts a NATS JetStream broker, deploys the contracts through the deploy script (a generated
parameter file), funds the reward pool, starts one `worker run` process per worker, and feeds one
hour of the bundled 24/7 CFE data set per round (examples/cfe: certificates and meter readings of
three zones, matched by the `cfe` workflow with the network's tiers), triggering each round with
a settlement event. An early opener (one more enrolled account) opens every round with a wrong
result before the workers see the trigger and calls finalize whenever it can; the honest workers
still decide. A live view shows every round and vote; at the end the epoch's rewards are
registered and claimed by each worker with `worker claim`, one record is exported and verified
with `worker proof` and `worker verify`, and a summary is printed. Everything started is stopped
on exit or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import LogLevel, logger
from rich.console import Console
from rich.live import Live

from scripts._demo_net import (
    SCENARIOS,
    Copier,
    EarlyOpener,
    Network,
    Plan,
    counters,
    load_hours,
    params_yaml,
    round_naming,
)
from scripts._demo_view import render, role
from scripts._deployment import open_deployment
from scripts._localnet import ROOT, NatsServer, ensure_stream, port_busy, wait_running, worker_cli
from worker.registration import DEFAULT_CHUNK
from worker.rounds import SETTLED

WORKDIR = ROOT / ".demo"


class Demo:
    """One demo run on the connected chain (see the module docstring)."""

    def __init__(self, provider: Any, plan: Plan, workdir: Path, nats_port: int | None,
                 console: Console | None) -> None:  # fmt: skip
        self.provider, self.plan, self.workdir, self.console = provider, plan, workdir, console
        self.nats_port = nats_port
        self.owner = accounts.test_accounts[0]
        self.addresses = {w: accounts.test_accounts[w].address for w in plan.members}
        self.live: Live | None = None
        self.note = ""

    # ---------------------------------------------------------------------------------------------
    # Setting up and tearing down
    # ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def network(self) -> Iterator[Network]:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        if self.nats_port and port_busy(self.nats_port):
            raise click.UsageError(f"port {self.nats_port} is busy: pass another --nats-port")
        with NatsServer(self.workdir / "nats", self.nats_port) as broker:
            ensure_stream(broker.url)
            from scripts.deploy import execute, preflight  # NOTE: late, see `ape run` loading

            self.say("deploying through the deploy script ...")
            addresses = list(self.addresses.values())
            params = params_yaml(self.workdir / "params.yaml", self.plan, addresses)
            deployments = self.workdir / "deployments"
            plan = preflight(self.provider, self.owner, params, deployments, True, "3 ether")
            execute(plan, self.owner)
            deployment = open_deployment(self.provider, plan.manifest, deployments)
            self.rewards = deployment.rewards
            net = Network(self.plan, self.workdir, self.provider.uri, broker.url, plan.manifest,
                          deployment.voting)  # fmt: skip
            self.indices = {w: int(net.voting.workerInfo(a).index)
                            for w, a in self.addresses.items()}  # fmt: skip
            helpers: list[Any] = []
            self.copier = self.opener = None
            try:
                self.say(f"starting {self.plan.workers} workers ...")
                net.start_workers()
                wait_running(list(net.workers.values()))
                self.naming = round_naming(next(iter(net.workers.values())).config)
                if self.plan.copier is not None:
                    self.copier = Copier(net, accounts.test_accounts[self.plan.copier])
                    helpers.append(self.copier)
                if self.plan.opener is not None:
                    net.opener_address = self.addresses[self.plan.opener]
                    self.opener = EarlyOpener(net, accounts.test_accounts[self.plan.opener])
                    helpers.append(self.opener)
                for helper in helpers:
                    helper.start()
                yield net
            finally:
                for helper in helpers:
                    helper.stop.set()
                    helper.join(timeout=5)
                net.stop_workers()

    # ---------------------------------------------------------------------------------------------
    # Rounds
    # ---------------------------------------------------------------------------------------------

    def play(self, net: Network) -> None:
        """Plays every round of the plan, one after the other."""
        hours = load_hours()
        for r in range(self.plan.rounds):
            hour, gen, con = hours[r % len(hours)]
            label = f"r{r + 1}"
            descriptor = self.naming.event(label)  # the event key is the label
            vid = descriptor.voting_id
            kind = self.plan.kind(r)
            net.rounds.append({"label": label, "hour": hour, "voting_id": vid, "kind": kind})
            self._offline(net, r)
            net.feed(r, hour, gen, con, attempt=1)
            if self.copier is not None and kind == "normal":
                self.copier.watch[vid] = label
            if self.opener is not None:
                self.opener.open(label, tuple(descriptor))  # first, before the trigger is out
            net.trigger(label, hour)
            self.say(f"round {label}: {kind}")
            self._settle(net, r, vid, hour, gen, con)

    def _offline(self, net: Network, r: int) -> None:
        w = self.plan.offline
        if w is None:
            return
        process = net.workers[w]
        if self.plan.offline_in(r) and process.process.poll() is None:
            process.stop()
        elif not self.plan.offline_in(r) and process.process.poll() is not None:
            # NOTE: back only once the missed rounds are closed, else it would still vote late.
            pending = self.provider.web3.eth.get_block
            for info in net.rounds[:-1]:
                deadline = int(net.voting.roundState(info["voting_id"]).deadline)
                while int(pending("pending")["timestamp"]) <= deadline:
                    self.refresh(net)
                    time.sleep(0.25)
            process.start()

    def _settle(self, net: Network, r: int, vid: bytes, hour: int, gen: dict, con: dict) -> None:
        started, late_data = time.monotonic(), self.plan.kind(r) == "split"
        while True:
            status, _attempt = net.status(vid)
            if status in SETTLED:
                time.sleep(0.5)  # the remaining workers' late votes land
                return
            if late_data and time.monotonic() - started > 3:
                net.feed(r, hour, gen, con, attempt=2)  # the missing data arrives late
                late_data = False
            if time.monotonic() - started > 180:
                raise click.ClickException(f"round {r} did not settle within 180 s")
            self.refresh(net)
            time.sleep(0.25)

    # ---------------------------------------------------------------------------------------------
    # Rewards and audit
    # ---------------------------------------------------------------------------------------------

    def rewards_epoch(self, net: Network) -> dict[int, dict]:
        """Ends the epoch (chain time), registers every worker, claims with `worker claim`."""
        rewards = self.rewards
        epoch = int(rewards.currentEpoch())
        _begins, ends, registration_ends = rewards.epochTimes(epoch)
        chain.pending_timestamp = int(ends) + 1
        chain.mine()
        for address in self.addresses.values():
            while not rewards.registration(epoch, address).registered:
                rewards.register(epoch, address, DEFAULT_CHUNK, sender=self.owner)
        chain.pending_timestamp = int(registration_ends) + 1
        chain.mine()
        self.say("claiming rewards with `worker claim` ...")
        procs = {}
        for w, process in net.workers.items():
            command = [sys.executable, "-m", "worker.cli", "claim", "--config",
                       str(process.config), "--epoch", str(epoch), "--yes"]  # fmt: skip
            procs[w] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)  # fmt: skip
        for w in (self.plan.copier, self.plan.opener):
            if w is not None:  # played by the demo: it claims for itself
                rewards.claim(epoch, self.addresses[w], sender=accounts.test_accounts[w])
        for proc in procs.values():
            proc.wait(timeout=180)
        out = {}
        claimed = {log.worker: int(log.amount)
                   for log in rewards.Claimed.range(0, chain.blocks.height + 1)}  # fmt: skip
        for w, address in self.addresses.items():
            points = rewards.registration(epoch, address).points
            out[w] = {"points": tuple(int(p) for p in points),
                      "claimed_wei": claimed.get(address, 0),
                      "claimed": f"{claimed.get(address, 0) / 1e18:.4f}"}  # fmt: skip
        return out

    def audit(self, net: Network) -> str:
        """Exports record 0 of the first round with `worker proof` and checks it with `verify`."""
        first = net.rounds[0]
        config = str(net.workers[min(net.workers)].config)
        proof = self.workdir / "record.json"
        exported = worker_cli("proof", "--config", config, "0x" + first["voting_id"].hex(), "0",
                              timeout=60)  # fmt: skip
        proof.write_text(exported.stdout)
        checked = worker_cli("verify", str(proof), "--network", f"ethereum:local:{net.uri}",
                             "--manifest", str(net.manifest))  # fmt: skip
        return checked.stdout + checked.stderr

    # ---------------------------------------------------------------------------------------------
    # View
    # ---------------------------------------------------------------------------------------------

    def say(self, note: str) -> None:
        self.note = note
        if self.console is not None and self.live is None:
            self.console.print(note)

    def snapshot(self, net: Network) -> tuple[dict, dict]:
        states = {info["voting_id"]: net.voting.roundState(info["voting_id"])
                  for info in net.rounds}  # fmt: skip
        stats = {w: counters(net.voting, a) for w, a in self.addresses.items()}
        return states, stats

    def refresh(self, net: Network, extra: dict | None = None) -> Any:
        if self.live is None and extra is None:
            return None
        states, stats = self.snapshot(net)
        view = render(net, states, stats, self.indices, self.note, extra)
        if self.live is not None:
            self.live.update(view)
        return view


@click.command(cls=ConnectedProviderCommand)
@click.option("--workers", default=7, show_default=True, help="Worker processes to run.")
@click.option("--threshold", default=4, show_default=True, help="Votes needed for consensus.")
@click.option("--rounds", default=8, show_default=True, help="Rounds (hours of data) to play.")
@click.option("--sealed", is_flag=True, help="Sealed mode: commit, then reveal.")
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice(SCENARIOS),
    help="Fault scenario to play (repeatable); default: all of them.",
)
@click.option("--no-faults", is_flag=True, help="Play without any fault scenario.")
@click.option("--headless", is_flag=True, help="No live view: plain progress lines.")
@click.option("--hold", is_flag=True, help="Keep the network up after the summary until Ctrl-C.")
@click.option("--nats-port", type=int, default=None, help="Broker port (default: a free one).")
def cli(provider, workers, threshold, rounds, sealed, scenarios, no_faults, headless, hold,
        nats_port) -> None:  # fmt: skip
    """Run a local worker network end to end: real workers, real broker, real contracts."""
    logger.set_level(LogLevel.WARNING)
    chosen = frozenset() if no_faults else frozenset(scenarios or SCENARIOS)
    plan = Plan(workers, threshold, rounds, sealed, chosen)
    try:
        plan.check()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if max(plan.members) + 1 > len(accounts.test_accounts):
        raise click.BadParameter(f"at most {len(accounts.test_accounts) - 2} workers")
    console = Console()
    demo = Demo(provider, plan, WORKDIR, nats_port, console)
    mode = "sealed" if sealed else "open"
    console.print(f"[bold]{workers} workers, threshold {threshold}, {mode} mode, "
                  f"scenarios: {', '.join(sorted(chosen)) or 'none'}[/bold]")  # fmt: skip
    with demo.network() as net:
        if headless:
            demo.play(net)
        else:
            with Live(console=console, refresh_per_second=4) as live:
                demo.live = live
                demo.play(net)
                demo.refresh(net)
            demo.live = None
        net.stop_workers()
        extra = demo.rewards_epoch(net)
        console.print(demo.refresh(net, extra))
        console.print(demo.audit(net))
        config = net.workers[min(net.workers)].config
        console.print(
            "Audit any record while the chain runs (--hold keeps it up):\n"
            f"  worker proof --config {config} 0x<votingId> <index> > record.json\n"
            f"  worker verify record.json --network ethereum:local:{net.uri} "
            f"--manifest {net.manifest}"
        )
        for w in sorted(extra):
            console.print(f"  w{w} ({role(net, w)}): points {extra[w]['points']}, "
                          f"claimed {extra[w]['claimed']} ETH")  # fmt: skip
        if hold:
            from worker.explorer.server import ExplorerServer

            explorer = ExplorerServer(net.uri, net.manifest, port=0 if port_busy(8700) else 8700)
            explorer.start()
            console.print(f"Explorer (rounds, votes, rewards, record checks): {explorer.url}")
            console.print("Holding the network up; Ctrl-C to stop.")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(1)
