"""The demo's terminal view: rounds with each worker's vote, workers with their counters."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from scripts._demo_net import Network
from worker.rounds import STATUS

MARKS = {
    "agree": ("✓", "green"),
    "dissent": ("✗", "red"),
    "voted": ("●", "cyan"),
    "committed": ("c", "yellow"),
    "none": ("·", "dim"),
}
STATUS_STYLE = {"Consensus": "green", "Plurality": "yellow", "Failed": "red",
                "Voting": "cyan", "Committing": "cyan", "Revealing": "magenta"}  # fmt: skip


def role(net: Network, w: int) -> str:
    plan = net.plan
    return {plan.offline: "offline", plan.corrupt: "corrupt", plan.copier: "copier",
            plan.opener: "opener"}.get(w, "honest")  # fmt: skip


def marks(state: Any, index: int, status: str) -> str:
    """The vote mark of the worker at pool `index` in a round's state."""
    bit = 1 << index
    if int(state.voted) & bit:
        if status in ("Consensus", "Plurality", "FailoverResolved"):
            return "dissent" if int(state.dissent) & bit else "agree"
        return "voted"
    return "committed" if int(state.committed) & bit else "none"


def rounds_table(net: Network, states: dict[bytes, Any], indices: dict[int, int]) -> Table:
    table = Table(title="Rounds", title_justify="left", expand=False)
    for name in ("round", "hour", "plays", "status", "try"):
        table.add_column(name)
    for w in net.plan.members:
        table.add_column("op" if w == net.plan.opener else f"w{w}", justify="center")
    table.add_column("result")
    for info in net.rounds:
        state = states.get(info["voting_id"])
        if state is None:
            continue
        status = STATUS[int(state.status)]
        hour = datetime.fromtimestamp(info["hour"], timezone.utc).strftime("%H:00")
        cells = []
        for w in net.plan.members:
            mark, style = MARKS[marks(state, indices[w], status)]
            cells.append(Text(mark, style=style))
        result = bytes(state.result).hex()
        shown = "0x" + result[:6] if int(result, 16) else ""
        table.add_row(info["label"], hour, info["kind"],
                      Text(status, style=STATUS_STYLE.get(status, "")), str(state.attempt),
                      *cells, shown)  # fmt: skip
    return table


def workers_table(net: Network, stats: dict[int, Any], extra: dict[int, dict] | None = None
                  ) -> Table:  # fmt: skip
    table = Table(title="Workers", title_justify="left")
    heads = ["worker", "role", "rounds", "votes", "agreed", "dissent", "missed"]
    if extra:
        heads += ["points", "claimed"]
    for name in heads:
        table.add_column(name, justify="left" if name in ("worker", "role") else "right")
    for w in net.plan.members:
        s = stats.get(w)
        row = ["op" if w == net.plan.opener else f"w{w}", role(net, w)]
        row += [str(v) for v in (s.eligible, s.cast, s.inConsensus, s.dissenting, s.missed)] if s \
            else ["", "", "", "", ""]  # fmt: skip
        if extra:
            e = extra.get(w, {})
            row += ["/".join(map(str, e.get("points", ()))), e.get("claimed", "")]
        table.add_row(*row)
    return table


def render(net: Network, states: dict[bytes, Any], stats: dict[int, Any], indices: dict[int, int],
           note: str = "", extra: dict | None = None) -> Group:  # fmt: skip
    """The whole view as one renderable."""
    legend = Text(
        "✓ agreed  ✗ dissented  ● voted  c committed  · nothing;  points: availability"
        "/consistency/accuracy/speed",
        style="dim",
    )
    parts: list[Any] = [rounds_table(net, states, indices), legend,
                        workers_table(net, stats, extra)]  # fmt: skip
    if net.copier_log:
        parts.append(Text("copier: " + "; ".join(net.copier_log[-4:]), style="yellow"))
    if net.opener_log:
        parts.append(Text("early opener: " + "; ".join(net.opener_log[-4:]), style="magenta"))
    if note:
        parts.append(Text(note, style="bold"))
    return Group(*parts)
