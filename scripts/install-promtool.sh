#!/usr/bin/env bash
# promtool checks deploy/prometheus/alerts.yml and runs its unit tests (test/e2e/alerts.test.ts).
# Debian's `prometheus` package ships it; nothing to do when it is already on PATH.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  promtool --version 2>&1 | head -1
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "promtool is missing and this user cannot install packages: apt-get install prometheus (as root)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# The package's service is not wanted here: only its promtool binary.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# Debian starts the Prometheus service on install where an init system runs; stop it if it did.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl stop prometheus || true
  $SUDO systemctl disable prometheus >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null 2>&1 || { echo "apt-get installed prometheus but promtool is not on PATH" >&2; exit 1; }
promtool --version 2>&1 | head -1
