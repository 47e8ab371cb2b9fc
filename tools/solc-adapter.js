#!/usr/bin/env node
// Native-solc command line over the npm `solc` package (solcjs, WebAssembly).
//
// Answers the two calls that ape-solidity and py-solc-x make of a native compiler:
//   solc --version
//   solc --standard-json [--base-path DIR] [--include-path DIR]... [--allow-paths ...] < input.json
// It is registered as `solc-v<version>` in the py-solc-x binary folder through a symbolic link, so
// `require` resolves `solc` from this project's node_modules.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

function usage(code) {
  process.stderr.write(
    "usage: solc --version | solc --standard-json [--base-path DIR] [--include-path DIR]... < input.json\n",
  );
  process.exit(code);
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case "--version":
        opts.version = true;
        break;
      case "--standard-json":
        opts.standardJson = true;
        break;
      case "--base-path":
        opts.basePath = value();
        break;
      case "--include-path":
        opts.includePaths.push(value());
        break;
      case "--allow-paths":
        value(); // every file read goes through the import callback below
        break;
      case "--help":
        usage(0);
        break;
      default:
        process.stderr.write(`solc adapter: unsupported argument '${arg}'\n`);
        usage(2);
    }
  }
  return opts;
}

function makeImportCallback(opts) {
  const roots = [opts.basePath || process.cwd(), ...opts.includePaths];
  return (importPath) => {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((root) => path.resolve(root, importPath));
    for (const file of candidates) {
      try {
        return { contents: fs.readFileSync(file, "utf8") };
      } catch (_) {
        // try the next root
      }
    }
    return { error: `File not found: ${importPath} (searched ${candidates.join(", ")})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return;
  }
  if (!opts.standardJson) usage(2);
  const input = fs.readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input, { import: makeImportCallback(opts) }));
  process.stdout.write("\n");
}

main();
