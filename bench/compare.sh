#!/usr/bin/env bash
# Side by side on this machine: the peers (Mosquitto, aedes, the raw C relay, measured by
# the shared harness in ../shared/bench) and `chat bench`, same workloads and parameters,
# rounds interleaved (peers of round 1, chat of round 1, peers of round 2, ...). Prints a
# ratio table (chat ÷ Mosquitto per round, median over rounds) and writes it to $OUT.
#
#   bench/compare.sh                                   # ~10 minutes
#   RUNS=1 DURATION=2 CONNS=2000 MESSAGES=20000 bench/compare.sh   # quick look
#
# Knobs (env): RUNS=3 DURATION=5 WARMUP=1 PAIRS=50 WINDOW=64 PAYLOAD=64 CONNS=10000
#   MESSAGES=100000 PEERS="raw mosquitto" WORKLOADS="relay light conns offline"
#   SHARED=../shared/bench PEER_DIR=/tmp/chat-peer-bench OUT=bench/out
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
PAIRS=${PAIRS:-50}
WINDOW=${WINDOW:-64}
PAYLOAD=${PAYLOAD:-64}
CONNS=${CONNS:-10000}
MESSAGES=${MESSAGES:-100000}
PEERS=${PEERS:-"raw mosquitto"}
WORKLOADS=${WORKLOADS:-"relay light conns offline"}
SHARED=${SHARED:-$ROOT/../shared/bench}
PEER_DIR=${PEER_DIR:-/tmp/chat-peer-bench}
OUT=${OUT:-$ROOT/bench/out}

. "$ROOT/scripts/bun.sh"
[ -x "$ROOT/dist/chat" ] || sh "$ROOT/scripts/setup.sh"
mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
LINES="$OUT/compare-$STAMP.jsonl"
: >"$LINES"

# shared/ is read-only: work on a copy (run-peers.sh installs Mosquitto and builds relay.c).
if [ ! -d "$PEER_DIR" ]; then cp -r "$SHARED" "$PEER_DIR"; fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ROUND in $(seq 1 "$RUNS"); do
  echo "round $ROUND/$RUNS: peers ($PEERS)" >&2
  before=$(ls "$PEER_DIR"/out/results-*.jsonl 2>/dev/null | wc -l || true)
  (cd "$PEER_DIR" && RUNS=1 DURATION=$DURATION WARMUP=$WARMUP PAIRS=$PAIRS WINDOW=$WINDOW PAYLOAD=$PAYLOAD \
    CONNS=$CONNS MESSAGES=$MESSAGES PEERS="$PEERS" WORKLOADS="$WORKLOADS" RESULTS="$OUT/peers-round.md" \
    PATH="$(dirname "$BUN"):$PATH" ./run-peers.sh) >&2
  newest=$(ls -t "$PEER_DIR"/out/results-*.jsonl | head -1)
  sed "s/\"round\":1,/\"round\":$ROUND,/" "$newest" >>"$LINES"
  echo "round $ROUND/$RUNS: chat" >&2
  for W in $WORKLOADS; do
    case $W in
      relay) args=(relay --pairs "$PAIRS" --window "$WINDOW" --warmup "$WARMUP" --duration "$DURATION") ;;
      light) args=(light --warmup "$WARMUP" --duration "$DURATION") ;;
      conns) args=(conns --conns "$CONNS") ;;
      offline) args=(offline --messages "$MESSAGES" --window "$WINDOW") ;;
      *) echo "unknown workload $W" >&2; exit 2 ;;
    esac
    "$ROOT/dist/chat" bench "${args[@]}" --payload "$PAYLOAD" --json --max-seconds 240 \
      | sed "s/^{/{\"round\":$ROUND,\"wname\":\"$W\",/" >>"$LINES" || echo "  (chat bench $W failed)" >&2
  done
done
"$BUN" "$ROOT/bench/ratios.ts" "$LINES" | tee "$OUT/compare-$STAMP.md"
echo "raw lines: $LINES" >&2
