// Chain access of the explorer: ABIs (human-readable, as ethers takes them), the provider behind the
// server's read-only RPC relay, event pages, block times and batched view calls.
import { ethers } from "/vendor/ethers.min.js";

// Enums are uint8 in the ABI; their names, by value (IWorkerVotingTypes.Status, Fallback).
export const STATUS = ["None", "Voting", "Committing", "Revealing", "Consensus", "Plurality",
  "FailoverResolved", "Failed", "AwaitingFailover"];
export const RECORDED = new Set(["Consensus", "Plurality", "FailoverResolved"]);
export const SETTLED = new Set([...RECORDED, "Failed"]);
export const FALLBACK = ["AlertOnly", "AcceptPlurality", "Failover"];
export const CATEGORIES = ["availability", "consistency", "accuracy", "speed"];

const ROUND_VIEW = "tuple(uint8 status, uint8 attempt, uint8 threshold, uint8 eligibleCount, " +
  "uint8 leaderVotes, bool tied, bool sealedMode, uint32 deadline, uint32 seq, " +
  "uint16 configVersion, uint64 voted, uint64 early, uint64 committed, uint64 dissent, " +
  "bytes32 result)";
const POINTS = "tuple(uint32 availability, uint32 consistency, uint32 accuracy, uint32 speed)";

export const VOTING_ABI = [
  "event WorkerAdded(address indexed worker, uint8 index, uint32 joinedSeq)",
  "event WorkerRemoved(address indexed worker, address indexed by, uint32 leftSeq)",
  "event ConfigUpdated(uint16 indexed version, uint8 threshold, bool sealedMode, " +
    "uint32 voteDuration, uint32 revealDuration, uint8 fallbackPolicy, uint8 pluralityMinVotes, " +
    "uint8 speedRank, address failover, uint32 failoverTimeout)",
  "event Paused(address account)",
  "event Unpaused(address account)",
  "event RoundDescribed(bytes32 indexed votingId, bytes32 indexed schedule, uint64 windowStart, " +
    "uint64 windowEnd, bytes32 eventKey, bytes32 encoding)",
  "event RoundOpened(bytes32 indexed votingId, uint8 attempt, uint32 seq, uint8 threshold, " +
    "uint8 eligible, uint32 deadline)",
  "event RoundStarted(bytes32 indexed votingId, uint8 attempt, uint32 deadline)",
  "event VoteCast(bytes32 indexed votingId, address indexed worker, uint8 attempt, " +
    "bytes32 result, bool late)",
  "event VoteCommitted(bytes32 indexed votingId, address indexed worker, uint8 attempt)",
  "event ResultRecorded(bytes32 indexed votingId, bytes32 indexed result, uint8 kind, " +
    "uint8 attempt, uint8 votes, uint256 chainIndex, bytes32 head)",
  "event RoundReopened(bytes32 indexed votingId, uint32 deadline)",
  "event RoundFailed(bytes32 indexed votingId, uint8 fallbackPolicy, uint256 chainIndex, " +
    "bytes32 head)",
  "event FailoverRequested(bytes32 indexed votingId, address failover, uint32 timeoutAt)",
  "function genesis() view returns (bytes32)",
  "function chainHead() view returns (bytes32 head, uint256 length)",
  "function chainEntry(uint256 index) view returns (tuple(bytes32 votingId, bytes32 result, " +
    "uint8 attempt, uint8 votes, uint8 kind))",
  `function roundState(bytes32 votingId) view returns (${ROUND_VIEW})`,
  "function resultOf(bytes32 votingId) view returns (bytes32)",
  "function workerInfo(address worker) view returns (tuple(bool active, bool retired, " +
    "uint8 index, uint32 joinedSeq, uint32 leftSeq, uint32 late, uint32 joinedIndex))",
  "function verifyRecord(bytes32 votingId, bytes32[] proof, bytes encodedRecord) view " +
    "returns (bool)",
  "function verifyRecords(bytes32 votingId, bytes32[][] proofs, bytes[] encodedRecords) view " +
    "returns (bool)",
  "error VotingNotRecorded(bytes32 votingId, uint8 status)",
  "error VotingUnknownRound(bytes32 votingId)",
];

export const REWARDS_ABI = [
  "event Funded(uint256 indexed epoch, address indexed funder, uint256 amount)",
  `event PointsRegistered(uint256 indexed epoch, address indexed worker, ${POINTS} points)`,
  "event EpochSettled(uint256 indexed epoch, uint256 pot, uint64[4] totals, uint256 rolledOver, " +
    "uint256 toEpoch)",
  "event Claimed(uint256 indexed epoch, address indexed worker, address indexed caller, " +
    "uint256 amount)",
  "event Swept(uint256 indexed epoch, uint256 amount, uint256 toEpoch)",
  "function currentEpoch() view returns (uint256)",
  "function epochTimes(uint256 epoch) view returns (uint256 begins, uint256 ends, " +
    "uint256 registrationEnds)",
  "function epochInfo(uint256 epoch) view returns (tuple(uint256 pot, uint256 paid, " +
    "uint256 movedOut, uint32 firstIndex, uint32 endIndex, bool ended, bool settled, bool swept, " +
    "uint16[4] weights, uint64[4] totals))",
  `function registration(uint256 epoch, address worker) view returns (bool registered, ` +
    `bool claimed, ${POINTS} points, uint256 cursor, uint256 end)`,
];

// head' = keccak256(abi.encode(head, index, votingId, result, attempt, votes, kind))
const PARALLEL = 8;  // eth_getLogs pages in flight at once
const LINK_TYPES = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"];
export const coder = ethers.AbiCoder.defaultAbiCoder();

export function nextHead(head, index, entry) {
  return ethers.keccak256(coder.encode(LINK_TYPES, [head, index, entry.votingId, entry.result,
    entry.attempt, entry.votes, entry.kind]));
}

export function genesisOf(chainId, voting) {
  return ethers.keccak256(coder.encode(["uint256", "address"], [chainId, voting]));
}

// Reads one deployment through the relay. `page` blocks per eth_getLogs request, up to `batch`
// calls per JSON-RPC batch (1: no batches, for a node that refuses them).
export class Reader {
  constructor(deployment, page, batch = 100) {
    this.deployment = deployment;
    this.page = page;
    // NOTE: ethers sends calls made in the same tick as one JSON-RPC batch (up to 100).
    this.provider = new ethers.JsonRpcProvider(new URL("/rpc", location.href).href,
      deployment.chainId, { staticNetwork: true, batchMaxCount: batch, batchStallTime: 5 });
    this.voting = new ethers.Contract(deployment.voting, VOTING_ABI, this.provider);
    this.rewards = new ethers.Contract(deployment.rewards, REWARDS_ABI, this.provider);
    this.interfaces = new Map([[deployment.voting.toLowerCase(), this.voting.interface],
      [deployment.rewards.toLowerCase(), this.rewards.interface]]);
    this.times = new Map();  // block number -> timestamp
    this.pages = 0;
  }

  blockNumber() {
    return this.provider.getBlockNumber();
  }

  // Decoded events of both contracts in [from, to], one eth_getLogs per `page` blocks, PARALLEL
  // pages at a time (ethers sends them in one JSON-RPC batch).
  async events(from, to, onPage) {
    const ranges = [];
    for (let start = from; start <= to; start += this.page) {
      ranges.push([start, Math.min(to, start + this.page - 1)]);
    }
    const out = [];
    for (let k = 0; k < ranges.length; k += PARALLEL) {
      const group = ranges.slice(k, k + PARALLEL);
      const pages = await Promise.all(group.map(([start, end]) => this.provider.getLogs({
        address: [this.deployment.voting, this.deployment.rewards], fromBlock: start, toBlock: end })));
      this.pages += group.length;
      for (const log of pages.flat()) {
        const parsed = this.interfaces.get(log.address.toLowerCase())?.parseLog(log);
        if (parsed) {
          out.push({ name: parsed.name, args: parsed.args, block: log.blockNumber,
            tx: log.transactionHash, logIndex: log.index });
        }
      }
      if (onPage) onPage(group.at(-1)[1], to);
    }
    await this.blockTimes(out.map((e) => e.block));
    for (const e of out) e.time = this.times.get(e.block);
    return out;
  }

  async blockTimes(numbers) {
    const missing = [...new Set(numbers)].filter((n) => !this.times.has(n));
    const blocks = await Promise.all(missing.map((n) => this.provider.getBlock(n)));
    blocks.forEach((b, i) => this.times.set(missing[i], Number(b.timestamp)));
  }

  // Calls `fn(arg)` for every arg at once, so that ethers batches them.
  all(args, fn) {
    return Promise.all(args.map(fn));
  }
}

export { ethers };
