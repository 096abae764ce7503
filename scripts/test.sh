#!/bin/sh
# The whole test suite: build, type check, lint, then every test (unit and end-to-end
# against the compiled binary). Extra arguments go to `bun test`.
set -eu
. "$(dirname "$0")/bun.sh"
sh scripts/setup.sh
# The TLS tests make a self-signed certificate with openssl.
if ! command -v openssl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing openssl (apt-get)" >&2
    apt-get update -qq >&2 && apt-get install -y -qq openssl >&2
  else
    echo "the TLS tests need openssl on PATH" >&2
    exit 1
  fi
fi
# The web client's browser tests drive Debian's Chromium (playwright-core, no browser download).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (apt-get)" >&2
    apt-get update -qq >&2 && apt-get install -y -qq chromium >&2
  else
    echo "the web client tests need Debian's chromium at /usr/bin/chromium" >&2
    exit 1
  fi
fi
# The Redis store's tests start a real redis-server (Debian's package).
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing redis-server (apt-get)" >&2
    apt-get update -qq >&2 && apt-get install -y -qq redis-server >&2
  else
    echo "the Redis store tests need redis-server on PATH" >&2
    exit 1
  fi
fi
# The Redis Cluster tests join three redis-servers with redis-cli (Debian's redis-tools,
# which redis-server depends on; installed here should it be missing all the same).
if ! command -v redis-cli >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing redis-tools (apt-get)" >&2
    apt-get update -qq >&2 && apt-get install -y -qq redis-tools >&2
  else
    echo "the Redis Cluster tests need redis-cli (redis-tools) on PATH" >&2
    exit 1
  fi
fi
"$BUN" x tsc --noEmit -p .
"$BUN" x biome check .
# End-to-end tests drive real processes: 30 s is their ceiling (each waits on events with
# tighter deadlines of its own). bunfig.toml preloads test/processes.ts.
exec "$BUN" test --timeout 30000 "$@"
