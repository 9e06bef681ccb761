#!/usr/bin/env bash
# Debian's Chromium, for the read API's IDE test (test/e2e/api-serve.test.ts drives it headless with
# playwright-core: /usr/bin/chromium, no browser download). Nothing to do when it is already there.
set -euo pipefail
source "$(dirname "$0")/lib/apt-install.sh"

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  "$CHROMIUM" --version 2>/dev/null | head -1 || true
  exit 0
fi

apt_install chromium chromium
[ -x "$CHROMIUM" ] || { echo "apt-get installed chromium but $CHROMIUM is missing" >&2; exit 1; }
"$CHROMIUM" --version 2>/dev/null | head -1 || true
