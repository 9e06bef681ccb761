#!/usr/bin/env bash
# promtool checks deploy/prometheus/alerts.yml and runs its unit tests (test/e2e/alerts.test.ts).
# Debian's `prometheus` package ships it; nothing to do when it is already on PATH.
set -euo pipefail
source "$(dirname "$0")/lib/apt-install.sh"

if command -v promtool >/dev/null 2>&1; then
  promtool --version 2>&1 | head -1
  exit 0
fi

# The package's service is not wanted here: only its promtool binary.
apt_install prometheus promtool
# Debian starts the Prometheus service on install where an init system runs; stop it if it did.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  $APT_SUDO systemctl stop prometheus || true
  $APT_SUDO systemctl disable prometheus >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null 2>&1 || { echo "apt-get installed prometheus but promtool is not on PATH" >&2; exit 1; }
promtool --version 2>&1 | head -1
