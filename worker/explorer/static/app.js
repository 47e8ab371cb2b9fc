// The explorer page: loads the deployment, keeps the model up with new blocks, renders the views.
import { CATEGORIES, RECORDED, Reader, ethers } from "./chain.js";
import { bars, timeline } from "./charts.js";
import { Model, opened, settledAt, voteLatency } from "./model.js";
import { verifyDocument } from "./verify.js";

const params = new URLSearchParams(location.search);
const POLL_MS = Number(params.get("poll") ?? 3000);
const PAGE_BLOCKS = Number(params.get("page") ?? 2000);
const BATCH = Number(params.get("batch") ?? 100);
const $ = (sel) => document.querySelector(sel);
const short = (h) => (h ? `${h.slice(0, 10)}…` : "");
const esc = (t) => String(t ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const when = (t) => (t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "");
const secs = (s) => (s == null ? "" : `${Math.round(s * 10) / 10} s`);
let model;
let symbol = "EWT";

function roundLabel(r) {
  const d = r.descriptor;
  if (!d) return short(r.votingId);
  if (d.windowEnd) return `window ${when(d.windowStart).slice(5, 16)}–${when(d.windowEnd).slice(11, 16)}`;
  return `event ${short(d.eventKey)}`;
}

function workerCell(address) {
  return `<span class="worker" title="${address}">${model.label(address)} ${address.slice(0, 8)}</span>`;
}

function renderSummary() {
  const dep = model.reader.deployment;
  const c = model.chain;
  $("#summary").innerHTML = `
    <span>chain ${dep.chainId}${dep.network ? ` (${esc(dep.network)})` : ""}</span>
    <span>voting <code>${dep.voting}</code></span><span>rewards <code>${dep.rewards}</code></span>
    <span>block <b id="block">${model.block}</b></span>
    <span id="chain-check" data-ok="${c.ok}" class="${c.ok ? "ok" : "bad"}">${c.ok ? "✓" : "✗"}
      result chain: ${c.length} entries, head ${short(c.head)} ${c.ok ? "recomputed from genesis" :
      `but recomputed ${short(c.recomputed)}`}</span>`;
}

function renderRounds() {
  const open = new Set([...document.querySelectorAll("details.round[open]")].map((d) => d.dataset.votingId));
  const rows = model.sortedRounds().reverse().map((r) => {
    const s = r.state ?? {};
    const entry = r.entry;
    const attempts = [...r.attempts.values()].sort((a, b) => a.attempt - b.attempt);
    const votes = attempts.map((a) => voteRows(r, a)).join("");
    const d = r.descriptor ?? {};
    return `<details class="round" data-voting-id="${r.votingId}" data-status="${s.status}"
        data-attempt="${s.attempt}" ${open.has(r.votingId) ? "open" : ""}>
      <summary><span class="label">${esc(roundLabel(r))}</span>
        <span class="status s-${s.status}">${s.status}${s.attempt > 1 ? " (re-run)" : ""}</span>
        <span>attempt ${s.attempt}</span><span>${s.leaderVotes}/${s.threshold} of ${s.eligibleCount}</span>
        <span class="result">${RECORDED.has(s.status) ? short(s.result) : ""}</span>
        <span>opened ${when(opened(r))}</span><span>settled ${when(settledAt(r))}</span></summary>
      <div class="detail">
        <p>votingId <code>${r.votingId}</code>${entry ? `, chain entry ${entry.index}, head after it
          <code>${short(entry.head)}</code> (recomputed)` : ""}</p>
        <p>descriptor: schedule <code>${short(d.schedule)}</code>, ${d.windowEnd
          ? `window ${when(d.windowStart)} – ${when(d.windowEnd)} (${d.windowStart}–${d.windowEnd})`
          : `event key <code>${short(d.eventKey)}</code>`}, encoding <code>${short(d.encoding)}</code></p>
        <table class="votes"><tr><th>attempt</th><th>worker</th><th>result</th><th>verdict</th>
          <th>from opening</th><th>block</th></tr>${votes}</table>
      </div></details>`;
  });
  $("#rounds").innerHTML = rows.join("") || "<p class='muted'>no rounds yet</p>";
}

function voteRows(r, a) {
  const s = r.state;
  const final = a.attempt === s.attempt;
  const out = [];
  const act = (w) => (a.commits.get(w) ?? a.votes.get(w)).block;
  const seen = [...new Set([...a.votes.keys(), ...a.commits.keys()])].sort((x, y) => act(x) - act(y));
  for (const w of seen) {
    const v = a.votes.get(w);
    let verdict = v ? "voted" : "committed";
    if (v && final && RECORDED.has(s.status)) verdict = v.result === s.result ? "agree" : "dissent";
    else if (v && !final) verdict = "earlier attempt";
    if (v?.late) verdict += " late";
    out.push(`<tr class="vote" data-worker="${w}" data-attempt="${a.attempt}" data-verdict="${verdict}">
      <td>${a.attempt}</td><td>${workerCell(w)}</td><td><code>${short(v?.result)}</code></td>
      <td class="v-${verdict.split(" ")[0]}">${verdict}</td><td>${secs(voteLatency(a, w))}</td>
      <td>${(v ?? a.commits.get(w)).block}</td></tr>`);
  }
  const eligible = (w) => r.seq >= w.joinedSeq && (w.leftSeq == null || r.seq < w.leftSeq);
  for (const w of [...model.workers.values()].filter((x) => !seen.includes(x.address) && eligible(x))) {
    out.push(`<tr class="vote" data-worker="${w.address}" data-attempt="${a.attempt}" data-verdict="missed">
      <td>${a.attempt}</td><td>${workerCell(w.address)}</td><td></td><td>missed</td><td></td><td></td></tr>`);
  }
  return out.join("");
}

function period() {
  const from = $("#period-from").value ? Date.parse($("#period-from").value) / 1000 : null;
  const to = $("#period-to").value ? Date.parse($("#period-to").value) / 1000 : null;
  return [from, to];
}

// The labels of rounds, for a tooltip ("which rounds?").
function names(votingIds) {
  return votingIds.map((id) => roundLabel(model.rounds.get(id))).join(", ");
}

function renderWorkers() {
  const stats = [...model.workerStats(...period()).values()].sort((a, b) => a.worker.index - b.worker.index);
  const pct = (v) => (v == null ? "–" : `${Math.round(v * 100)}%`);
  $("#workers-table").innerHTML = `<tr><th>worker</th><th>eligible</th><th>voted</th><th>agreed</th>
    <th>dissent</th><th>late</th><th>missed</th><th>agreement</th><th>median latency</th></tr>` +
    stats.map((s) => `<tr class="worker-row" data-address="${s.worker.address}">
      <td>${workerCell(s.worker.address)}</td><td data-col="eligible">${s.eligible}</td>
      <td data-col="voted">${s.voted}</td><td data-col="agreed">${s.agreed}</td>
      <td data-col="dissent">${s.dissent}</td>
      <td data-col="late" title="${esc(names(s.lateRounds))}">${s.late}</td>
      <td data-col="missed" title="${esc(names(s.missedRounds))}">${s.missed}</td><td data-col="rate">${pct(s.rate)}</td>
      <td data-col="latency">${secs(s.median)}</td></tr>`).join("");
  const label = (s) => model.label(s.worker.address);
  const [from, to] = period();
  const points = [];
  for (const r of model.rounds.values()) {
    const t = opened(r);
    if (!t || (from != null && t < from) || (to != null && t > to)) continue;
    for (const a of r.attempts.values()) {
      for (const w of new Set([...a.votes.keys(), ...a.commits.keys()])) {
        const y = voteLatency(a, w);
        if (y != null) points.push({ x: a.opened.time, y, series: model.label(w) });
      }
    }
  }
  $("#workers-charts").innerHTML =
    bars("Agreement rate", stats.map((s) => ({ label: label(s), parts: [s.rate == null ? null : s.rate * 100] })),
      { format: (v) => `${Math.round(v)}%`, max: 100 }) +
    bars("Eligible rounds: agreed / dissented / missed", stats.map((s) => ({ label: label(s),
      parts: [s.agreed, s.dissent, s.voted - s.agreed - s.dissent, s.missed] })),
    { legend: ["agreed", "dissent", "voted, round failed", "missed"] }) +
    bars("Late votes (after consensus)", stats.map((s) => ({ label: label(s), parts: [s.late] }))) +
    bars("Median time from opening to vote", stats.map((s) => ({ label: label(s), parts: [s.median] })),
      { format: (v) => `${Math.round(v * 10) / 10} s` }) +
    timeline("Time from opening to vote, per attempt", points, stats.map(label));
}

function amount(wei) {
  return `${Number(ethers.formatEther(wei)).toFixed(4)} ${symbol}`;
}

function renderRewards() {
  const parts = [];
  for (const e of [...model.epochs].reverse()) {
    const rows = [...e.perWorker.entries()].filter(([, w]) => w.registered || w.paid > 0n);
    const head = `<h3>Epoch ${e.epoch} <small>${when(e.begins)} – ${when(e.ends)}; pot ${amount(e.pot)},
      paid ${amount(e.paid)}, rolled over ${amount(e.movedOut)}; chain entries ${e.first}–${e.end};
      weights ${e.weights.map((w, i) => `${CATEGORIES[i]} ${w / 100}%`).join(", ")}${e.ended ? "" : "; running"}</small></h3>`;
    if (!rows.length) { parts.push(`${head}<p class="muted">no registered points yet</p>`); continue; }
    const table = rows.map(([address, w]) => `<tr class="reward" data-epoch="${e.epoch}" data-address="${address}"
        data-claimed="${w.claimed}"><td>${workerCell(address)}</td>
        ${w.points.map((p, c) => `<td data-col="${CATEGORIES[c]}">${p} <small>≈ ${amount(w.shares[c])}</small></td>`).join("")}
        <td data-col="claimed">${w.claimed ? amount(w.paid) : "not claimed"}</td>
        <td>${w.claims.map((c) => `<code title="${c.tx}">${short(c.tx)}</code>`).join(" ")}</td></tr>`).join("");
    const chart = bars(`Epoch ${e.epoch}: share by category (${symbol})`, rows.map(([address, w]) => ({
      label: model.label(address), parts: w.shares.map((s) => Number(ethers.formatEther(s))) })),
    { legend: CATEGORIES, format: (v) => v.toFixed(4) });
    parts.push(`${head}<table class="rewards"><tr><th>worker</th>${CATEGORIES.map((c) => `<th>${c}</th>`).join("")}
      <th>claimed</th><th>claim tx</th></tr>${table}</table>${chart}`);
  }
  $("#rewards").innerHTML = parts.join("") || "<p class='muted'>no epochs</p>";
}

function render() {
  renderSummary();
  renderRounds();
  renderWorkers();
  renderRewards();
  document.body.dataset.block = model.block;
}

async function tick() {
  try {
    if (await model.refresh()) render();
    $("#live").textContent = `live: polled ${new Date().toISOString().slice(11, 19)}`;
  } catch (err) {
    $("#live").textContent = `node error: ${err.shortMessage ?? err.message}`;
  }
  setTimeout(tick, POLL_MS);
}

async function check(text) {
  const out = $("#verify-result");
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    out.dataset.ok = "false";
    out.innerHTML = `<p class="bad">✗ not JSON: ${esc(err.message)}</p>`;
    return;
  }
  out.dataset.ok = "";
  out.innerHTML = "<p>checking …</p>";
  const report = await verifyDocument(model, doc);
  const mark = (ok) => (ok === null ? "–" : ok ? "✓" : "✗");
  out.innerHTML = `<p class="${report.ok ? "ok" : "bad"} verdict">${report.ok ? "VERIFIED" : "NOT VERIFIED"}:
      ${esc(report.kind)} of round <code>${esc(report.votingId)}</code></p><ul>` +
    report.checks.map((c) => `<li class="check ${c.ok === null ? "skip" : c.ok ? "ok" : "bad"}" data-name="${esc(c.name)}"
      data-ok="${c.ok}">${mark(c.ok)} <b>${esc(c.name)}</b>: ${esc(c.detail)}</li>`).join("") + "</ul>";
  out.dataset.ok = String(report.ok);
}

function wireVerify() {
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file) check(await file.text());
  });
  $("#file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (file) check(await file.text());
  });
  $("#check").addEventListener("click", () => check($("#doc-text").value));
}

async function main() {
  const started = performance.now();
  const deployment = await (await fetch("/api/deployment")).json();
  if (deployment.chainId === 246 || deployment.chainId === 73799) symbol = deployment.chainId === 246 ? "EWT" : "VT";
  else symbol = "ETH";
  model = new Model(new Reader(deployment, PAGE_BLOCKS, BATCH));
  await model.refresh((done, to) => { $("#live").textContent = `loading events: block ${done} of ${to}`; });
  render();
  $("#live").textContent = `loaded to block ${model.block}; watching for new blocks`;
  document.body.dataset.loadMs = String(Math.round(performance.now() - started));
  document.body.dataset.ready = "1";
  for (const id of ["#period-from", "#period-to"]) $(id).addEventListener("change", renderWorkers);
  wireVerify();
  setTimeout(tick, POLL_MS);
}

main().catch((err) => {
  $("#live").textContent = `failed to load: ${err.shortMessage ?? err.message}`;
  document.body.dataset.error = String(err.message);
});
