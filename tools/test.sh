#!/usr/bin/env bash
# The two test sets of `make test`, side by side: the embedded chain (CPU-bound, with contract
# coverage, 100% required) and the anvil set (mostly waiting on blocks and processes). Each writes
# its own log under .build/test/; both logs are printed, the embedded one first, and the exit code
# is non-zero when either set failed. TEST_SERIAL=1 runs them one after the other instead.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
APE="$ROOT/.venv/bin/ape"
export PATH="$ROOT/.venv/bin:$PATH"  # ape-foundry finds anvil on PATH
export SOLCX_BINARY_PATH="${SOLCX_BINARY_PATH:-$ROOT/.solcx}"
NETWORK="${ANVIL_NETWORK:-ethereum:local:foundry}"
LOGS="$ROOT/.build/test"
mkdir -p "$LOGS"

# One compile first: two sessions must not compile into .build at the same time.
"$APE" compile >/dev/null || { "$APE" compile; exit 1; }

embedded=("$APE" test tests -m "not anvil" -q --durations=15 --contract-coverage --contract-coverage-min 100)
anvil=("$APE" test tests -m "anvil or smoke" -q --durations=15 --network "$NETWORK")

if [ "${TEST_SERIAL:-0}" = 1 ]; then
  "${embedded[@]}"; first=$?
  "${anvil[@]}"; second=$?
else
  started=$SECONDS
  "${embedded[@]}" >"$LOGS/embedded.log" 2>&1 &
  embedded_pid=$!
  "${anvil[@]}" >"$LOGS/anvil.log" 2>&1 &
  anvil_pid=$!
  wait "$embedded_pid"; first=$?
  wait "$anvil_pid"; second=$?
  echo "=== embedded chain (exit $first): $LOGS/embedded.log"
  cat "$LOGS/embedded.log"
  echo "=== anvil (exit $second): $LOGS/anvil.log"
  cat "$LOGS/anvil.log"
  echo "=== both sets in $((SECONDS - started)) s"
fi
[ "$first" = 0 ] && [ "$second" = 0 ]
