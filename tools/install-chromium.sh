#!/usr/bin/env bash
# Idempotent: installs headless Chromium and its WebDriver (Debian packages `chromium` and
# `chromium-driver`) with apt-get when either is missing. The explorer's browser tests drive them
# with Selenium; nothing else needs them.
set -euo pipefail

say() { echo "install-chromium: $*"; }
die() { echo "install-chromium: $*" >&2; exit 1; }

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  say "already installed: $(command -v chromium), $(command -v chromedriver)"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 \
  || die "chromium or chromedriver is missing and apt-get is unavailable; install Chromium and" \
         "a matching chromedriver on PATH by other means"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "apt-get needs root: run this script as root or install sudo"
  SUDO="sudo"
fi

say "installing the Debian packages chromium and chromium-driver with apt-get"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium chromium-driver

command -v chromedriver >/dev/null 2>&1 || die "apt-get finished but chromedriver is still not on PATH"
say "installed $(chromium --version 2>/dev/null | head -n1)"
