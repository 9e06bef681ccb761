#!/usr/bin/env bash
# Installs a Docker Compose v2 binary so CI can run `docker compose config` on docker-compose.yml
# where no Docker engine (and no compose plugin) exists. Reuses `docker compose` when it works.
# v2.29.7 is pinned: newer and some older releases carry replace/exclude directives in go.mod,
# which `go install` refuses.
set -euo pipefail

VERSION="v2.29.7"
CACHE_DIR="${TEMPORAL_CLI_CACHE_DIR:-$HOME/.cache/temporal-evm-indexer/bin}"

if docker compose version >/dev/null 2>&1; then echo "compose: docker compose"; exit 0; fi
if command -v docker-compose >/dev/null 2>&1 && docker-compose version 2>/dev/null | grep -q 'v2\.'; then echo "compose: $(command -v docker-compose)"; exit 0; fi
if [ -x "$CACHE_DIR/docker-compose" ]; then echo "compose: $CACHE_DIR/docker-compose (cached)"; exit 0; fi
GO="$(command -v go || true)"
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
if [ -z "$GO" ]; then echo "no docker compose and no Go toolchain: the compose check will be skipped" >&2; exit 0; fi
mkdir -p "$CACHE_DIR"
tmp="$(mktemp -d)"
echo "building docker compose $VERSION into $CACHE_DIR (once) ..."
GOBIN="$tmp" "$GO" install "github.com/docker/compose/v2/cmd@$VERSION"
mv "$tmp/cmd" "$CACHE_DIR/docker-compose"
rm -rf "$tmp"
echo "compose: $CACHE_DIR/docker-compose"
