#!/usr/bin/env bash
# Idempotent: installs Prometheus and promtool (Debian package `prometheus`) with apt-get when
# `promtool` is not on PATH yet. The monitoring tests check and unit-test the alert rules with
# promtool and run a real Prometheus that scrapes a worker.
set -euo pipefail

say() { echo "install-prometheus: $*"; }
die() { echo "install-prometheus: $*" >&2; exit 1; }

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  say "prometheus already installed: $(command -v prometheus) ($(promtool --version 2>&1 | head -n1))"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 \
  || die "prometheus/promtool are not on PATH and apt-get is unavailable; install Prometheus >= 2.40" \
         "by other means (https://prometheus.io/download/)"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "apt-get needs root: run this script as root or install sudo"
  SUDO="sudo"
fi

say "installing the Debian package prometheus with apt-get"
$SUDO apt-get update
# NOTE: without recommends: no node exporter; the package's own service is not needed either.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends prometheus

command -v promtool >/dev/null 2>&1 || die "apt-get finished but promtool is still not on PATH"
say "installed $(command -v prometheus) ($(promtool --version 2>&1 | head -n1))"
