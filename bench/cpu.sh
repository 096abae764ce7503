#!/usr/bin/env bash
# Server CPU per message for one workload of the peer harness against one chat server:
# µs/msg = the server's CPU time over the measured interval ÷ the messages in it, read from
# /proc by the harness. For profiling and A/B runs of one change, not for the comparison.
#
#   bench/cpu.sh light|relay|offline [REPS]       # the built binary (dist/chat)
#   SERVER="bun src/main.ts" bench/cpu.sh relay   # from source
#   PROF=out/prof bench/cpu.sh light              # from source, with bun --cpu-prof into out/prof
#   COUNT=4000 bench/cpu.sh relay-count            # relay, a fixed COUNT per sender, all measured
#
# Knobs (env): DURATION=5 WARMUP=1 PAIRS=50 WINDOW=64 PAYLOAD=64 MESSAGES=100000 PORT=19300
#   DATA=redis://127.0.0.1:6379 (the store; default a fresh SQLite file per run): the peer
#   harness against one node on Redis, for the same-harness comparison of docs/CLUSTER.md
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
W=${1:?workload: light, relay, relay-count or offline}
REPS=${2:-1}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
PAIRS=${PAIRS:-50}
WINDOW=${WINDOW:-64}
PAYLOAD=${PAYLOAD:-64}
MESSAGES=${MESSAGES:-100000}
PORT=${PORT:-19300}
SERVER=${SERVER:-$ROOT/dist/chat}
if [[ -n ${PROF:-} ]]; then mkdir -p "$PROF"; SERVER="bun --cpu-prof --cpu-prof-dir $PROF src/main.ts"; fi
TMPD=$(mktemp -d /tmp/chat-cpu.XXXXXX)
SERVER_PID=""
stop() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap 'stop; rm -rf "$TMPD"' EXIT
for rep in $(seq 1 "$REPS"); do
  PORT=$((PORT + 1))
  # A server left on the port by an earlier run would answer instead (and be measured as null).
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "port $PORT is taken (a server left from an earlier run?); set PORT=..." >&2
    exit 1
  fi
  # The flags of bench/peer/run-peers.sh (its README says why each is raised).
  # shellcheck disable=SC2086
  $SERVER serve --host 127.0.0.1 --port "$PORT" --data "${DATA:-$TMPD/chat-$PORT.db}" --log-level warn \
    --max-connections 11000 --max-connections-per-address 11000 \
    --accounts-per-address 1000000 --login-failures-per-address 1000000 \
    --argon2-memory-kib 256 --argon2-time 1 \
    --max-queued $((MESSAGES > 10000 ? MESSAGES : 10000)) \
    --max-queued-per-sender $((MESSAGES > 10000 ? MESSAGES : 10000)) \
    --request-rate 1000000 --request-burst 1000000 \
    --request-rate-per-address 100000000 --request-burst-per-address 100000000 >"$TMPD/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
  case $W in
    light) args=(--workload relay --pairs 1 --window 1 --payload "$PAYLOAD" --warmup "$WARMUP" --duration "$DURATION") ;;
    relay) args=(--workload relay --pairs "$PAIRS" --window "$WINDOW" --payload "$PAYLOAD" --warmup "$WARMUP" --duration "$DURATION") ;;
    # A fixed number of messages per sender (COUNT), all of them measured.
    relay-count) args=(--workload relay --pairs "$PAIRS" --window "$WINDOW" --payload "$PAYLOAD" --count "${COUNT:-4000}") ;;
    offline) args=(--workload offline --messages "$MESSAGES" --window "$WINDOW" --payload "$PAYLOAD") ;;
    *) echo "unknown workload $W" >&2; exit 1 ;;
  esac
  (cd bench/peer && CHAT_MSG_IDS=${CHAT_MSG_IDS:-1} timeout 200 bun harness.ts --driver chat --label chat \
    --port "$PORT" --pid "$SERVER_PID" --out "$TMPD/out.jsonl" --quiet --max-seconds 180 "${args[@]}" >/dev/null)
  stop
done
bun -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
for (const r of lines) {
  const us = (pct, rate) => (pct == null || !rate ? "?" : ((pct / 100 / rate) * 1e6).toFixed(2));
  if (r.enqueue_msgs_per_s != null)
    console.log(`offline enqueue ${r.enqueue_msgs_per_s} msgs/s ${us(r.enqueue_server_cpu_pct, r.enqueue_msgs_per_s)} us/msg; drain ${r.drain_msgs_per_s} msgs/s ${us(r.drain_server_cpu_pct, r.drain_msgs_per_s)} us/msg; lost ${r.lost} order ${r.order_errors}`);
  else
    console.log(`${process.argv[2]} ${r.msgs_per_s} msgs/s cpu ${r.server_cpu_pct}% ${us(r.server_cpu_pct, r.msgs_per_s)} us/msg p50 ${r.p50_ms} ms lost ${r.lost} order ${r.order_errors}`);
}' "$TMPD/out.jsonl" "$W"
