// docs/AUDIT.md as a program: an auditor with ethers and @openzeppelin/merkle-tree only.
// argv: RPC_URL VOTING_ADDRESS FROM_BLOCK PROOF_JSON TREE_JSON MULTIPROOF_JSON
// stdout: {"chainOk", "entries", "eventHeadsOk", "rounds": {votingId: {"descriptorOk", "status"}},
//          "workers": {index: address}, "proof", "tree", "multi"} (each check true or false)
// Run it from the project root so that require() finds node_modules.
"use strict";

const fs = require("fs");
const { ethers } = require("ethers");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const ABI = [
  "event WorkerAdded(address indexed worker, uint8 index, uint32 joinedSeq)",
  "event RoundDescribed(bytes32 indexed votingId, bytes32 indexed schedule, uint64 windowStart, uint64 windowEnd, bytes32 eventKey, bytes32 encoding)",
  "event ResultRecorded(bytes32 indexed votingId, bytes32 indexed result, uint8 kind, uint8 attempt, uint8 votes, uint256 chainIndex, bytes32 head)",
  "event RoundFailed(bytes32 indexed votingId, uint8 fallbackPolicy, uint256 chainIndex, bytes32 head)",
  "function chainHead() view returns (bytes32 head, uint256 length)",
  "function chainEntry(uint256 index) view returns (tuple(bytes32 votingId, bytes32 result, uint8 attempt, uint8 votes, uint8 kind))",
  "function resultOf(bytes32 votingId) view returns (bytes32)",
  "function verifyRecord(bytes32 votingId, bytes32[] proof, bytes encodedRecord) view returns (bool)",
  "function verifyRecords(bytes32 votingId, bytes32[][] proofs, bytes[] encodedRecords) view returns (bool)",
];
const PAGE = 10;

async function main() {
  const [url, address, fromText, proofPath, treePath, multiPath] = process.argv.slice(2);
  const provider = new ethers.JsonRpcProvider(url);
  const voting = new ethers.Contract(address, ABI, provider);
  const coder = ethers.AbiCoder.defaultAbiCoder();
  const chainId = (await provider.getNetwork()).chainId;

  // The result chain, recomputed from genesis.
  let head = ethers.keccak256(coder.encode(["uint256", "address"], [chainId, address]));
  const types = ["bytes32", "uint32", "bytes32", "bytes32", "uint8", "uint8", "uint8"];
  const [reported, length] = await voting.chainHead();
  const heads = [];
  for (let i = 0; i < Number(length); i++) {
    const e = await voting.chainEntry(i);
    head = ethers.keccak256(coder.encode(types, [head, i, e.votingId, e.result, e.attempt, e.votes, e.kind]));
    heads.push(head);
  }
  const out = { chainOk: head === reported, entries: Number(length), rounds: {}, workers: {} };

  // Events, page by page.
  const latest = await provider.getBlockNumber();
  let eventHeadsOk = true;
  for (let from = Number(fromText); from <= latest; from += PAGE) {
    const logs = await provider.getLogs({ address, fromBlock: from, toBlock: Math.min(latest, from + PAGE - 1) });
    for (const log of logs) {
      const event = voting.interface.parseLog(log);
      if (!event) continue;
      const a = event.args;
      if (event.name === "WorkerAdded") out.workers[Number(a.index)] = a.worker;
      if (event.name === "RoundDescribed") {
        const id = ethers.keccak256(coder.encode(["bytes32", "uint64", "uint64", "bytes32", "bytes32"],
          [a.schedule, a.windowStart, a.windowEnd, a.eventKey, a.encoding]));
        out.rounds[a.votingId] = { descriptorOk: id === a.votingId };
      }
      if (event.name === "ResultRecorded" || event.name === "RoundFailed") {
        eventHeadsOk = eventHeadsOk && heads[Number(a.chainIndex)] === a.head;
      }
    }
  }
  out.eventHeadsOk = eventHeadsOk;

  // One record: the proof document.
  const doc = JSON.parse(fs.readFileSync(proofPath, "utf8"));
  const encoded = coder.encode(doc.leaf_encoding, doc.record);
  out.proof = StandardMerkleTree.verify(doc.root, doc.leaf_encoding, doc.record, doc.proof) &&
    (await voting.resultOf(doc.voting_id)) === doc.root &&
    (await voting.verifyRecord(doc.voting_id, doc.proof, encoded));

  // A whole round: the exported tree.
  const dump = JSON.parse(fs.readFileSync(treePath, "utf8"));
  const tree = StandardMerkleTree.load(dump);
  out.tree = tree.root === (await voting.resultOf(dump.votingId));

  // Several records: the multiproof document.
  const multi = JSON.parse(fs.readFileSync(multiPath, "utf8"));
  const root = await voting.resultOf(multi.votingId);
  out.multi = StandardMerkleTree.verifyMultiProof(root, multi.leafEncoding, multi) &&
    (await voting.verifyRecords(multi.votingId, multi.proofs, multi.encoded));
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(String(err.stack || err));
  process.exit(1);
});
