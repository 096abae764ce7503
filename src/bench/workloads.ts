// The load shapes of `chat bench`, matching the peer harness in shared/bench so the figures
// compare: relay (P sender→receiver pairs, window W), conns (N idle logged-in clients),
// offline (K messages queued for an absent receiver, then drained), login (a storm).
// Every loop is bounded in count and time.

import { type BenchClient, BenchClient as Client, ioStats } from "./client";
import { Pairs, r3, Samples } from "./pairs";
import { type CpuMark, cpuMark, cpuPercent, cpuPercentEach, memoryKiB } from "./proc";
import { clientPlace, pairPlace } from "./spread";
import type { Target } from "./target";

export interface BenchOptions {
  pairs: number;
  window: number;
  payload: number;
  warmupS: number;
  durationS: number;
  /** Messages per sender instead of a timed run (0 = timed). */
  count: number;
  conns: number;
  conc: number;
  /** relay: idle logged-in clients connected besides the pairs (the scaling curve). */
  idle: number;
  messages: number;
  /** Senders give every SEND a client_msg_id (the real client's behaviour). */
  msgIds: boolean;
  maxSeconds: number;
  progress: (line: string) => void;
}

export type Result = Record<string, number | string | boolean | null>;

const PASSWORD = "bench password";
const r1 = (x: number) => Math.round(x * 10) / 10;
const mb = (kib: number | undefined) => (kib === undefined || Number.isNaN(kib) ? null : r1(kib / 1024));

/** Runs fn(i) for i in [0, n) with at most conc at once; returns failures. */
async function pool(n: number, conc: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  let errors = 0;
  let first: string | undefined;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        errors++;
        first ??= (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, n) }, worker));
  return { errors, first };
}

/** Waits until cond() holds (polling, bounded); false on timeout or when progress stalls. */
async function waitFor(cond: () => boolean, timeoutMs: number, progress: () => number, stallMs = 10_000) {
  const end = performance.now() + timeoutMs;
  let last = progress();
  let lastChange = performance.now();
  while (!cond()) {
    const now = performance.now();
    if (now > end) return false;
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = now;
    } else if (now - lastChange > stallMs) return false;
    await Bun.sleep(10);
  }
  return true;
}

const pids = (t: Target) => t.nodes.map((n) => n.pid);

/** Memory of the server processes together (each counted once), or null when unknown. */
function serverMemory(t: Target): { rss: number; peak: number } | null {
  const all = [...new Set(pids(t).filter((p) => p > 0))].map(memoryKiB);
  if (!all.length || all.some((m) => m === null)) return null;
  return { rss: all.reduce((a, m) => a + m!.rss, 0), peak: all.reduce((a, m) => a + m!.peak, 0) };
}

/**
 * With several nodes: each one's address, the clients the bench put there, and what can
 * be read of it (CPU between the marks, memory) when its pid is known.
 */
function perNode(t: Target, clients: number[], a?: CpuMark, b?: CpuMark): Result {
  if (t.nodes.length < 2) return {};
  const cpu = a && b ? cpuPercentEach(a, b) : [];
  const out: Result = { nodes: t.nodes.length };
  t.nodes.forEach((n, i) => {
    out[`node${i}`] = `${n.host.includes(":") ? `[${n.host}]` : n.host}:${n.port}`;
    out[`node${i}_clients`] = clients[i] ?? 0;
    if (a && b) out[`node${i}_cpu_pct`] = cpu[i] ?? null;
    out[`node${i}_rss_mb`] = n.pid ? mb(memoryKiB(n.pid)?.rss) : null;
  });
  return out;
}

function dial(t: Target, node: number): Promise<BenchClient> {
  const n = t.nodes[node % t.nodes.length]!;
  return Client.open(n.host, n.port, 30_000, t.transport);
}

async function connect(t: Target, user: string, create = true, node = 0): Promise<BenchClient> {
  const c = await dial(t, node);
  await c.login(user, PASSWORD, create);
  return c;
}

async function sender(t: Target, i: number, o: BenchOptions): Promise<BenchClient> {
  const c = await connect(t, `send${i}`, true, pairPlace(i, t.nodes.length).sender);
  c.msgIds = o.msgIds;
  return c;
}

/** Clients per node: P pairs (two each) and `others` spread round robin. */
function placed(t: Target, P: number, others: number, senders = true, receivers = true): number[] {
  const n = t.nodes.length;
  const count = new Array<number>(n).fill(0);
  for (let i = 0; i < P; i++) {
    const at = pairPlace(i, n);
    if (senders) count[at.sender]!++;
    if (receivers) count[at.receiver]!++;
  }
  for (let i = 0; i < others; i++) count[clientPlace(i, n)]!++;
  return count;
}

/** Receipts the senders confirmed, all together. */
const receiptsOf = (senders: BenchClient[]) => senders.reduce((n, c) => n + (c?.receiptsConfirmed ?? 0), 0);

/**
 * Waits (bounded) until the senders confirmed a receipt for each of their delivered
 * messages, as real clients do, so the run leaves no receipt waiting on the server.
 */
async function confirmReceipts(senders: BenchClient[], expected: number): Promise<number> {
  if (senders.some((c) => c.maxReceipts > 0)) {
    await waitFor(
      () => receiptsOf(senders) >= expected,
      15_000,
      () => receiptsOf(senders),
      3000,
    );
    // A PING's answer follows the server's handling of every frame sent before it (ACKs
    // included): the last confirmations are in before the connections close.
    await Promise.race([Promise.all(senders.map((c) => c?.ping())), Bun.sleep(5000)]);
  }
  return receiptsOf(senders);
}

async function closeAll(clients: (BenchClient | undefined)[]): Promise<void> {
  await Promise.race([pool(clients.length, 500, async (i) => clients[i]?.close()), Bun.sleep(20_000)]);
}

export async function relay(t: Target, o: BenchOptions): Promise<Result> {
  const P = o.pairs;
  const pairs = new Pairs(
    P,
    o.window,
    o.payload,
    o.count > 0 ? () => o.count : () => Number.POSITIVE_INFINITY,
  );
  o.progress(`relay: connecting ${P} receivers and ${P} senders`);
  const a = await pool(P, 50, async (i) =>
    pairs.receiverOf(i, await connect(t, `recv${i}`, true, pairPlace(i, t.nodes.length).receiver)),
  );
  const b = await pool(P, 50, async (i) => pairs.senderOf(i, await sender(t, i, o)));
  if (a.errors || b.errors) throw new Error(`connect failed: ${a.first ?? b.first}`);
  const idle: BenchClient[] = [];
  if (o.idle) {
    o.progress(`relay: connecting ${o.idle} idle clients`);
    const c = await pool(o.idle, 50, async (i) => {
      idle[i] = await connect(t, `idle${i}`, true, clientPlace(i, t.nodes.length));
    });
    if (c.errors) throw new Error(`connect failed: ${c.first}`);
  }
  let m0 = cpuMark(pids(t));
  let io0 = ioStats.reads + ioStats.writes;
  let m1 = m0;
  let wall: number;
  const ticker = setInterval(() => {
    o.progress(
      `relay: ${pairs.delivered.toLocaleString("en")} delivered, ${pairs.answered.toLocaleString("en")} answered`,
    );
  }, 1000);
  try {
    if (o.count > 0) {
      pairs.measuring = true;
      pairs.start();
      const total = P * o.count;
      const ok = await waitFor(
        () => pairs.delivered >= total,
        (o.maxSeconds - 5) * 1000,
        () => pairs.delivered,
      );
      m1 = cpuMark(pids(t));
      wall = (pairs.lastDelivery - m0.t) / 1000;
      if (!ok) o.progress(`relay: only ${pairs.delivered}/${total} delivered before the deadline`);
    } else {
      pairs.start();
      await Bun.sleep(o.warmupS * 1000);
      m0 = cpuMark(pids(t));
      io0 = ioStats.reads + ioStats.writes;
      pairs.measuring = true;
      await Bun.sleep(o.durationS * 1000);
      pairs.measuring = false;
      m1 = cpuMark(pids(t));
      wall = (m1.t - m0.t) / 1000;
    }
    const io1 = ioStats.reads + ioStats.writes;
    pairs.running = false;
    await waitFor(
      () => pairs.delivered >= pairs.sentTotal && pairs.answered >= pairs.sentTotal,
      15_000,
      () => pairs.delivered + pairs.answered,
    );
    const receipts = await confirmReceipts(pairs.senders, pairs.answered - pairs.refused());
    const mem = serverMemory(t);
    await closeAll([...pairs.senders, ...pairs.receivers, ...idle]);
    const cpu = cpuPercent(m0, m1);
    const rate = pairs.measured / wall;
    return {
      msgs_per_s: Math.round(rate),
      ...pairs.latency.summary(),
      measured_s: r3(wall),
      sent: pairs.sentTotal,
      delivered: pairs.delivered,
      answered: pairs.answered,
      refused: pairs.refused(),
      lost: pairs.sentTotal - pairs.delivered - pairs.refused(),
      order_errors: pairs.orderErrors,
      receipts_confirmed: receipts,
      server_rss_mb: mb(mem?.rss),
      server_peak_rss_mb: mb(mem?.peak),
      ...cpu,
      // Server CPU time per delivered message: what the scaling curves plot.
      server_us_per_msg:
        cpu.server_cpu_pct === null || !rate ? null : r3((cpu.server_cpu_pct / 100 / rate) * 1e6),
      // Over WebSocket the counts are messages and flushes, not syscalls.
      bench_syscalls_per_msg:
        pairs.measured && t.transport === "tcp" ? r3((io1 - io0) / pairs.measured) : null,
      ...perNode(t, placed(t, P, o.idle), m0, m1),
    };
  } finally {
    clearInterval(ticker);
  }
}

export async function conns(t: Target, o: BenchOptions): Promise<Result> {
  const N = o.conns;
  o.progress(`conns: creating ${N} accounts`);
  // Accounts first, on a few connections, so the measured phase is connect + log in only.
  const makers = await Promise.all(Array.from({ length: Math.min(20, N) }, () => dial(t, 0)));
  await pool(N, makers.length * 4, async (i) => {
    await makers[i % makers.length]!.request({ opcode: 1, sender: `recv${i}`, password: PASSWORD });
  });
  await closeAll(makers);
  await Bun.sleep(500);
  const before = serverMemory(t);
  const m0 = cpuMark(pids(t));
  const clients: (BenchClient | undefined)[] = new Array(N);
  let dropped = 0;
  const ticker = setInterval(
    () => o.progress(`conns: ${clients.filter(Boolean).length.toLocaleString("en")} logged in`),
    1000,
  );
  const res = await pool(N, o.conc, async (i) => {
    const c = await connect(t, `recv${i}`, false, clientPlace(i, t.nodes.length));
    c.handlers = { onAck() {}, onDeliver() {}, onClose: (e) => void (e && dropped++) };
    clients[i] = c;
  });
  clearInterval(ticker);
  const m1 = cpuMark(pids(t));
  const connectS = (m1.t - m0.t) / 1000;
  await Bun.sleep(1000); // let lazily allocated server memory settle (and an idle server collect)
  const after = serverMemory(t);
  const open = clients.filter((c): c is BenchClient => !!c);
  const p0 = performance.now();
  const pinged = await Promise.race([
    Promise.all(open.map((c) => c.ping())).then(() => true),
    Bun.sleep(30_000).then(() => false),
  ]);
  const pingAllMs = pinged ? r1(performance.now() - p0) : null;
  await closeAll(clients);
  return {
    conns: open.length,
    connect_errors: res.errors,
    first_error: res.first ?? null,
    dropped,
    connect_all_s: r3(connectS),
    logins_per_s: Math.round(open.length / connectS),
    server_rss_before_mb: mb(before?.rss),
    server_rss_after_mb: mb(after?.rss),
    bytes_per_conn:
      before && after && open.length ? Math.round(((after.rss - before.rss) * 1024) / open.length) : null,
    ping_all_ms: pingAllMs,
    server_peak_rss_mb: mb(serverMemory(t)?.peak),
    ...cpuPercent(m0, m1),
    ...perNode(t, placed(t, 0, N), m0, m1),
  };
}

export async function offline(t: Target, o: BenchOptions): Promise<Result> {
  const P = o.pairs;
  const K = o.messages;
  const per = (i: number) => Math.floor(K / P) + (i < K % P ? 1 : 0);
  const pairs = new Pairs(P, o.window, o.payload, per);
  pairs.recordLatency = false;
  o.progress(`offline: ${P} receiver(s) go offline, ${P} sender(s) queue ${K.toLocaleString("en")} messages`);
  const recvNode = (i: number) => pairPlace(i, t.nodes.length).receiver;
  for (let i = 0; i < P; i++) await (await connect(t, `recv${i}`, true, recvNode(i))).close();
  await Bun.sleep(300);
  const before = serverMemory(t);
  const s = await pool(P, 50, async (i) => pairs.senderOf(i, await sender(t, i, o)));
  if (s.errors) throw new Error(`connect failed: ${s.first}`);
  const e0 = cpuMark(pids(t));
  const ticker = setInterval(
    () =>
      o.progress(
        `offline: ${pairs.answered.toLocaleString("en")} queued, ${pairs.delivered.toLocaleString("en")} drained`,
      ),
    1000,
  );
  try {
    pairs.start();
    const enqueued = await waitFor(
      () => pairs.answered >= K,
      o.maxSeconds * 500,
      () => pairs.answered,
    );
    const e1 = cpuMark(pids(t));
    const enqueueS = (e1.t - e0.t) / 1000;
    if (!enqueued) o.progress(`offline: only ${pairs.answered}/${K} answered`);
    await closeAll(pairs.senders);
    await Bun.sleep(300);
    const queued = serverMemory(t);
    // The receivers come back and drain with pipelined CHECK pages, acknowledging each.
    pairs.measuring = true;
    const d0 = cpuMark(pids(t));
    await pool(P, 50, async (i) => pairs.receiverOf(i, await connect(t, `recv${i}`, false, recvNode(i))));
    const drains = pairs.receivers.map(async (c, i) => {
      let got = 0;
      while (got < per(i)) {
        const pages = await Promise.all([1, 2].map(() => c.request({ opcode: 4, pageSize: c.maxPageSize })));
        const n = pages.reduce((sum, r) => sum + r.messages.length, 0);
        got += n;
        if (n === 0) break;
      }
    });
    const drained = await Promise.race([
      Promise.all(drains).then(() => true),
      Bun.sleep(o.maxSeconds * 500).then(() => false),
    ]);
    const d1 = cpuMark(pids(t));
    const drainS = ((pairs.delivered >= K ? pairs.lastDelivery : d1.t) - d0.t) / 1000;
    if (!drained) o.progress(`offline: only ${pairs.delivered}/${K} drained`);
    const mem = serverMemory(t);
    await closeAll(pairs.receivers);
    // The senders come back, as a real client does, and confirm the receipts kept for them
    // (the newest max_receipts of each).
    const back: BenchClient[] = [];
    await pool(P, 50, async (i) => {
      back[i] = await connect(t, `send${i}`, false, pairPlace(i, t.nodes.length).sender);
    });
    const kept = (i: number) => Math.min(per(i), back[i]?.maxReceipts ?? 0);
    const receipts = await confirmReceipts(
      back,
      Array.from({ length: P }, (_, i) => kept(i)).reduce((a, b) => a + b, 0) - pairs.refused(),
    );
    await closeAll(back);
    const enq = cpuPercent(e0, e1);
    const dr = cpuPercent(d0, d1);
    return {
      messages: K,
      answered: pairs.answered,
      refused: pairs.refused(),
      delivered: pairs.delivered,
      lost: K - pairs.delivered - pairs.refused(),
      order_errors: pairs.orderErrors,
      enqueue_s: r3(enqueueS),
      enqueue_msgs_per_s: Math.round(pairs.answered / enqueueS),
      drain_s: r3(drainS),
      drain_msgs_per_s: Math.round(pairs.delivered / drainS),
      receipts_confirmed: receipts,
      server_rss_before_mb: mb(before?.rss),
      server_rss_queued_mb: mb(queued?.rss),
      bytes_per_queued_msg: before && queued ? Math.round(((queued.rss - before.rss) * 1024) / K) : null,
      server_peak_rss_mb: mb(mem?.peak),
      enqueue_server_cpu_pct: enq.server_cpu_pct,
      enqueue_bench_cpu_pct: enq.bench_cpu_pct,
      drain_server_cpu_pct: dr.server_cpu_pct,
      drain_bench_cpu_pct: dr.bench_cpu_pct,
      ...perNode(t, placed(t, P, 0), e0, e1),
    };
  } finally {
    clearInterval(ticker);
  }
}

export async function login(t: Target, o: BenchOptions): Promise<Result> {
  const N = o.conns;
  o.progress(`login: creating ${N} accounts`);
  const maker = await dial(t, 0);
  await pool(N, 8, async (i) => {
    await maker.request({ opcode: 1, sender: `user${i}`, password: PASSWORD });
  });
  await maker.close();
  const m0 = cpuMark(pids(t));
  const clients: (BenchClient | undefined)[] = new Array(N);
  const latency = new Samples();
  const res = await pool(N, o.conc, async (i) => {
    const started = performance.now();
    clients[i] = await connect(t, `user${i}`, false, clientPlace(i, t.nodes.length));
    latency.push(performance.now() - started);
  });
  const m1 = cpuMark(pids(t));
  const s = (m1.t - m0.t) / 1000;
  await closeAll(clients);
  return {
    logins: N - res.errors,
    errors: res.errors,
    first_error: res.first ?? null,
    login_s: r3(s),
    logins_per_s: Math.round((N - res.errors) / s),
    ...latency.summary(),
    server_peak_rss_mb: mb(serverMemory(t)?.peak),
    ...cpuPercent(m0, m1),
    ...perNode(t, placed(t, 0, N), m0, m1),
  };
}
