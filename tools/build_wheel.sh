#!/usr/bin/env bash
# Builds the operator's wheel (the worker package with its ABIs and network definitions, no
# contracts, no compiler) into DIR (default dist/), stamped with the git revision.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
had_build=0; [ -d build ] && had_build=1
trap 'rm -f worker/REVISION; [ "$had_build" = 1 ] || rm -rf build' EXIT
git rev-parse --short=12 HEAD > worker/REVISION 2>/dev/null || echo unknown > worker/REVISION
# NOTE: an isolated build: pip fetches the build backend (setuptools, pyproject.toml) itself.
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$OUT" . 2>&1 | grep -v "^WARNING: Location" >&2 || true
wheel="$(ls -t "$OUT"/ewc_worker_network-*.whl 2>/dev/null | head -n1)"
[ -n "$wheel" ] || { echo "build_wheel: no wheel in $OUT" >&2; exit 1; }
echo "$wheel"
