#!/usr/bin/env bash
# Idempotent: installs the NATS server (Debian package `nats-server`, JetStream built in) with apt-get
# when `nats-server` is not on PATH yet. The worker's source tests start a real server with it.
set -euo pipefail

say() { echo "install-nats: $*"; }
die() { echo "install-nats: $*" >&2; exit 1; }

if command -v nats-server >/dev/null 2>&1; then
  say "nats-server already installed: $(command -v nats-server) ($(nats-server --version 2>&1 | head -n1))"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 \
  || die "nats-server is not on PATH and apt-get is unavailable; install nats-server >= 2.9 with" \
         "JetStream by other means (https://docs.nats.io/running-a-nats-service/introduction/installation)"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "apt-get needs root: run this script as root or install sudo"
  SUDO="sudo"
fi

say "installing the Debian package nats-server with apt-get"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends nats-server

command -v nats-server >/dev/null 2>&1 || die "apt-get finished but nats-server is still not on PATH"
say "installed $(command -v nats-server) ($(nats-server --version 2>&1 | head -n1))"
