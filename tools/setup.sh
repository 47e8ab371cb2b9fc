#!/usr/bin/env bash
# Idempotent set-up: virtualenv, Python pins, npm pins, solc adapter, anvil link, nats-server,
# prometheus, compile.
# A second run only checks the stamps and changes nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMPS="$VENV/.stamps"

die() { echo "setup: $*" >&2; exit 1; }
say() { echo "setup: $*"; }
hash_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# --- prerequisites -------------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "'$PYTHON' not found; install Python >= 3.10 (or set PYTHON=...)"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "Python >= 3.10 is required, found $("$PYTHON" --version 2>&1)"
command -v node >/dev/null || die "node not found; install Node.js >= 18 with npm"
command -v npm >/dev/null || die "npm not found; install Node.js >= 18 with npm"
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] \
  || die "anvil is pinned as @foundry-rs/anvil-linux-amd64; this machine is $(uname -s)-$(uname -m)"

# --- Python --------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv in .venv"
  "$PYTHON" -m venv "$VENV"
fi
mkdir -p "$STAMPS"
py_hash="$(hash_of requirements.txt pyproject.toml)"
if [ "$(cat "$STAMPS/python" 2>/dev/null)" != "$py_hash" ]; then
  say "installing Python packages (requirements.txt)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
  echo "$py_hash" > "$STAMPS/python"
fi

# --- Node ----------------------------------------------------------------------------------------
npm_hash="$(hash_of package.json package-lock.json)"
if [ ! -d node_modules ] || [ "$(cat "$STAMPS/npm" 2>/dev/null)" != "$npm_hash" ]; then
  say "installing npm packages (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_hash" > "$STAMPS/npm"
fi

# --- solc adapter: py-solc-x looks for solc-v<version> in $SOLCX_BINARY_PATH ------------------------
# NOTE: in this checkout's .solcx/, never the user's ~/.solcx: other checkouts keep their own link.
solc_version="$(node -p 'require("solc/package.json").version')"
config_version="$(sed -n 's/^  version: *//p' ape-config.yaml | head -n1)"
[ "$solc_version" = "$config_version" ] \
  || die "npm solc is $solc_version but ape-config.yaml pins solidity $config_version; make them equal"
export SOLCX_BINARY_PATH="$ROOT/.solcx"
mkdir -p "$SOLCX_BINARY_PATH"
link="$SOLCX_BINARY_PATH/solc-v$solc_version"
if [ "$(readlink "$link" 2>/dev/null)" != "$ROOT/tools/solc-adapter.js" ]; then
  say "registering solc adapter as $link"
  ln -sfn "$ROOT/tools/solc-adapter.js" "$link"
fi

# --- anvil: ape-foundry finds it on PATH -----------------------------------------------------------
anvil_bin="$ROOT/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
[ -x "$anvil_bin" ] || die "anvil binary missing at $anvil_bin; remove node_modules and run again"
if [ "$(readlink "$VENV/bin/anvil" 2>/dev/null)" != "$anvil_bin" ]; then
  say "linking anvil into .venv/bin"
  ln -sfn "$anvil_bin" "$VENV/bin/anvil"
fi

# --- nats-server: the broker the worker's source tests run against (Debian package) --------------
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || bash tools/install-nats.sh

# --- prometheus and promtool: the monitoring tests' alert rules and scrapes (Debian package) ------
{ command -v promtool && command -v prometheus; } >/dev/null || bash tools/install-prometheus.sh

# --- headless Chromium and chromedriver: the explorer's browser tests (Debian packages) ------------
command -v chromium >/dev/null && command -v chromedriver >/dev/null || bash tools/install-chromium.sh

# --- compile: what changed, and every contract importing what changed (tools/fresh_build.py) ----
"$VENV/bin/python" tools/fresh_build.py >/dev/null
say "ready (solc $solc_version, $("$VENV/bin/anvil" --version | head -n1))"
