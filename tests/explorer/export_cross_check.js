// Cross-check for `worker export` and `worker multiproof` with @openzeppelin/merkle-tree.
// stdin:  {"dump": <worker export output>, "indices": [[...], ...], "multiproofs": [<doc>, ...]}
// stdout: {"root", "values" (loaded records, by index), "proofsOk" (every record's proof verifies),
//          "js": [the library's own getMultiProof of each index list],
//          "verified": [StandardMerkleTree.verifyMultiProof of each given multiproof]}
// A dump that load() rejects exits with status 2 and the library's message on stderr.
// Run it from the project root so that require() finds node_modules.
"use strict";

const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { dump, indices = [], multiproofs = [] } = JSON.parse(input);
  let tree;
  try {
    tree = StandardMerkleTree.load(dump);
  } catch (err) {
    process.stderr.write(String(err.message));
    process.exit(2);
  }
  const values = [];
  let proofsOk = true;
  for (const [i, value] of tree.entries()) {
    values.push(value);
    proofsOk = proofsOk && StandardMerkleTree.verify(tree.root, dump.leafEncoding, value, tree.getProof(i));
  }
  const js = indices.map((list) => tree.getMultiProof(list));
  const verified = multiproofs.map((doc) =>
    StandardMerkleTree.verifyMultiProof(doc.root, doc.leafEncoding, doc));
  process.stdout.write(JSON.stringify({ root: tree.root, values, proofsOk, js, verified }));
});
