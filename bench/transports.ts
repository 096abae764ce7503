// TCP beside WebSocket, same build, same machine, rounds interleaved: `chat bench` relay and
// light over each transport against a freshly started server per run (its default SQLite
// store), then the median of each figure per transport and the WebSocket ÷ TCP ratio per
// round (median over rounds). The load average is recorded before and after: on a shared
// machine it says how far to trust the absolute figures.
//
//   bun bench/transports.ts                          # RUNS=3 DURATION=5: about 2 minutes
//   RUNS=1 DURATION=2 bun bench/transports.ts        # a quick look
//
// Knobs (env): RUNS=3 DURATION=5 WARMUP=1 PAIRS=50 WINDOW=64 OUT=bench/out. Writes the JSON
// lines to $OUT/transports-<time>.jsonl and prints a Markdown table.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "dist/chat");
const env = (k: string, d: number) => Number(process.env[k] ?? d);
const RUNS = env("RUNS", 3);
const DURATION = env("DURATION", 5);
const WARMUP = env("WARMUP", 1);
const PAIRS = env("PAIRS", 50);
const WINDOW = env("WINDOW", 64);
const OUT = process.env.OUT ?? join(ROOT, "bench/out");
if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run bun run build first`);

type Line = Record<string, number | string | null>;
const TRANSPORTS = ["tcp", "ws"] as const;
const WORKLOADS = ["relay", "light"] as const;
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

async function bench(workload: string, transport: string): Promise<Line> {
  const args = [BIN, "bench", workload, "--transport", transport, "--json", "--max-seconds", "120"];
  args.push("--warmup", String(WARMUP), "--duration", String(DURATION));
  if (workload === "relay") args.push("--pairs", String(PAIRS), "--window", String(WINDOW));
  const p = Bun.spawn(args, { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`${args.slice(1).join(" ")} failed:\n${out}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as Line;
}

const startedAt = new Date().toISOString();
const loadBefore = load();
const lines: Line[] = [];
for (let round = 0; round < RUNS; round++)
  for (const w of WORKLOADS)
    for (const t of TRANSPORTS) {
      const line: Line = { ...(await bench(w, t)), round, load: load() };
      lines.push(line);
      process.stderr.write(
        `round ${round + 1} ${w} ${t}: ${line.msgs_per_s} msgs/s, p50 ${line.p50_ms} ms\n`,
      );
    }
const loadAfter = load();

mkdirSync(OUT, { recursive: true });
const file = join(OUT, `transports-${startedAt.replace(/[:.]/g, "-")}.jsonl`);
writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pick = (w: string, t: string, k: string, round?: number) =>
  lines
    .filter((l) => l.workload === w && l.transport === t && (round === undefined || l.round === round))
    .map((l) => Number(l[k]));
const fmt = (x: number) =>
  x >= 100 ? Math.round(x).toLocaleString("en") : String(Math.round(x * 1000) / 1000);

const rows: [string, string, string][] = [
  [`relay msgs/s (${PAIRS} pairs, window ${WINDOW})`, "relay", "msgs_per_s"],
  ["relay p50 ms", "relay", "p50_ms"],
  ["relay p99 ms", "relay", "p99_ms"],
  ["relay server CPU µs per message", "relay", "server_us_per_msg"],
  ["relay server CPU %", "relay", "server_cpu_pct"],
  ["relay bench CPU %", "relay", "bench_cpu_pct"],
  ["light msgs/s (1 pair, window 1)", "light", "msgs_per_s"],
  ["light p50 ms", "light", "p50_ms"],
  ["light p99 ms", "light", "p99_ms"],
  ["light server CPU µs per message", "light", "server_us_per_msg"],
];
console.log(`${RUNS} round(s), ${DURATION} s measured each, ${startedAt} to ${new Date().toISOString()}`);
console.log(`load average before: ${loadBefore}; after: ${loadAfter}\n`);
console.log("| measure | TCP | WebSocket | WebSocket ÷ TCP |");
console.log("| --- | ---: | ---: | ---: |");
for (const [label, w, k] of rows) {
  const ratios = Array.from({ length: RUNS }, (_, r) => pick(w, "ws", k, r)[0]! / pick(w, "tcp", k, r)[0]!);
  console.log(
    `| ${label} | ${fmt(median(pick(w, "tcp", k)))} | ${fmt(median(pick(w, "ws", k)))} | ${median(ratios).toFixed(2)}× |`,
  );
}
console.error(`raw lines: ${file}`);
