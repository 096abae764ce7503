#!/usr/bin/env bash
# The cluster measured with one load generator (`chat bench --host a,b,… --pid …`): one node
# on SQLite, then one, two and three nodes on one redis-server (AOF on), back to back, a fresh
# server (and Redis) per run. Besides what the bench reports (msgs/s, p50/p99, CPU of each
# node), each Redis run reads Redis's CPU (/proc/<pid>/stat) and its commands (INFO
# commandstats) before and after, per message sent. Then the light round trip (1 pair,
# window 1) with sender and receiver on one node and on two. docs/CLUSTER.md "Measurements"
# shows a run.
#
#   bench/cluster.sh                       # about 2 minutes
#   DURATION=2 RUNS="redis1 light" bench/cluster.sh
#
# Knobs (env): DURATION=5 WARMUP=1 PAIRS=50 WINDOW=64 FSYNC=everysec (Redis's appendfsync)
#   RUNS="sqlite redis1 redis2 redis3 light" OUT=bench/out CHAT=dist/chat (another build, for A/B runs)
#   REDIS_ARGS="--zset-max-listpack-entries 0 --hash-max-listpack-entries 0" (more redis-server settings)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CHAT=${CHAT:-$ROOT/dist/chat}
DURATION=${DURATION:-5} WARMUP=${WARMUP:-1} PAIRS=${PAIRS:-50} WINDOW=${WINDOW:-64}
FSYNC=${FSYNC:-everysec}
RUNS=${RUNS:-"sqlite redis1 redis2 redis3 light"}
OUT=${OUT:-$ROOT/bench/out}
[ -x "$CHAT" ] || { echo "missing $CHAT (bun run build)" >&2; exit 1; }
mkdir -p "$OUT"
RESULTS="$OUT/cluster-$(date +%Y%m%d-%H%M%S).jsonl"
TMP=$(mktemp -d)
STARTED=()
cleanup() {
  for p in "${STARTED[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
TICK=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Raised limits as bench/peer gives chat: every client comes from 127.0.0.1.
NODE_ARGS=(--host 127.0.0.1 --port 0 --log-level info --argon2-memory-kib 256 --argon2-time 1
  --max-connections-per-address 100000 --accounts-per-address 1000000
  --login-failures-per-address 1000000 --request-rate 1000000 --request-burst 1000000
  --request-rate-per-address 100000000 --request-burst-per-address 100000000)

REDIS_PID="" REDIS_PORT=""
start_redis() {
  REDIS_PORT=$(free_port)
  mkdir -p "$TMP/redis-$REDIS_PORT"
  # shellcheck disable=SC2086 # REDIS_ARGS is a list of settings
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$TMP/redis-$REDIS_PORT" --appendonly yes \
    --appendfsync "$FSYNC" --save "" --daemonize no ${REDIS_ARGS:-} >"$TMP/redis-$REDIS_PORT.log" 2>&1 &
  REDIS_PID=$!
  STARTED+=("$REDIS_PID")
  for _ in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server did not start" >&2
  exit 1
}

NODE_HOSTS="" NODE_PIDS=""
# $1 node count, $2 data (a file or a redis:// URL)
start_nodes() {
  local hosts=() pids=()
  for i in $(seq 0 $(($1 - 1))); do
    local log="$TMP/node-$i-$RANDOM.log"
    local data=$2
    [ "$data" = sqlite ] && data="$TMP/chat-$RANDOM.db"
    "$CHAT" serve "${NODE_ARGS[@]}" --data "$data" --node-name "node$i" >"$log" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    local port=""
    for _ in $(seq 1 200); do
      port=$(grep -o 'listening on port [0-9]*' "$log" | grep -o '[0-9]*$' || true)
      [ -n "$port" ] && break
      sleep 0.05
    done
    [ -n "$port" ] || { echo "node $i did not start:" >&2; cat "$log" >&2; exit 1; }
    hosts+=("127.0.0.1:$port")
    pids+=("$pid")
  done
  NODE_HOSTS=$(IFS=,; echo "${hosts[*]}")
  NODE_PIDS=$(IFS=,; echo "${pids[*]}")
}

stop_all() {
  for p in "${STARTED[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${STARTED[@]}"; do wait "$p" 2>/dev/null || true; done
  STARTED=()
}

redis_ticks() { awk '{ print $14 + $15 }' "/proc/$REDIS_PID/stat"; }
# Every command's calls, "name count" per line.
redis_calls() { redis-cli -p "$REDIS_PORT" INFO commandstats | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p'; }

# $1 label, $2 workload, $3 hosts, $4 pids
bench() {
  local label=$1 workload=$2 hosts=$3 pids=$4
  local t0="" c0=""
  if [ -n "$REDIS_PID" ]; then t0=$(redis_ticks); c0=$(redis_calls); fi
  local json
  json=$("$CHAT" bench "$workload" --host "$hosts" --pid "$pids" --pairs "$PAIRS" --window "$WINDOW" \
    --duration "$DURATION" --warmup "$WARMUP" --label "$label" --json 2>/dev/null | tail -1)
  if [ -n "$REDIS_PID" ]; then
    local t1 c1 sent
    t1=$(redis_ticks)
    c1=$(redis_calls)
    sent=$(jq .sent <<<"$json")
    # Redis's work per message over the whole run (logins and warm-up included, a small part).
    local per
    per=$(join -a2 -e0 -o 0,1.2,2.2 <(sort <<<"$c0") <(sort <<<"$c1") |
      awk -v n="$sent" '{ d = $3 - $2; if (d > 0) printf "%s=%.3f ", $1, d / n; t += d } END { printf "total=%.3f", t / n }')
    json=$(jq -c --argjson us "$(awk -v a="$t0" -v b="$t1" -v k="$TICK" -v n="$sent" 'BEGIN { printf "%.2f", (b - a) / k * 1e6 / n }')" \
      --arg cmds "$per" '. + { redis_us_per_msg: $us, redis_cmds_per_msg: $cmds }' <<<"$json")
  fi
  echo "$json" | tee -a "$RESULTS"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for run in $RUNS; do
  REDIS_PID=""
  case $run in
    sqlite)
      start_nodes 1 sqlite
      bench "sqlite 1 node" relay "$NODE_HOSTS" "$NODE_PIDS" ;;
    redis[123])
      start_redis
      start_nodes "${run#redis}" "redis://127.0.0.1:$REDIS_PORT"
      bench "redis ${run#redis} node(s)" relay "$NODE_HOSTS" "$NODE_PIDS" ;;
    light)
      start_redis
      start_nodes 2 "redis://127.0.0.1:$REDIS_PORT"
      first=${NODE_HOSTS%%,*} firstpid=${NODE_PIDS%%,*}
      bench "light redis same node" light "$first" "$firstpid"
      bench "light redis across nodes" light "$NODE_HOSTS" "$NODE_PIDS"
      bench "light redis same node" light "$first" "$firstpid"
      bench "light redis across nodes" light "$NODE_HOSTS" "$NODE_PIDS" ;;
    *) echo "unknown run $run" >&2; exit 1 ;;
  esac
  stop_all
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); results: $RESULTS" >&2
