#!/usr/bin/env bash
# Scaling curves: the server's CPU time per delivered message as active pairs grow
# (1 → 1,000) and as idle logged-in clients grow beside a fixed load (0 → 10,000).
# Writes a Markdown table to $OUT/scaling-<time>.md and prints it.
#
#   bench/scaling.sh                      # ~4 minutes
#   PAIRS_LIST="1 10" IDLE_LIST="0 1000" DURATION=2 bench/scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-5}
PAIRS_LIST=${PAIRS_LIST:-"1 10 100 1000"}
IDLE_LIST=${IDLE_LIST:-"0 100 1000 10000"}
IDLE_PAIRS=${IDLE_PAIRS:-10}
OUT=${OUT:-$ROOT/bench/out}
. "$ROOT/scripts/bun.sh"
[ -x "$ROOT/dist/chat" ] || sh "$ROOT/scripts/setup.sh"
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
STAMP=$(date +%Y%m%d-%H%M%S)
LINES="$OUT/scaling-$STAMP.jsonl"
# With few pairs each sender goes faster than the default 20,000 requests/s per connection:
# the curves measure the server's cost per message, so that limit is lifted here.
UNLIMITED=(--server-arg=--request-rate=10000000 --server-arg=--request-burst=10000000)
: >"$LINES"
for P in $PAIRS_LIST; do
  echo "pairs $P" >&2
  "$ROOT/dist/chat" bench relay --pairs "$P" --window 64 --duration "$DURATION" --json --label "pairs" "${UNLIMITED[@]}" >>"$LINES"
done
for N in $IDLE_LIST; do
  echo "$IDLE_PAIRS pairs beside $N idle clients" >&2
  "$ROOT/dist/chat" bench relay --pairs "$IDLE_PAIRS" --window 64 --idle "$N" --duration "$DURATION" --json --label "idle" "${UNLIMITED[@]}" >>"$LINES"
done
"$BUN" -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const bar = (us, max) => "█".repeat(Math.max(1, Math.round((us / max) * 30)));
const table = (label, key, title) => {
  const rs = rows.filter((r) => r.label === label && !r.error);
  const max = Math.max(...rs.map((r) => r.server_us_per_msg));
  console.log(`| ${title} | delivered msgs/s | server CPU µs per message | p99 ms | |`);
  console.log("|---:|---:|---:|---:|---|");
  for (const r of rs) console.log(`| ${(r[key] ?? 0).toLocaleString("en")} | ${r.msgs_per_s.toLocaleString("en")} | ${r.server_us_per_msg} | ${r.p99_ms} | ${bar(r.server_us_per_msg, max)} |`);
  console.log();
};
table("pairs", "pairs", "active pairs");
table("idle", "idle", "idle clients (beside 10 pairs)");
' "$LINES" | tee "$OUT/scaling-$STAMP.md"
