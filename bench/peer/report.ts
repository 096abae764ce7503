#!/usr/bin/env bun
// Turns the JSON lines of run-peers.sh into RESULTS.md.
//   bun report.ts out/results-XXXX.jsonl [--out RESULTS.md] [--elapsed SECONDS]
// Medians over rounds; "x raw" ratios are taken within each round (the peer's
// value divided by the raw relay's value of the same round) and then the median.

import { existsSync, readFileSync, writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const file = args.find(
  (a) =>
    !a.startsWith("--") && args[args.indexOf(a) - 1] !== "--out" && args[args.indexOf(a) - 1] !== "--elapsed",
);
const outPath = args.includes("--out") ? args[args.indexOf("--out") + 1]! : "";
const elapsed = args.includes("--elapsed") ? args[args.indexOf("--elapsed") + 1]! : "";
if (!file) {
  console.error("usage: bun report.ts RESULTS.jsonl [--out RESULTS.md] [--elapsed S]");
  process.exit(2);
}

// biome-ignore lint/suspicious/noExplicitAny: rows are whatever JSON the harness wrote
type Row = Record<string, any>;
const rows: Row[] = readFileSync(file, "utf8")
  .split("\n")
  .filter((l) => l.trim().startsWith("{"))
  .map((l) => JSON.parse(l));

// ---------------------------------------------------------------- helpers
const median = (xs: number[]) => {
  const v = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};
const fmtN = (x: number, digits = 0) => {
  if (!Number.isFinite(x)) return "–";
  return x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
};
const fmtMs = (x: number) =>
  !Number.isFinite(x) ? "–" : x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x.toFixed(1);
const fmtX = (x: number) =>
  !Number.isFinite(x) ? "–" : x >= 10 ? `${x.toFixed(0)}×` : x >= 1 ? `${x.toFixed(2)}×` : `${x.toFixed(3)}×`;
const key = (r: Row) => `${r.label}${r.variant ? ` [${r.variant}]` : ""}`;

function groups(wname: string): Map<string, Row[]> {
  const g = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.wname !== wname || r.error) continue;
    const k = key(r);
    if (!g.has(k)) g.set(k, []);
    g.get(k)!.push(r);
  }
  return g;
}
const errorsOf = (wname: string) =>
  rows.filter((r) => r.wname === wname && r.error).map((r) => `${key(r)} round ${r.round}: ${r.error}`);
const med = (rs: Row[], f: string) => median(rs.map((r) => r[f]));
const spread = (rs: Row[], f: string, digits = 0) => {
  const v = rs.map((r) => r[f]).filter((x) => typeof x === "number");
  if (v.length < 2) return "";
  return ` <sub>${fmtN(Math.min(...v), digits)}–${fmtN(Math.max(...v), digits)}</sub>`;
};
/** median over rounds of (row.f / raw-row-of-same-round.f) */
function ratio(wname: string, rs: Row[], f: string): number {
  const raws = rows.filter((r) => r.wname === wname && r.label === "raw" && !r.variant && !r.error);
  const xs: number[] = [];
  for (const r of rs) {
    const base = raws.find((b) => b.round === r.round);
    if (base?.[f]) xs.push(r[f] / base[f]);
  }
  return median(xs);
}
const order = (ks: string[]) => ks.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const rank = (k: string) =>
  k === "raw" ? 0 : k.startsWith("raw") ? 1 : k.startsWith("mosquitto") ? 2 : k.startsWith("aedes") ? 3 : 4;

/** Which side saturates its core: >= 95 % CPU counts as saturated. */
function limitOf(server: number, harness: number): string {
  const s = server >= 95,
    h = harness >= 95;
  return s && h ? "both" : s ? "server" : h ? "harness" : "neither (latency-bound)";
}

function sh(cmd: string[]): string {
  try {
    const p = Bun.spawnSync(cmd, { stderr: "pipe", stdout: "pipe" });
    return (p.stdout.toString() + p.stderr.toString()).split("\n").find((l) => l.trim()) ?? "?";
  } catch {
    return "not found";
  }
}
function aedesVersion(): string {
  const p = "node_modules/aedes/package.json";
  return existsSync(p) ? JSON.parse(readFileSync(p, "utf8")).version : "not installed";
}

// ---------------------------------------------------------------- tables
const out: string[] = [];
const P = (s = "") => out.push(s);
const nRounds = Math.max(0, ...rows.map((r) => r.round ?? 1));
const cpu = sh(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).trim();

P("# Peer benchmark results");
P();
P(
  `Generated ${new Date().toISOString()} by \`run-peers.sh\` from \`${file}\`${elapsed ? ` (script took ${elapsed} s)` : ""}.`,
);
P();
P(
  `- **Machine**: ${sh(["nproc"])} cores, ${cpu}, ${Math.round(Number(sh(["sh", "-c", "grep MemTotal /proc/meminfo | awk '{print $2}'"])) / 1048576)} GiB RAM, kernel ${sh(["uname", "-r"])}; load average now ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}. Shared, noisy machine: the harness and the server share the 2 cores.`,
);
P(
  `- **Versions**: bun ${sh(["bun", "--version"])} (harness), ${sh(["mosquitto", "-h"]).replace(/^mosquitto version/, "mosquitto")}, aedes ${aedesVersion()} on node ${sh(["node", "--version"])}, raw relay = relay.c built with ${sh(["gcc", "--version"]).replace(/\(.*\)\s*/, "")} -O2.`,
);
P(
  `- **Method**: ${nRounds} round(s); every run starts a fresh server on 127.0.0.1; rounds interleave the peers. Cells show the median, small print the min–max over rounds. "× raw" = the peer's value divided by the raw relay's value *in the same round*, median over rounds.`,
);
P();

const wl = (name: string) => rows.find((r) => r.wname === name);

// relay + light
for (const [wname, title] of [
  ["relay", "Relay (online one-to-one)"],
  ["light", "Light relay (unloaded latency)"],
] as const) {
  const g = groups(wname);
  if (!g.size) continue;
  const s = wl(wname)!;
  P(
    `## ${title}: ${s.pairs} sender/receiver pairs, window ${s.window}, ${s.payload}-byte payload, ${s.warmup_s ?? 0} s warm-up + ${s.duration_s ?? "?"} s`,
  );
  P();
  P(
    "| peer | delivered msgs/s | × raw | p50 ms | p99 ms | max ms | server peak RSS MB | server CPU % (sys) | harness CPU % (sys) | harness syscalls/msg | limit | lost |",
  );
  P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
  for (const k of order([...g.keys()])) {
    const rs = g.get(k)!;
    P(
      `| ${k} | ${fmtN(med(rs, "msgs_per_s"))}${spread(rs, "msgs_per_s")} | ${k === "raw" ? "1" : fmtX(ratio(wname, rs, "msgs_per_s"))} | ${fmtMs(med(rs, "p50_ms"))} | ${fmtMs(med(rs, "p99_ms"))} | ${fmtMs(med(rs, "max_ms"))} | ${fmtN(med(rs, "server_peak_rss_mb"), 1)} | ${fmtN(med(rs, "server_cpu_pct"))} (${fmtN(med(rs, "server_sys_pct"))}) | ${fmtN(med(rs, "harness_cpu_pct"))} (${fmtN(med(rs, "harness_sys_pct"))}) | ${fmtN(med(rs, "harness_syscalls_per_msg"), 2)} | ${limitOf(med(rs, "server_cpu_pct"), med(rs, "harness_cpu_pct"))} | ${rs.reduce((a, r) => a + (r.lost ?? 0), 0)} |`,
    );
  }
  for (const e of errorsOf(wname)) P(`- error: ${e}`);
  P();
}

// conns
{
  const g = groups("conns");
  if (g.size) {
    const s = wl("conns")!;
    P(
      `## Idle connections: ${s.conns} clients connected and subscribed/registered (${s.conc} connects in flight)`,
    );
    P();
    P(
      "| peer | connected | connect all (s) | conns/s | server bytes/conn | × raw | server RSS before → after MB | ping all ms | server CPU % | harness CPU % | errors |",
    );
    P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const k of order([...g.keys()])) {
      const rs = g.get(k)!;
      P(
        `| ${k} | ${fmtN(med(rs, "conns"))} | ${fmtN(med(rs, "connect_all_s"), 2)}${spread(rs, "connect_all_s", 2)} | ${fmtN(med(rs, "connects_per_s"))} | ${fmtN(med(rs, "bytes_per_conn"))}${spread(rs, "bytes_per_conn")} | ${k === "raw" ? "1" : fmtX(ratio("conns", rs, "bytes_per_conn"))} | ${fmtN(med(rs, "server_rss_before_mb"), 1)} → ${fmtN(med(rs, "server_rss_after_mb"), 1)} | ${rs[0]!.ping_all_ms === null ? "n/a" : fmtN(med(rs, "ping_all_ms"))} | ${fmtN(med(rs, "server_cpu_pct"))} | ${fmtN(med(rs, "harness_cpu_pct"))} | ${rs.reduce((a, r) => a + (r.connect_errors ?? 0) + (r.dropped ?? 0), 0)} |`,
      );
    }
    for (const e of errorsOf("conns")) P(`- error: ${e}`);
    P();
  }
}

// offline
{
  const g = groups("offline");
  if (g.size) {
    const s = wl("offline")!;
    P(
      `## Offline queue: ${fmtN(s.messages)} messages to ${s.pairs} offline receiver(s) (window ${s.window}), then the receiver connects and drains`,
    );
    P();
    P(
      "| peer | enqueue msgs/s | × raw | drain msgs/s | × raw | server bytes/queued msg | server peak RSS MB | enqueue server/harness CPU % | drain server/harness CPU % | lost |",
    );
    P("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const k of order([...g.keys()])) {
      const rs = g.get(k)!;
      const raw = k === "raw";
      P(
        `| ${k} | ${fmtN(med(rs, "enqueue_msgs_per_s"))}${spread(rs, "enqueue_msgs_per_s")} | ${raw ? "1" : fmtX(ratio("offline", rs, "enqueue_msgs_per_s"))} | ${fmtN(med(rs, "drain_msgs_per_s"))}${spread(rs, "drain_msgs_per_s")} | ${raw ? "1" : fmtX(ratio("offline", rs, "drain_msgs_per_s"))} | ${fmtN(med(rs, "bytes_per_queued_msg"))} | ${fmtN(med(rs, "server_peak_rss_mb"), 1)} | ${fmtN(med(rs, "enqueue_server_cpu_pct"))} / ${fmtN(med(rs, "enqueue_harness_cpu_pct"))} | ${fmtN(med(rs, "drain_server_cpu_pct"))} / ${fmtN(med(rs, "drain_harness_cpu_pct"))} | ${rs.reduce((a, r) => a + (r.lost ?? 0), 0)} |`,
      );
    }
    for (const e of errorsOf("offline")) P(`- error: ${e}`);
    P();
  }
}

P("## How to read this");
P();
P(
  "- **CPU %** is per process over the measured window (100 % = one core). A side at ~100 % is the bottleneck; mosquitto and relay.c are single-threaded, node (aedes) can exceed 100 % through GC/IO threads, the Bun harness is one JS thread.",
);
P(
  '- **raw** is relay.c: no parsing, big batched reads and writes. Its throughput is bounded by the *harness* (harness CPU ≈ 100 %, relay far below), so "× raw" compares a peer against the harness-plus-kernel ceiling, not against relay.c alone. **raw [per-frame]** is relay.c making one write() per message and one per ack, as a server that answers each message on its own does: the ceiling for that design in C on this machine (both processes near 100 %, mostly kernel time).',
);
P(
  '- **limit**: the process at ≥ 95 % of a core (server, harness, both); "neither" means the run is bound by round trips (window 1), not CPU.',
);
P(
  "- **harness syscalls/msg** counts the harness's socket reads + writes per delivered message: ≈ 4 means every packet arrived alone (the harness was waiting on the server); well below 1 means the harness fell behind and reads arrived in big batches (the harness is the limit).",
);
P(
  "- **Latency** is end-to-end (sender's timestamp at send time, read by the receiver in the same process). With P pairs × W window outstanding, p50 ≈ P·W / throughput (Little's law): under the relay load it is mostly queueing; the light relay (1 pair, window 1) shows the unloaded path.",
);
P(
  "- **Ack semantics**: the sender's window counts the server's own acknowledgement (MQTT PUBACK from the broker, relay.c's one-byte ack), sent when the server accepts the message, not when the receiver gets it.",
);
P(
  "- **bytes/conn** and **bytes/queued msg** are the server's VmRSS growth divided by the count (kernel socket buffers are not included). `lost` = sent − delivered after the drain, summed over rounds.",
);
P(
  "- mosquitto config: `set_tcp_nodelay true`, `max_queued_messages` raised to hold the offline backlog, `max_inflight_messages` left at 20; persist-on = `persistence true` with the default autosave (a periodic snapshot, not a per-message write). aedes: defaults (in-memory aedes-persistence), noDelay sockets.",
);
P();
const text = `${out.join("\n")}\n`;
if (outPath) writeFileSync(outPath, text);
console.log(text);
