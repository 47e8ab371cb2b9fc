#!/usr/bin/env node
// tools/solc-adapter.js with the project's build settings forced into a standard-json input.
//
// crytic-compile (Slither's front end) builds its own standard-json input and, in that mode, forwards
// only `--optimize` from `--solc-args`: the EVM version and the optimizer runs never reach solc.
// tools/slither.sh passes them here through the environment, read from ape-config.yaml:
//   SOLC_EVM_VERSION=london SOLC_OPTIMIZE_RUNS=200 solc-slither.js --standard-json ... < input.json
// Unset variables leave the input as it is; `--version` and every flag go to the adapter unchanged.
"use strict";

const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");

const ADAPTER = path.join(__dirname, "solc-adapter.js");

function withSettings(inputText) {
  let input;
  try {
    input = JSON.parse(inputText);
  } catch (_) {
    return inputText; // solc reports the malformed input in its own JSON answer
  }
  input.settings = input.settings || {};
  const evm = process.env.SOLC_EVM_VERSION;
  const runs = process.env.SOLC_OPTIMIZE_RUNS;
  if (evm) input.settings.evmVersion = evm;
  if (runs) {
    if (!/^\d+$/.test(runs)) {
      process.stderr.write(`solc-slither: SOLC_OPTIMIZE_RUNS must be a whole number, got '${runs}'\n`);
      process.exit(2);
    }
    // Whether the optimizer runs at all stays as the caller set it (`--optimize` in slither.config.json).
    input.settings.optimizer = { ...(input.settings.optimizer || {}), runs: Number(runs) };
  }
  return JSON.stringify(input);
}

function main() {
  const args = process.argv.slice(2);
  const stdin = args.includes("--standard-json") ? withSettings(fs.readFileSync(0, "utf8")) : "";
  const child = spawnSync(process.execPath, [ADAPTER, ...args], {
    input: stdin,
    stdio: ["pipe", "inherit", "inherit"],
  });
  if (child.error) throw child.error;
  process.exit(child.status === null ? 1 : child.status);
}

main();
