// What the page knows of a deployment, built from its events and views and kept up to date:
// rounds with their attempts and votes, workers, the result chain (recomputed here) and epochs.
import { CATEGORIES, RECORDED, SETTLED, STATUS, genesisOf, nextHead } from "./chain.js";

export class Model {
  constructor(reader) {
    this.reader = reader;
    this.cursor = reader.deployment.fromBlock - 1;  // last block whose events are in
    this.rounds = new Map();  // votingId -> round
    this.workers = new Map();  // address -> worker
    this.byIndex = new Map();  // pool index -> address
    this.heads = new Map();  // chain index -> head from ResultRecorded / RoundFailed
    this.entries = [];  // chain entries read so far, with the recomputed head after each
    this.chain = null;  // the result of the last chain check
    this.epochs = [];
    this.current = 0;
    this.now = 0;
    this.claims = [];
    this.funded = [];
    this.config = null;
    this.block = null;
  }

  round(votingId) {
    let r = this.rounds.get(votingId);
    if (!r) {
      r = { votingId, descriptor: null, attempts: new Map(), state: null, recorded: null,
        failed: null, failover: null };
      this.rounds.set(votingId, r);
    }
    return r;
  }

  attempt(r, n) {
    if (!r.attempts.has(n)) r.attempts.set(n, { attempt: n, votes: new Map(), commits: new Map() });
    return r.attempts.get(n);
  }

  // Reads what is new up to the latest block; returns whether anything changed. Views are read
  // again only where something can have changed: rounds, workers and epochs named by new events,
  // rounds still open or taking late votes, and the current epoch.
  async refresh(onPage) {
    const latest = await this.reader.blockNumber();
    if (latest === this.block) return false;
    const events = await this.reader.events(this.cursor + 1, latest, onPage);
    await this.reader.blockTimes([latest]);
    this.cursor = latest;
    this.block = latest;
    this.now = this.reader.times.get(latest);
    const touched = { rounds: new Set(), workers: new Set(), epochs: new Set(), joined: false };
    for (const e of events) this.apply(e, touched);
    await this.readViews(touched);
    return true;
  }

  apply(e, touched) {
    const a = e.args;
    const at = { block: e.block, time: e.time, tx: e.tx };
    if (a.worker) touched.workers.add(a.worker);
    if (a.epoch !== undefined) touched.epochs.add(Number(a.epoch));
    switch (e.name) {
      case "WorkerAdded":
        touched.joined = true;
        this.workers.set(a.worker, { address: a.worker, index: Number(a.index),
          joinedSeq: Number(a.joinedSeq), leftSeq: null, added: at });
        this.byIndex.set(Number(a.index), a.worker);
        return;
      case "WorkerRemoved":
        this.workers.get(a.worker).leftSeq = Number(a.leftSeq);
        return;
      case "ConfigUpdated":
        this.config = { version: Number(a.version), threshold: Number(a.threshold),
          sealedMode: a.sealedMode, voteDuration: Number(a.voteDuration),
          speedRank: Number(a.speedRank) };
        return;
      case "Funded":
        this.funded.push({ epoch: Number(a.epoch), amount: a.amount, ...at });
        return;
      case "Claimed":
        this.claims.push({ epoch: Number(a.epoch), worker: a.worker, amount: a.amount, ...at });
        return;
    }
    if (!a.votingId) return;
    const r = this.round(a.votingId);
    touched.rounds.add(a.votingId);
    switch (e.name) {
      case "RoundDescribed":
        r.descriptor = { schedule: a.schedule, windowStart: Number(a.windowStart),
          windowEnd: Number(a.windowEnd), eventKey: a.eventKey, encoding: a.encoding };
        break;
      case "RoundOpened":
        Object.assign(this.attempt(r, Number(a.attempt)), { opened: at, seq: Number(a.seq),
          threshold: Number(a.threshold), eligible: Number(a.eligible) });
        if (Number(a.attempt) === 1) r.seq = Number(a.seq);
        break;
      case "RoundStarted":
        this.attempt(r, Number(a.attempt)).started = at;
        break;
      case "VoteCommitted":
        this.attempt(r, Number(a.attempt)).commits.set(a.worker, at);
        break;
      case "VoteCast":
        this.attempt(r, Number(a.attempt)).votes.set(a.worker, { result: a.result,
          late: a.late, ...at });
        break;
      case "ResultRecorded":
        r.recorded = { result: a.result, kind: STATUS[Number(a.kind)], attempt: Number(a.attempt),
          votes: Number(a.votes), chainIndex: Number(a.chainIndex), head: a.head, ...at };
        this.heads.set(Number(a.chainIndex), a.head);
        break;
      case "RoundFailed":
        r.failed = { chainIndex: Number(a.chainIndex), head: a.head, ...at };
        this.heads.set(Number(a.chainIndex), a.head);
        break;
      case "FailoverRequested":
        r.failover = { failover: a.failover, timeoutAt: Number(a.timeoutAt), ...at };
        break;
    }
  }

  async readViews(touched) {
    const { reader } = this;
    const { voting, rewards } = reader;
    const open = [...this.rounds.values()].filter((r) => touched.rounds.has(r.votingId) ||
      !r.state || !SETTLED.has(r.state.status) ||
      (r.state.status === "Consensus" && r.state.deadline >= this.now));
    const workers = [...touched.workers].filter((w) => this.workers.has(w));
    const [states, infos, head, epoch] = await Promise.all([
      reader.all(open, (r) => voting.roundState(r.votingId)),
      reader.all(workers, (w) => voting.workerInfo(w)),
      voting.chainHead(),
      rewards.currentEpoch(),
    ]);
    open.forEach((r, i) => { r.state = roundView(states[i]); });
    workers.forEach((w, i) => { Object.assign(this.workers.get(w), { info: infos[i].toObject() }); });
    await this.readChain(head);
    await this.readEpochs(Number(epoch), touched.epochs, touched.joined);
  }

  // Reads the chain entries not read yet and recomputes every head from genesis.
  async readChain([head, length]) {
    const { voting } = this.reader;
    const have = this.entries.length;
    const indices = Array.from({ length: Number(length) - have }, (_, i) => have + i);
    const read = await this.reader.all(indices, (i) => voting.chainEntry(i));
    let walked = have ? this.entries[have - 1].head : genesisOf(this.reader.deployment.chainId,
      this.reader.deployment.voting);
    read.forEach((entry, k) => {
      const e = { votingId: entry.votingId, result: entry.result, attempt: Number(entry.attempt),
        votes: Number(entry.votes), kind: Number(entry.kind) };
      walked = nextHead(walked, have + k, e);
      this.entries.push({ ...e, index: have + k, kindName: STATUS[e.kind], head: walked });
    });
    const recomputed = this.entries.length ? this.entries.at(-1).head : walked;
    const eventsAgree = this.entries.every((e) => !this.heads.has(e.index) ||
      this.heads.get(e.index) === e.head);
    this.chain = { length: Number(length), head, recomputed, ok: recomputed === head && eventsAgree,
      eventsAgree };
    for (const e of this.entries) {
      const r = this.rounds.get(e.votingId);
      if (r) r.entry = e;
    }
  }

  // Epochs not read yet, named by new events, or current (its chain range grows without events).
  async readEpochs(current, named, newWorkers) {
    const { reader } = this;
    const { rewards } = reader;
    const known = new Map(this.epochs.map((e) => [e.epoch, e]));
    const numbers = Array.from({ length: current + 1 }, (_, i) => i).filter((n) => !known.has(n) ||
      named.has(n) || n >= this.current - 1 || n === current || newWorkers);
    this.current = current;
    const workers = [...this.workers.keys()];
    const pairs = numbers.flatMap((e) => workers.map((w) => [e, w]));
    const [list, timeList, regs] = await Promise.all([
      reader.all(numbers, (e) => rewards.epochInfo(e)),
      reader.all(numbers, (e) => rewards.epochTimes(e)),
      reader.all(pairs, ([e, w]) => rewards.registration(e, w)),
    ]);
    const infos = new Map(numbers.map((n, i) => [n, list[i]]));
    const times = new Map(numbers.map((n, i) => [n, timeList[i]]));
    const fresh = numbers.map((n) => {
      const info = infos.get(n);
      const pot = info.pot;
      const weights = info.weights.map(Number);
      const totals = info.totals.map((t) => BigInt(t));
      const pots = weights.map((w) => (pot * BigInt(w)) / 10000n);
      pots[3] = pot - pots[0] - pots[1] - pots[2];  // the contract gives the remainder to speed
      const perWorker = new Map();
      pairs.forEach(([e, w], i) => {
        if (e !== n) return;
        const reg = regs[i];
        const points = CATEGORIES.map((c) => BigInt(reg.points[c]));
        // NOTE: the contract's cumulative offsets make shares add up exactly; pro rata here.
        const shares = points.map((p, c) => (totals[c] ? (pots[c] * p) / totals[c] : 0n));
        const claimed = this.claims.filter((c) => c.epoch === n && c.worker === w);
        perWorker.set(w, { registered: reg.registered, claimed: reg.claimed, points, shares,
          paid: claimed.reduce((s, c) => s + c.amount, 0n), claims: claimed });
      });
      return { epoch: n, pot, paid: info.paid, movedOut: info.movedOut, ended: info.ended,
        settled: info.settled, weights, totals, pots, first: Number(info.firstIndex),
        end: Number(info.endIndex), begins: Number(times.get(n).begins),
        ends: Number(times.get(n).ends),
        perWorker };
    });
    for (const e of fresh) known.set(e.epoch, e);
    this.epochs = [...known.values()].sort((a, b) => a.epoch - b.epoch);
  }

  // ------------------------------------------------------------------------------------------
  // Derived views
  // ------------------------------------------------------------------------------------------

  label(address) {
    const w = this.workers.get(address);
    return w ? `#${w.index}` : address.slice(0, 8);
  }

  // Settled rounds with what each worker did in the final attempt, ordered by opening.
  sortedRounds() {
    return [...this.rounds.values()].sort((a, b) => (opened(a) ?? 0) - (opened(b) ?? 0));
  }

  // Per worker over the rounds opened in [from, to] (unix seconds; null: no bound).
  workerStats(from, to) {
    const stats = new Map();
    for (const w of this.workers.values()) {
      stats.set(w.address, { worker: w, eligible: 0, voted: 0, agreed: 0, dissent: 0, late: 0,
        missed: 0, latencies: [], missedRounds: [], lateRounds: [] });
    }
    for (const r of this.rounds.values()) {
      const t = opened(r);
      if (!r.state || !SETTLED.has(r.state.status) || !r.entry) continue;
      if ((from != null && t < from) || (to != null && t > to)) continue;
      const final = r.attempts.get(r.state.attempt || 1);
      const recorded = RECORDED.has(r.state.status) ? r.state.result : null;
      for (const s of stats.values()) {
        const w = s.worker;
        if (r.seq < w.joinedSeq || (w.leftSeq != null && r.seq >= w.leftSeq)) continue;
        s.eligible += 1;
        const vote = final?.votes.get(w.address);
        if (!vote) {
          s.missed += 1;
          s.missedRounds.push(r.votingId);
          continue;
        }
        s.voted += 1;
        if (vote.late) { s.late += 1; s.lateRounds.push(r.votingId); }
        if (recorded && vote.result === recorded) s.agreed += 1;
        else if (recorded) s.dissent += 1;
        const latency = voteLatency(final, w.address);
        if (latency != null) s.latencies.push(latency);
      }
    }
    for (const s of stats.values()) {
      s.rate = s.agreed + s.dissent ? s.agreed / (s.agreed + s.dissent) : null;
      s.median = median(s.latencies);
    }
    return stats;
  }
}

// A RoundView with small numbers as Number and the status by name (masks stay BigInt).
function roundView(v) {
  const o = v.toObject();
  for (const k of ["attempt", "threshold", "eligibleCount", "leaderVotes", "deadline", "seq"]) {
    o[k] = Number(o[k]);
  }
  o.status = STATUS[Number(v.status)];
  return o;
}

export function opened(r) {
  return r.attempts.get(1)?.opened?.time;
}

export function settledAt(r) {
  return (r.recorded ?? r.failed)?.time;
}

// Seconds from the attempt's opening to the worker's first act in it (sealed: its commit).
export function voteLatency(attempt, address) {
  const act = attempt.commits.get(address) ?? attempt.votes.get(address);
  if (!act || !attempt.opened) return null;
  return act.time - attempt.opened.time;
}

export function median(values) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
