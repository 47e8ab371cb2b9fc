#!/usr/bin/env bash
# Slither static analysis of contracts/ (the quality gate CI calls; `make setup` must have run).
#
# Slither lives in its own virtualenv, .venv-slither, so its pins never touch .venv. Settings are in
# slither.config.json. The target is contracts/: crytic-compile takes its top-level *.sol files
# (contracts/test/ mocks are not compiled) and their imports; findings in node_modules/ and
# contracts/test/ are filtered out. Exit status: 0 when no High or Medium finding is left, non-zero
# otherwise or when the analysis fails. A justified finding is silenced in the Solidity source with
#   // slither-disable-next-line <detector> -- <why it is safe>
# on the line above the flagged line or above its function.
# Extra arguments go to slither, e.g. `tools/slither.sh --json .build/slither.json`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv-slither"
SLITHER_VERSION="0.11.6"
CRYTIC_COMPILE_VERSION="0.4.2" # its standard-json mode is what slither.config.json relies on

die() { echo "slither: $*" >&2; exit 2; }
say() { echo "slither: $*"; }

[ -f node_modules/solc/package.json ] && [ -d node_modules/@openzeppelin/contracts ] \
  || die "node_modules is missing solc or @openzeppelin/contracts; run 'make setup' first"

# --- virtualenv (pip runs only when a pin is not installed) --------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv in .venv-slither"
  "$PYTHON" -m venv "$VENV"
fi
installed="$("$VENV/bin/python" - <<'EOF' 2>/dev/null || true
from importlib.metadata import PackageNotFoundError, version

try:
    print(version("slither-analyzer"), version("crytic-compile"))
except PackageNotFoundError:
    print("none")
EOF
)"
if [ "$installed" != "$SLITHER_VERSION $CRYTIC_COMPILE_VERSION" ]; then
  say "installing slither-analyzer $SLITHER_VERSION (crytic-compile $CRYTIC_COMPILE_VERSION)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "slither-analyzer==$SLITHER_VERSION" "crytic-compile==$CRYTIC_COMPILE_VERSION"
fi

# --- compiler settings: the same as `ape compile` (tools/solc-slither.js applies them) -----------
# The first match is the `solidity:` block of ape-config.yaml.
SOLC_EVM_VERSION="$(sed -n 's/^  evm_version: *//p' ape-config.yaml | head -n1)"
SOLC_OPTIMIZE_RUNS="$(sed -n 's/^  optimization_runs: *//p' ape-config.yaml | head -n1)"
[ -n "$SOLC_EVM_VERSION" ] || die "no solidity evm_version in ape-config.yaml"
export SOLC_EVM_VERSION SOLC_OPTIMIZE_RUNS

# --- analysis ------------------------------------------------------------------------------------
started=$SECONDS
status=0
"$VENV/bin/slither" contracts --config-file slither.config.json "$@" || status=$?
elapsed=$((SECONDS - started))
if [ "$status" -eq 0 ]; then
  say "passed: no unjustified High or Medium finding (${elapsed}s)"
else
  say "FAILED: High or Medium findings above, or the analysis did not run (exit $status, ${elapsed}s)" >&2
fi
exit "$status"
