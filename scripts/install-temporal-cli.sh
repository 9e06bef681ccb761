#!/usr/bin/env bash
# Installs the pinned Temporal CLI (for `temporal server start-dev`) when none is available.
# A `temporal` on PATH or an earlier build in the cache is reused; otherwise it is built with Go
# (v1.6.0 and later carry a `replace` directive, so `go install` refuses them: stay on v1.5.1).
set -euo pipefail

VERSION="v1.5.1"
CACHE_DIR="${TEMPORAL_CLI_CACHE_DIR:-$HOME/.cache/temporal-evm-indexer/bin}"

if command -v temporal >/dev/null 2>&1; then
  echo "temporal CLI: $(command -v temporal)"
  exit 0
fi
if [ -x "$CACHE_DIR/temporal" ]; then
  echo "temporal CLI: $CACHE_DIR/temporal (cached)"
  exit 0
fi
GO="$(command -v go || true)"
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
if [ -z "$GO" ]; then
  echo "no temporal CLI and no Go toolchain: the SDK will download the dev server on first use (needs internet)," >&2
  echo "or install it: https://docs.temporal.io/cli" >&2
  exit 0
fi
mkdir -p "$CACHE_DIR"
echo "building temporal CLI $VERSION into $CACHE_DIR (takes a few minutes, once) ..."
GOBIN="$CACHE_DIR" "$GO" install "github.com/temporalio/cli/cmd/temporal@$VERSION"
echo "temporal CLI: $CACHE_DIR/temporal"
