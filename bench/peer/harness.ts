#!/usr/bin/env bun
// Side-by-side load harness for the chat server and its peers.
//
//   bun harness.ts --driver mqtt|raw --port N [--pid SERVER_PID] [--workload relay|conns|offline] ...
//
// Prints one JSON line per run on stdout (also appended to --out FILE) and a
// human-readable table on stderr.  Every loop is bounded in count and time.
// See README.md for the workloads, flags and the driver interface.

import { appendFileSync, readFileSync } from "node:fs";
import { DRIVERS } from "./drivers";
import { ioStats } from "./drivers/tcp";
import type { Client, ClientHandlers, Driver } from "./drivers/types";

// ---------------------------------------------------------------- options
type Opts = {
  driver: string;
  label: string;
  variant: string;
  workload: string;
  host: string;
  port: number;
  pid: number;
  pairs: number;
  window: number;
  payload: number;
  duration: number;
  warmup: number;
  count: number;
  conns: number;
  conc: number;
  messages: number;
  drainTimeout: number;
  maxSeconds: number;
  out: string;
  quiet: boolean;
  round: number;
  wname: string;
};

const HELP = `usage: bun harness.ts --driver <${Object.keys(DRIVERS).join("|")}> --port N [options]
  --workload relay|conns|offline   (default relay)
  --host 127.0.0.1  --pid SERVER_PID (RSS/CPU from /proc)  --label NAME  --variant STR
  relay:   --pairs 50 --window 64 --payload 64 --warmup 1 --duration 5 | --count N (per sender)
  conns:   --conns 10000 --conc 50 (connects in flight)
  offline: --messages 100000 --pairs 1 --window 64 --drain-timeout 60
  --out FILE (append the JSON line)  --max-seconds S (hard stop, default 300)
  --quiet (one summary line on stderr instead of the table)
  --round N --wname NAME (recorded in the JSON line; run-peers.sh uses them for grouping)`;

function parseOpts(argv: string[]): Opts {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help") {
      console.log(HELP);
      process.exit(0);
    }
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}\n${HELP}`);
    const eq = a.indexOf("=");
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else if (a === "--quiet") m.set("quiet", "1");
    else m.set(a.slice(2), argv[++i] ?? "");
  }
  const s = (k: string, d: string) => m.get(k) ?? d;
  const n = (k: string, d: number) => {
    const v = m.get(k);
    if (v === undefined) return d;
    const x = Number(v);
    if (!Number.isFinite(x)) throw new Error(`--${k} wants a number, got ${v}`);
    return x;
  };
  const workload = s("workload", "relay");
  const driver = s("driver", "");
  if (!DRIVERS[driver])
    throw new Error(`--driver must be one of ${Object.keys(DRIVERS).join(", ")}\n${HELP}`);
  if (!["relay", "conns", "offline"].includes(workload)) throw new Error(`unknown workload ${workload}`);
  const o: Opts = {
    driver,
    label: s("label", driver),
    variant: s("variant", ""),
    workload,
    host: s("host", "127.0.0.1"),
    port: n("port", 0),
    pid: n("pid", 0),
    pairs: n("pairs", workload === "offline" ? 1 : 50),
    window: n("window", 64),
    payload: n("payload", 64),
    duration: n("duration", 5),
    warmup: n("warmup", 1),
    count: n("count", 0),
    conns: n("conns", 10000),
    conc: n("conc", 50),
    messages: n("messages", 100000),
    drainTimeout: n("drain-timeout", 60),
    maxSeconds: n("max-seconds", 300),
    out: s("out", ""),
    quiet: m.has("quiet"),
    round: n("round", 1),
    wname: s("wname", workload),
  };
  if (!o.port) throw new Error(`--port is required\n${HELP}`);
  if (o.payload < 16) throw new Error("--payload must be >= 16 (timestamp, seq, pair)");
  return o;
}

// ---------------------------------------------------------------- /proc helpers
const CLK_TCK = 100;
function procStatus(pid: number): { rssKb: number; hwmKb: number } | null {
  if (!pid) return null;
  try {
    const t = readFileSync(`/proc/${pid}/status`, "utf8");
    const g = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? NaN);
    return { rssKb: g("VmRSS"), hwmKb: g("VmHWM") };
  } catch {
    return null;
  }
}
/** [total, system] CPU seconds of a process from /proc/PID/stat. */
function procCpuSec(pid: number): [number, number] {
  if (!pid) return [NaN, NaN];
  try {
    const t = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = t.slice(t.lastIndexOf(")") + 2).split(" ");
    const u = Number(f[11]) / CLK_TCK,
      s = Number(f[12]) / CLK_TCK; // utime, stime (fields 14, 15)
    return [u + s, s];
  } catch {
    return [NaN, NaN];
  }
}
function selfCpuSec(): [number, number] {
  const u = process.cpuUsage();
  return [(u.user + u.system) / 1e6, u.system / 1e6];
}
/** CPU snapshot of the server and of this harness process. */
function cpuSnap(pid: number) {
  return { t: performance.now(), srv: procCpuSec(pid), me: selfCpuSec(), io: ioStats.reads + ioStats.writes };
}
function cpuPct(a: ReturnType<typeof cpuSnap>, b: ReturnType<typeof cpuSnap>) {
  const wall = (b.t - a.t) / 1000;
  // /proc CPU times tick at 10 ms: windows shorter than 0.3 s say nothing
  if (wall < 0.3)
    return { server_cpu_pct: null, server_sys_pct: null, harness_cpu_pct: null, harness_sys_pct: null };
  const pct = (x: number, y: number) => r1(((y - x) / wall) * 100);
  return {
    server_cpu_pct: pct(a.srv[0], b.srv[0]),
    server_sys_pct: pct(a.srv[1], b.srv[1]),
    harness_cpu_pct: pct(a.me[0], b.me[0]),
    harness_sys_pct: pct(a.me[1], b.me[1]),
  };
}

// ---------------------------------------------------------------- small utils
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const mb = (kb: number | undefined) => (kb === undefined || !Number.isFinite(kb) ? null : r1(kb / 1024));

class Samples {
  a = new Float32Array(1 << 20);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) {
      const b = new Float32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  summary() {
    const s = this.a.subarray(0, this.n).sort();
    const q = (p: number) => (this.n ? s[Math.min(this.n - 1, Math.floor(p * this.n))]! : NaN);
    return {
      p50_ms: r3(q(0.5)),
      p99_ms: r3(q(0.99)),
      max_ms: r3(this.n ? s[this.n - 1]! : NaN),
      samples: this.n,
    };
  }
}

/** Run fn(i) for i in [0,n) with at most `conc` in flight; returns failures. */
async function pool(
  n: number,
  conc: number,
  fn: (i: number) => Promise<void>,
): Promise<{ errors: number; firstError?: string }> {
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        errors++;
        firstError ??= String((e as Error)?.message ?? e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, n) }, worker));
  return { errors, firstError };
}

async function closeAll(clients: (Client | undefined)[], ms = 15000) {
  await Promise.race([
    pool(clients.length, 500, async (i) => {
      await clients[i]?.close();
    }),
    sleep(ms),
  ]);
}

/** Wait until cond() holds, polling every 10 ms; false on timeout or stall. */
async function waitFor(
  cond: () => boolean,
  timeoutMs: number,
  progress?: () => number,
  stallMs = 5000,
): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  let last = progress?.() ?? 0;
  let lastChange = performance.now();
  while (!cond()) {
    const now = performance.now();
    if (now > end) return false;
    if (progress) {
      const p = progress();
      if (p !== last) {
        last = p;
        lastChange = now;
      } else if (now - lastChange > stallMs) return false;
    }
    await sleep(10);
  }
  return true;
}

// Payload layout (little-endian): [0..8) float64 send time (performance.now ms),
// [8..12) uint32 sequence within the pair, [12..16) uint32 pair index, rest 'x'.
const tsF64 = new Float64Array(1);
const tsU8 = new Uint8Array(tsF64.buffer);
function readTs(p: Uint8Array): number {
  for (let k = 0; k < 8; k++) tsU8[k] = p[k]!;
  return tsF64[0]!;
}
const readU32 = (p: Uint8Array, o: number) =>
  (p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0;
function writeU32(p: Uint8Array, o: number, v: number) {
  p[o] = v & 255;
  p[o + 1] = (v >>> 8) & 255;
  p[o + 2] = (v >>> 16) & 255;
  p[o + 3] = (v >>> 24) & 255;
}

/** P windowed senders: sender i sends to recv<i>, at most W unacked, up to limit[i] messages. */
class SenderSet {
  clients: Client[];
  inflight: Int32Array;
  sent: Float64Array;
  acked = 0;
  sentTotal = 0;
  active = false;
  payloads: Uint8Array[];
  tos: string[];
  constructor(
    readonly P: number,
    readonly W: number,
    readonly B: number,
    readonly limit: (i: number) => number,
  ) {
    this.clients = new Array(P);
    this.inflight = new Int32Array(P);
    this.sent = new Float64Array(P);
    this.payloads = Array.from({ length: P }, (_, i) => {
      const p = new Uint8Array(B).fill(0x78);
      writeU32(p, 12, i);
      return p;
    });
    this.tos = Array.from({ length: P }, (_, i) => `recv${i}`);
  }
  handlers(i: number): ClientHandlers {
    return {
      onDeliver: () => {},
      onAck: (n) => {
        this.inflight[i]! -= n;
        this.acked += n;
        if (this.active) this.pump(i);
      },
    };
  }
  pump(i: number) {
    const c = this.clients[i]!;
    const p = this.payloads[i]!;
    const to = this.tos[i]!;
    const lim = this.limit(i);
    let inf = this.inflight[i]!;
    let s = this.sent[i]!;
    if (inf >= this.W || s >= lim) return;
    tsF64[0] = performance.now(); // one timestamp per batch: the batch leaves in one write()
    p.set(tsU8, 0);
    while (inf < this.W && s < lim) {
      writeU32(p, 8, s);
      c.send(to, p);
      inf++;
      s++;
      this.sentTotal++;
    }
    this.inflight[i] = inf;
    this.sent[i] = s;
  }
  start() {
    this.active = true;
    for (let i = 0; i < this.P; i++) this.pump(i);
  }
}

/** P receivers recv<i>: count deliveries, record latency, check per-pair order. */
class ReceiverSet {
  delivered = 0;
  measured = 0;
  measuring = false;
  recordLatency = true;
  orderErrors = 0;
  lastDeliver = 0;
  lat = new Samples();
  expect: Uint32Array;
  clients: Client[];
  constructor(readonly P: number) {
    this.expect = new Uint32Array(P);
    this.clients = new Array(P);
  }
  handlers(i: number): ClientHandlers {
    return {
      onAck: () => {},
      onDeliver: (p) => {
        const now = performance.now();
        this.delivered++;
        this.lastDeliver = now;
        const seq = readU32(p, 8);
        if (seq !== this.expect[i] || readU32(p, 12) !== i) this.orderErrors++;
        this.expect[i] = seq + 1;
        if (this.measuring) {
          this.measured++;
          if (this.recordLatency) this.lat.push(now - readTs(p));
        }
      },
    };
  }
}

// ---------------------------------------------------------------- workloads
type Result = Record<string, unknown>;

async function relay(d: Driver, o: Opts): Promise<Result> {
  const P = o.pairs;
  const rx = new ReceiverSet(P);
  const tx = new SenderSet(P, o.window, o.payload, o.count > 0 ? () => o.count : () => Infinity);
  const c1 = await pool(P, 50, async (i) => {
    rx.clients[i] = await d.connect(`recv${i}`, rx.handlers(i), { persistent: false });
  });
  const c2 = await pool(P, 50, async (i) => {
    tx.clients[i] = await d.connect(`send${i}`, tx.handlers(i), { persistent: false });
  });
  if (c1.errors || c2.errors) throw new Error(`connect failed: ${c1.firstError ?? c2.firstError}`);

  let m0 = cpuSnap(o.pid),
    m1 = m0;
  let measuredWall = 0;
  if (o.count > 0) {
    rx.measuring = true;
    const total = P * o.count;
    tx.start();
    const ok = await waitFor(
      () => rx.delivered >= total,
      (o.maxSeconds - 5) * 1000,
      () => rx.delivered,
    );
    m1 = cpuSnap(o.pid);
    measuredWall = (rx.lastDeliver - m0.t) / 1000;
    if (!ok) console.error(`relay: only ${rx.delivered}/${total} delivered before timeout/stall`);
  } else {
    tx.start();
    await sleep(o.warmup * 1000);
    m0 = cpuSnap(o.pid);
    rx.measuring = true;
    await sleep(o.duration * 1000);
    rx.measuring = false;
    m1 = cpuSnap(o.pid);
    tx.active = false;
    measuredWall = (m1.t - m0.t) / 1000;
  }
  tx.active = false;
  // let everything in flight land (bounded)
  await waitFor(
    () => rx.delivered >= tx.sentTotal && tx.acked >= tx.sentTotal,
    15000,
    () => rx.delivered + tx.acked,
  );
  const st = procStatus(o.pid);
  await closeAll([...tx.clients, ...rx.clients]);
  return {
    msgs_per_s: Math.round(rx.measured / measuredWall),
    ...rx.lat.summary(),
    measured_s: r3(measuredWall),
    sent: tx.sentTotal,
    delivered: rx.delivered,
    acked: tx.acked,
    lost: tx.sentTotal - rx.delivered,
    order_errors: rx.orderErrors,
    server_rss_mb: mb(st?.rssKb),
    server_peak_rss_mb: mb(st?.hwmKb),
    harness_rss_mb: r1(process.memoryUsage().rss / 1048576),
    ...cpuPct(m0, m1),
    harness_syscalls_per_msg: rx.measured ? r3((m1.io - m0.io) / rx.measured) : null,
  };
}

/** Quiet time before each RSS reading of the conns workload (a server may collect then). */
const SETTLE_MS = 2000;

async function conns(d: Driver, o: Opts): Promise<Result> {
  const N = o.conns;
  const clients: (Client | undefined)[] = new Array(N);
  let dropped = 0;
  const h: ClientHandlers = {
    onDeliver() {},
    onAck() {},
    onClose: (err) => {
      if (err) dropped++;
    },
  };
  // Settling, the same for every server: each user connects once and leaves before the
  // measured connect (a chat account is created then, as it would exist before its owner
  // comes back online), then the server has SETTLE_MS to go quiet. The measured figure is
  // what N logged-in idle connections hold, not the garbage of setting their users up.
  const setup = await pool(N, o.conc, async (i) => {
    const c = await d.connect(`recv${i}`, h, { persistent: false, timeoutMs: 30000 });
    await c.close();
  });
  if (setup.errors) throw new Error(`setup connects failed: ${setup.firstError}`);
  dropped = 0;
  await sleep(SETTLE_MS);
  const rss0 = procStatus(o.pid);
  const s0 = cpuSnap(o.pid);
  const res = await pool(N, o.conc, async (i) => {
    clients[i] = await d.connect(`recv${i}`, h, { persistent: false, timeoutMs: 30000 });
  });
  const s1 = cpuSnap(o.pid);
  const connectS = (s1.t - s0.t) / 1000;
  await sleep(SETTLE_MS); // the same quiet time as before the connect
  const rss1 = procStatus(o.pid);
  // liveness round: one ping per connection, all at once (if the protocol has one)
  let pingAllMs: number | null = null;
  const open = clients.filter((c): c is Client => !!c);
  if (open.length && open[0]!.ping) {
    const t = performance.now();
    const ok = await Promise.race([
      Promise.all(open.map((c) => c.ping!())).then(() => true),
      sleep(30000).then(() => false),
    ]);
    pingAllMs = ok ? r1(performance.now() - t) : -1;
  }
  const connected = open.length;
  const bytesPerConn =
    rss0 && rss1 && connected ? Math.round(((rss1.rssKb - rss0.rssKb) * 1024) / connected) : null;
  await closeAll(clients, 20000);
  return {
    conns: connected,
    connect_errors: res.errors,
    first_error: res.firstError ?? null,
    dropped,
    connect_all_s: r3(connectS),
    connects_per_s: Math.round(connected / connectS),
    server_rss_before_mb: mb(rss0?.rssKb),
    server_rss_after_mb: mb(rss1?.rssKb),
    bytes_per_conn: bytesPerConn,
    ping_all_ms: pingAllMs,
    server_peak_rss_mb: mb(procStatus(o.pid)?.hwmKb),
    harness_rss_mb: r1(process.memoryUsage().rss / 1048576),
    ...cpuPct(s0, s1),
  };
}

async function offline(d: Driver, o: Opts): Promise<Result> {
  const P = o.pairs,
    K = o.messages;
  const per = (i: number) => Math.floor(K / P) + (i < K % P ? 1 : 0);
  const rx = new ReceiverSet(P);
  rx.recordLatency = false;
  // 1. receivers exist (persistent session / account) and go offline
  for (let i = 0; i < P; i++) {
    const c = await d.connect(`recv${i}`, rx.handlers(i), { persistent: true });
    await c.close();
  }
  await sleep(300);
  const rss0 = procStatus(o.pid);
  // 2. enqueue K messages while the receivers are offline
  const tx = new SenderSet(P, o.window, o.payload, per);
  const c2 = await pool(P, 50, async (i) => {
    tx.clients[i] = await d.connect(`send${i}`, tx.handlers(i), { persistent: false });
  });
  if (c2.errors) throw new Error(`connect failed: ${c2.firstError}`);
  const e0 = cpuSnap(o.pid);
  tx.start();
  const okE = await waitFor(
    () => tx.acked >= K,
    o.drainTimeout * 1000,
    () => tx.acked,
  );
  const e1 = cpuSnap(o.pid);
  const enqS = (e1.t - e0.t) / 1000;
  if (!okE) console.error(`offline: only ${tx.acked}/${K} acked`);
  await closeAll(tx.clients);
  await sleep(300);
  const rss1 = procStatus(o.pid);
  // 3. receivers come back and drain
  rx.measuring = true;
  const d0 = cpuSnap(o.pid);
  await pool(P, 50, async (i) => {
    rx.clients[i] = await d.connect(`recv${i}`, rx.handlers(i), { persistent: true, timeoutMs: 30000 });
  });
  const okD = await waitFor(
    () => rx.delivered >= K,
    o.drainTimeout * 1000,
    () => rx.delivered,
  );
  const d1 = cpuSnap(o.pid);
  const drainS = ((rx.delivered >= K ? rx.lastDeliver : d1.t) - d0.t) / 1000;
  if (!okD) console.error(`offline: only ${rx.delivered}/${K} drained`);
  const st = procStatus(o.pid);
  await closeAll(rx.clients);
  const enq = cpuPct(e0, e1),
    dr = cpuPct(d0, d1);
  return {
    messages: K,
    acked: tx.acked,
    delivered: rx.delivered,
    lost: K - rx.delivered,
    order_errors: rx.orderErrors,
    enqueue_s: r3(enqS),
    enqueue_msgs_per_s: Math.round(tx.acked / enqS),
    drain_s: r3(drainS),
    drain_msgs_per_s: Math.round(rx.delivered / drainS),
    server_rss_before_mb: mb(rss0?.rssKb),
    server_rss_queued_mb: mb(rss1?.rssKb),
    bytes_per_queued_msg: rss0 && rss1 ? Math.round(((rss1.rssKb - rss0.rssKb) * 1024) / K) : null,
    server_peak_rss_mb: mb(st?.hwmKb),
    enqueue_server_cpu_pct: enq.server_cpu_pct,
    enqueue_harness_cpu_pct: enq.harness_cpu_pct,
    drain_server_cpu_pct: dr.server_cpu_pct,
    drain_harness_cpu_pct: dr.harness_cpu_pct,
  };
}

// ---------------------------------------------------------------- main
async function main() {
  let o: Opts;
  try {
    o = parseOpts(process.argv.slice(2));
  } catch (e) {
    console.error(String((e as Error).message));
    process.exit(2);
  }
  const hard = setTimeout(() => {
    console.error(`harness: hard deadline ${o.maxSeconds}s reached, exiting`);
    process.exit(3);
  }, o.maxSeconds * 1000);
  const d = DRIVERS[o.driver]!({ host: o.host, port: o.port, payloadBytes: o.payload });
  const params: Result =
    o.workload === "relay"
      ? {
          pairs: o.pairs,
          window: o.window,
          payload: o.payload,
          ...(o.count ? { count: o.count } : { warmup_s: o.warmup, duration_s: o.duration }),
        }
      : o.workload === "conns"
        ? { conns: o.conns, conc: o.conc }
        : { messages: o.messages, pairs: o.pairs, window: o.window, payload: o.payload };
  const wl = o.workload === "relay" ? relay : o.workload === "conns" ? conns : offline;
  let res: Result;
  try {
    res = await wl(d, o);
  } catch (e) {
    res = { error: String((e as Error)?.message ?? e) };
  }
  clearTimeout(hard);
  const line = {
    time: new Date().toISOString(),
    label: o.label,
    driver: o.driver,
    variant: o.variant,
    workload: o.workload,
    wname: o.wname,
    round: o.round,
    bun: Bun.version,
    ...params,
    ...res,
  };
  const json = JSON.stringify(line);
  console.log(json);
  if (o.out) appendFileSync(o.out, `${json}\n`);
  const name = `${o.label}${o.variant ? ` [${o.variant}]` : ""} / ${o.wname}`;
  if (o.quiet) {
    const keys = [
      "msgs_per_s",
      "p50_ms",
      "p99_ms",
      "max_ms",
      "lost",
      "conns",
      "connect_all_s",
      "bytes_per_conn",
      "enqueue_msgs_per_s",
      "drain_msgs_per_s",
      "lost",
      "server_peak_rss_mb",
      "server_cpu_pct",
      "harness_cpu_pct",
      "error",
    ];
    const kv = [...new Set(keys)].filter((k) => k in line).map((k) => `${k}=${(line as Result)[k]}`);
    console.error(`  ${name.padEnd(34)} ${kv.join(" ")}`);
  } else {
    const w = Math.max(...Object.keys(line).map((k) => k.length));
    console.error(`--- ${name}`);
    for (const [k, v] of Object.entries(line)) if (k !== "time") console.error(`  ${k.padEnd(w)}  ${v}`);
  }
  process.exit(res.error ? 1 : 0);
}

main();
