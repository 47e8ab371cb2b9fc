// Cross-check for worker/merkle.py: builds trees with @openzeppelin/merkle-tree.
// stdin:  one case {"types": [...], "values": [[...], ...], "dump": <optional standard-v1 dump>}
//         or an array of cases (one node start for many trees).
// stdout: per case {"root", "proofs" (one per value, by index), "dump",
//                   "loaded": {"root", "proofs"} when a dump was given (JS loads and validates it)}
// Run it from the project root so that require() finds node_modules.
"use strict";

const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

function proofsOf(tree) {
  const proofs = [];
  for (const [i] of tree.entries()) proofs.push(tree.getProof(i));
  return proofs;
}

function check({ types, values, dump }) {
  const tree = StandardMerkleTree.of(values, types);
  const result = { root: tree.root, proofs: proofsOf(tree), dump: tree.dump() };
  if (dump !== undefined) {
    const loaded = StandardMerkleTree.load(dump);
    result.loaded = { root: loaded.root, proofs: proofsOf(loaded) };
  }
  return result;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const request = JSON.parse(input);
  const output = Array.isArray(request) ? request.map(check) : check(request);
  process.stdout.write(JSON.stringify(output));
});
