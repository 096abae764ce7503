#!/bin/sh
# The whole test suite: build, type check, lint, then every test (unit and end-to-end
# against the compiled binary). Extra arguments go to `bun test`.
set -eu
. "$(dirname "$0")/bun.sh"
sh scripts/setup.sh
"$BUN" x tsc --noEmit -p .
"$BUN" x biome check .
exec "$BUN" test "$@"
