#!/usr/bin/env bash
# Server memory over a long relay run: chat (durable default store, client_msg_id on every
# SEND, every delivery ACKed) driven by the peer harness for SECONDS, its RSS read every
# STEP seconds. Prints "seconds RSS-MB" lines, then the harness's result line; the goal
# (issue 11) is RSS at the end within 20 % of RSS after 5 s.
#
#   bench/relay-rss.sh                    # 60 s, 50 pairs, window 64
#   SECONDS_RUN=20 STEP=2 bench/relay-rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_RUN=${SECONDS_RUN:-60} STEP=${STEP:-5} PAIRS=${PAIRS:-50} WINDOW=${WINDOW:-64}
. "$ROOT/scripts/bun.sh"
[ -x "$ROOT/dist/chat" ] || sh "$ROOT/scripts/setup.sh"
TMPD=$(mktemp -d /tmp/chat-relay-rss.XXXXXX)
PORT=${PORT:-19400}
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
# The limits bench/peer/run-peers.sh raises for the relay, and why: bench/peer/README.md.
"$ROOT/dist/chat" serve --host 127.0.0.1 --port "$PORT" --data "$TMPD/chat.db" --log-level warn \
  --max-connections 2000 --max-connections-per-address 2000 \
  --accounts-per-address 1000000 --login-failures-per-address 1000000 \
  --argon2-memory-kib 256 --argon2-time 1 \
  --request-rate-per-address 100000000 --request-burst-per-address 100000000 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$TMPD"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
(cd "$ROOT/bench/peer" && "$BUN" harness.ts --driver chat --label chat --port "$PORT" --pid "$SERVER" \
  --workload relay --pairs "$PAIRS" --window "$WINDOW" --payload 64 --warmup 0 --duration "$SECONDS_RUN" \
  --max-seconds $((SECONDS_RUN + 60)) --quiet) &
HARNESS=$!
rss() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER/status"; }
for ((t = STEP; t <= SECONDS_RUN; t += STEP)); do
  sleep "$STEP"
  kill -0 "$HARNESS" 2>/dev/null || break
  echo "$t $(rss)"
done
wait "$HARNESS"
