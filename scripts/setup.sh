#!/bin/sh
# From a fresh clone to dist/chat: Bun (pinned), the locked dependencies, the binary.
set -eu
. "$(dirname "$0")/bun.sh"
"$BUN" install --frozen-lockfile
"$BUN" build --compile --minify --sourcemap src/main.ts --outfile dist/chat >/dev/null
echo "built dist/chat ($("$BUN" --version) $(./dist/chat --version))" >&2
