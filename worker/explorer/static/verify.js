// Record verification in the browser, from chain data: a proof document (`worker proof`), a whole
// records tree (`worker export`, @openzeppelin/merkle-tree's standard-v1 dump) or a multiproof
// (`worker multiproof`). Every hash is recomputed here with ethers; the contract is asked only for
// what it recorded and for its own check (verifyRecord / verifyRecords, one proof per record).
import { RECORDED, coder, ethers } from "./chain.js";

const HASH = /^0x[0-9a-fA-F]{64}$/;

function leafOf(types, value) {
  return ethers.keccak256(ethers.keccak256(coder.encode(types, value)));
}

function hashPair(a, b) {
  return ethers.keccak256(ethers.concat(BigInt(a) <= BigInt(b) ? [a, b] : [b, a]));
}

export function processProof(leaf, proof) {
  return proof.reduce(hashPair, leaf);
}

export function processMultiProof(leaves, proof, flags) {
  if (leaves.length + proof.length !== flags.length + 1) throw new Error("leaves, proof and flags do not fit");
  const stack = [...leaves];
  const rest = [...proof];
  for (const flag of flags) {
    const a = stack.shift();
    const b = flag ? stack.shift() : rest.shift();
    if (a === undefined || b === undefined) throw new Error("the multiproof runs out of nodes");
    stack.push(hashPair(a, b));
  }
  if (stack.length + rest.length !== 1) throw new Error("the multiproof leaves nodes over");
  return stack.pop() ?? rest.shift();
}

// The proof of the node at tree index `i`: its sibling, its parent's sibling, ... up to the root.
function proofAt(tree, i) {
  const proof = [];
  for (let j = i; j > 0; j = (j - 1) >> 1) proof.push(tree[j % 2 ? j + 1 : j - 1]);
  return proof;
}

function check(name, ok, detail) {
  return { name, ok, detail };
}

async function guarded(name, fn) {
  try {
    return await fn();
  } catch (err) {
    const known = err?.revert?.name;
    return check(name, false, known ? `the contract refused: ${known}(${err.revert.args.join(", ")})`
      : `the call failed: ${err.shortMessage ?? err.message}`);
  }
}

export function kindOf(doc) {
  if (doc && doc.format === "standard-v1") return "tree";
  if (doc && doc.format === "multiproof-v1") return "multiproof";
  if (doc && typeof doc.voting_id === "string" && Array.isArray(doc.proof)) return "proof";
  return null;
}

// The checks of one document against the chain `model` reads; {kind, votingId, checks, ok}.
export async function verifyDocument(model, doc) {
  const kind = kindOf(doc);
  if (!kind) {
    return { kind: "unknown", votingId: null, ok: false, checks: [check("document", false,
      "neither a proof document, a standard-v1 tree dump nor a multiproof-v1 document")] };
  }
  const fn = { proof: verifyProof, tree: verifyTree, multiproof: verifyMulti }[kind];
  let out;
  try {
    out = await fn(model, doc);
  } catch (err) {
    out = { votingId: doc.votingId ?? doc.voting_id ?? null,
      checks: [check("document", false, `malformed: ${err.shortMessage ?? err.message}`)] };
  }
  const counted = out.checks.filter((c) => c.ok !== null);
  return { kind, ...out, ok: counted.length > 0 && counted.every((c) => c.ok) };
}

async function verifyProof(model, doc) {
  const checks = [];
  const encoded = coder.encode(doc.leaf_encoding, doc.record);
  const leaf = ethers.keccak256(ethers.keccak256(encoded));
  if (encoded.toLowerCase() !== String(doc.encoded).toLowerCase()) {
    checks.push(check("encoding", false, `the record encodes to other bytes than 'encoded' (leaf ${leaf})`));
  } else if (leaf !== String(doc.leaf_hash).toLowerCase()) {
    checks.push(check("encoding", false, `the record's leaf hash is ${leaf}, not ${doc.leaf_hash}`));
  } else {
    checks.push(check("encoding", true, `record ${doc.index} (${doc.leaf_encoding.join(",")}) has leaf ${leaf}`));
  }
  const reached = processProof(leaf, doc.proof);
  checks.push(check("proof", reached === doc.root.toLowerCase(), reached === doc.root.toLowerCase()
    ? `${doc.proof.length} step(s) lead from the leaf to ${doc.root}`
    : `the ${doc.proof.length} step(s) lead to ${reached}, not ${doc.root}`));
  checks.push(await resultCheck(model, doc.voting_id, doc.root));
  checks.push(await guarded("on-chain proof", async () => {
    const ok = await model.reader.voting.verifyRecord(doc.voting_id, doc.proof, doc.encoded);
    return check("on-chain proof", ok, `verifyRecord(votingId, proof, encoded) is ${ok}`);
  }));
  checks.push(chainCheck(model, doc.voting_id, doc.root));
  return { votingId: doc.voting_id, checks };
}

async function verifyTree(model, doc) {
  const checks = [];
  const { tree, values, leafEncoding } = doc;
  if (!Array.isArray(tree) || !Array.isArray(values) || !values.length || !tree.every((n) => HASH.test(n))) {
    throw new Error("expected lists 'tree' (32-byte nodes) and 'values'");
  }
  const nodes = tree.map((n) => n.toLowerCase());
  let bad = values.findIndex((v) => leafOf(leafEncoding, v.value) !== nodes[v.treeIndex]);
  if (bad < 0) {
    for (let i = nodes.length - values.length - 1; i >= 0; i -= 1) {
      if (hashPair(nodes[2 * i + 1], nodes[2 * i + 2]) !== nodes[i]) { bad = i; break; }
    }
    checks.push(check("tree", bad < 0, bad < 0
      ? `${values.length} records and ${nodes.length - values.length} inner nodes rehashed to root ${nodes[0]}`
      : `tree[${bad}] is not the hash of its children`));
  } else {
    checks.push(check("tree", false, `values[${bad}] does not hash to tree[${values[bad].treeIndex}]`));
  }
  const root = nodes[0];
  let votingId = doc.votingId;
  if (!votingId) {
    votingId = [...model.rounds.values()].find((r) => r.state?.result === root)?.votingId;
    checks.push(check("round", Boolean(votingId), votingId
      ? `the dump names no round; round ${votingId} recorded this root` : "no round recorded this root"));
    if (!votingId) return { votingId: null, checks };
  }
  checks.push(await resultCheck(model, votingId, root));
  const proofs = values.map((v) => proofAt(nodes, v.treeIndex));
  const encoded = values.map((v) => coder.encode(leafEncoding, v.value));
  checks.push(await recordsOnChain(model, votingId, proofs, encoded));
  checks.push(chainCheck(model, votingId, root));
  return { votingId, checks };
}

async function verifyMulti(model, doc) {
  const checks = [];
  const encoded = doc.leaves.map((v) => coder.encode(doc.leafEncoding, v));
  const same = encoded.every((e, i) => e.toLowerCase() === String(doc.encoded?.[i]).toLowerCase());
  checks.push(check("encoding", same, same ? `${encoded.length} records match their encoding`
    : "a record encodes to other bytes than its 'encoded' entry"));
  const leaves = encoded.map((e) => ethers.keccak256(ethers.keccak256(e)));
  const reached = processMultiProof(leaves, doc.proof, doc.proofFlags);
  const root = String(doc.root).toLowerCase();
  checks.push(check("multiproof", reached === root, reached === root
    ? `${leaves.length} leaves, ${doc.proof.length} proof node(s) lead to ${doc.root}`
    : `the multiproof leads to ${reached}, not ${doc.root}`));
  checks.push(await resultCheck(model, doc.votingId, root));
  checks.push(await recordsOnChain(model, doc.votingId, doc.proofs, doc.encoded));
  checks.push(chainCheck(model, doc.votingId, root));
  return { votingId: doc.votingId, checks };
}

async function resultCheck(model, votingId, root) {
  return guarded("result", async () => {
    const recorded = (await model.reader.voting.resultOf(votingId)).toLowerCase();
    if (recorded === root.toLowerCase()) return check("result", true, `the contract recorded ${recorded} for the round`);
    if (BigInt(recorded) === 0n) {
      const status = model.rounds.get(votingId)?.state?.status ?? "None";
      return check("result", false, `the round has no recorded result (status ${status})`);
    }
    return check("result", false, `the contract recorded ${recorded}, not ${root}`);
  });
}

// verifyRecords over every record with its own proof, CHUNK records per call (one batch).
const CHUNK = 64;

async function recordsOnChain(model, votingId, proofs, encoded) {
  const name = "on-chain records";
  if (!Array.isArray(proofs) || proofs.length !== encoded.length) {
    return check(name, false, "the document has no proof for each record ('proofs')");
  }
  const starts = Array.from({ length: Math.ceil(encoded.length / CHUNK) }, (_, i) => i * CHUNK);
  try {
    const answers = await Promise.all(starts.map((k) => model.reader.voting.verifyRecords(votingId,
      proofs.slice(k, k + CHUNK), encoded.slice(k, k + CHUNK))));
    const ok = answers.every(Boolean);
    return check(name, ok, `verifyRecords(votingId, proofs, records) is ${ok} for ${encoded.length} ` +
      `record(s) in ${starts.length} call(s)`);
  } catch (err) {
    if (err?.revert?.name) {
      return check(name, false, `the contract refused: ${err.revert.name}(${err.revert.args.join(", ")})`);
    }
    // NOTE: a deployment from before verifyRecords: the check cannot run, it does not fail.
    return check(name, null, "this deployment has no verifyRecords view (skipped)");
  }
}

// The round in the result chain this page recomputed from genesis (and compared with chainHead).
function chainCheck(model, votingId, root) {
  const name = "result chain";
  const c = model.chain;
  if (!c?.ok) return check(name, false, `the recomputed head ${c?.recomputed} differs from chainHead ${c?.head}`);
  const entry = model.entries.find((e) => e.votingId === votingId);
  if (!entry) return check(name, false, `the round is not among the ${c.length} chain entries`);
  const where = `entry ${entry.index} of ${c.length}: ${entry.kindName}, attempt ${entry.attempt}, ${entry.votes} votes`;
  if (!RECORDED.has(entry.kindName)) return check(name, false, `${where}; a ${entry.kindName} round has no result`);
  if (entry.result !== root.toLowerCase()) return check(name, false, `${where}; its result is ${entry.result}`);
  return check(name, true, `${where}; head ${c.head} recomputed from genesis`);
}
