#!/usr/bin/env bash
# Side by side on this machine, one load generator for every server: the project's copy of
# the peer harness (bench/peer, from ../shared/bench) drives the raw C relay, Mosquitto and
# chat (as the reference client drives it: client_msg_id on every SEND, an ACK for every
# delivery; and the variant without ids), same workloads and parameters, a fresh server per
# run, rounds interleaved. Prints a ratio table (chat ÷ each peer per round, median over
# rounds) and writes it to $OUT.
#
#   bench/compare.sh                                                # ~10 minutes
#   RUNS=1 DURATION=2 CONNS=2000 MESSAGES=20000 bench/compare.sh    # quick look
#
# Knobs (env): RUNS=3 DURATION=5 WARMUP=1 PAIRS=50 WINDOW=64 PAYLOAD=64 CONNS=10000
#   MESSAGES=100000 PEERS="raw mosquitto chat chat-noids" WORKLOADS="relay light conns offline"
#   OUT=bench/out
# What the harness configures on each server, and why: bench/peer/README.md (chat) and the
# mosquitto_conf function in bench/peer/run-peers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-$ROOT/bench/out}
export RUNS=${RUNS:-3} DURATION=${DURATION:-5} WARMUP=${WARMUP:-1} PAIRS=${PAIRS:-50} WINDOW=${WINDOW:-64}
export PAYLOAD=${PAYLOAD:-64} CONNS=${CONNS:-10000} MESSAGES=${MESSAGES:-100000}
export PEERS=${PEERS:-"raw mosquitto chat chat-noids"}
export WORKLOADS=${WORKLOADS:-"relay light conns offline"}

. "$ROOT/scripts/bun.sh"
[ -x "$ROOT/dist/chat" ] || sh "$ROOT/scripts/setup.sh"
mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

(cd "$ROOT/bench/peer" && CHAT_BIN="$ROOT/dist/chat" RESULTS="$OUT/peers-$STAMP.md" \
  PATH="$(dirname "$BUN"):$PATH" ./run-peers.sh) >&2
LINES=$(ls -t "$ROOT"/bench/peer/out/results-*.jsonl | head -1)
cp "$LINES" "$OUT/compare-$STAMP.jsonl"
"$BUN" "$ROOT/bench/ratios.ts" "$OUT/compare-$STAMP.jsonl" | tee "$OUT/compare-$STAMP.md"
echo "raw lines: $OUT/compare-$STAMP.jsonl; full report: $OUT/peers-$STAMP.md" >&2
