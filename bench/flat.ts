// Bounded de-duplication, shown: TOTAL messages (default 10 million), every one with a
// client_msg_id and confirmed by its receiver, through one `chat serve`, with the server's
// RSS and data-file size (file + WAL, and the redo log) recorded after the first FIRST (100,000) messages and
// after each further CHUNK. Both must stay flat: within 10 % of their size after the first
// 100,000. A benchmark, not a test: run it by hand on a quiet machine.
//
//   bun bench/flat.ts                                  # 10 M messages, the default SQLite store
//   TOTAL=2000000 bun bench/flat.ts                    # shorter
//   DATA=:memory: bun bench/flat.ts                    # the in-memory store
//
// Knobs (env): TOTAL=10000000 FIRST=100000 CHUNK=1000000 PAIRS=10 WINDOW=64 DATA=<fresh file>
//   OUT=bench/out. Writes one JSON line per sample to $OUT/flat-<time>.jsonl and prints a table.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "dist/chat");
const env = (k: string, d: number) => Number(process.env[k] ?? d);
const TOTAL = env("TOTAL", 10_000_000);
const FIRST = env("FIRST", 100_000);
const CHUNK = env("CHUNK", 1_000_000);
const PAIRS = env("PAIRS", 10);
const WINDOW = env("WINDOW", 64);
const OUT = process.env.OUT ?? join(ROOT, "bench/out");
if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run bun run build first`);

const dir = mkdtempSync(join(tmpdir(), "chat-flat-"));
const data = process.env.DATA ?? join(dir, "flat.db");
const port = await freePort();
// Every client comes from 127.0.0.1: the per-address request budget (about 250 stored
// messages a second by default) is raised, as bench/peer/run-peers.sh does, so the figure is
// the server's and not the budget's.
const server = Bun.spawn(
  [
    BIN,
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--data",
    data,
    "--log-level",
    "warn",
    "--request-rate-per-address",
    "100000000",
    "--request-burst-per-address",
    "100000000",
    "--request-rate",
    "1000000",
    "--request-burst",
    "1000000",
  ],
  { stdin: "ignore", stdout: "inherit", stderr: "inherit" },
);
process.on("exit", () => server.kill("SIGKILL"));
await untilListening(port);

const rows: Record<string, number | string | null>[] = [];
mkdirSync(OUT, { recursive: true });
const linesFile = join(OUT, `flat-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`);
writeFileSync(linesFile, "");
let done = 0;
const started = performance.now();
while (done < TOTAL) {
  const n = Math.min(done === 0 ? FIRST : CHUNK, TOTAL - done);
  const perSender = Math.max(1, Math.round(n / PAIRS));
  const run = Bun.spawnSync(
    [
      BIN,
      "bench",
      "relay",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--pid",
      String(server.pid),
      "--pairs",
      String(PAIRS),
      "--window",
      String(WINDOW),
      "--count",
      String(perSender),
      "--json",
      "--max-seconds",
      "3600",
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  const result = JSON.parse(run.stdout.toString().trim().split("\n").at(-1) || "{}");
  if (run.exitCode !== 0 || result.lost !== 0 || result.order_errors !== 0 || result.refused !== 0)
    throw new Error(`bench run failed: ${JSON.stringify(result)}`);
  done += perSender * PAIRS;
  // Once it falls quiet the server collects garbage (src/server.ts idleCollector) and, a
  // COMMIT later, empties its WAL (src/store/sqlite.ts checkpointIfIdle): sample after both.
  await Bun.sleep(2500);
  const row = {
    messages: done,
    msgs_per_s: result.msgs_per_s,
    server_rss_mb: mb(rssKiB(server.pid)),
    data_mb:
      data === ":memory:" ? null : mb(fileKiB(data) + fileKiB(`${data}-wal`) + fileKiB(`${data}-redo`)),
    // SQLite's own files (the data file and its WAL), and the data file alone.
    sqlite_mb: data === ":memory:" ? null : mb(fileKiB(data) + fileKiB(`${data}-wal`)),
    file_mb: data === ":memory:" ? null : mb(fileKiB(data)),
    // The redo log alone: its length is bounded by the bytes allowed between two commits.
    redo_mb: data === ":memory:" ? null : mb(fileKiB(`${data}-redo`)),
    elapsed_s: Math.round((performance.now() - started) / 1000),
  };
  rows.push(row);
  writeFileSync(linesFile, `${JSON.stringify(row)}\n`, { flag: "a" });
  console.error(JSON.stringify(row));
}
server.kill("SIGTERM");
await server.exited;
if (!process.env.DATA) rmSync(dir, { recursive: true, force: true });

const first = rows[0]!;
const last = rows.at(-1)!;
const growth = (k: "server_rss_mb" | "data_mb" | "sqlite_mb" | "file_mb" | "redo_mb") =>
  first[k] === null || last[k] === null
    ? "n/a"
    : `${(((last[k] as number) / (first[k] as number) - 1) * 100).toFixed(1)} %`;
console.log(
  `| messages | msgs/s | server RSS MB | data file MB | data file + WAL MB | redo log MB | data file + WAL + redo MB |`,
);
console.log(`|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of rows)
  console.log(
    `| ${r.messages} | ${r.msgs_per_s} | ${r.server_rss_mb} | ${r.file_mb ?? "–"} | ${r.sqlite_mb ?? "–"} | ${r.redo_mb ?? "–"} | ${r.data_mb ?? "–"} |`,
  );
console.log(
  `\ngrowth from the first ${FIRST} to ${last.messages}: RSS ${growth("server_rss_mb")}, data file ${growth("file_mb")}, with its WAL ${growth("sqlite_mb")}, redo log ${growth("redo_mb")}, all three ${growth("data_mb")}`,
);
console.log(`lines: ${linesFile}`);

function mb(kib: number): number {
  return Math.round((kib / 1024) * 10) / 10;
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
}

function fileKiB(path: string): number {
  return existsSync(path) ? statSync(path).size / 1024 : 0;
}

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = probe.port;
  probe.stop(true);
  return p;
}

async function untilListening(p: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port: p, socket: { data() {} } });
      s.end();
      return;
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error("the server did not start listening within 15 s");
}
