// CPU per drained message of the offline workload, in-process: ChatCore with the SQLite
// store (a fresh file) and connections that encode every frame as the TCP shell does, but
// no sockets. Each round, N messages with client_msg_id wait for an offline recipient
// (stored through the store, not measured); the recipient logs in and drains them as the
// peer harness's chat driver does: CHECK_MESSAGES pages of 1,000, two in flight, an ACK of
// every id of each page; the sender is offline, so its receipts are stored and kept to
// --max-receipts. What is measured is from the first CHECK to the last confirmation
// applied. With several source trees their rounds alternate in one process, so a change in
// the machine's load hits each alike:
//
//   bun bench/drain-hot.ts [rounds] [src-dir ...]     # default: this tree's src
//   N=100000 (messages per round)  PAIRS=1 (pairs of sender and recipient; drained at once)

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchCore, loadSrc } from "./in-process";

const rounds = Number(process.argv[2] ?? 5);
const dirs = process.argv.length > 3 ? process.argv.slice(3) : [join(import.meta.dir, "../src")];
const N = Number(process.env.N ?? 100_000);
/** Senders and recipients, one pair each (the harness's --pairs). */
const PAIRS = Number(process.env.PAIRS ?? 1);
const PAGE = 1000;
const tmp = mkdtempSync(join(tmpdir(), "drain-hot-"));

interface Run {
  /** Queues N messages for the offline recipient (not measured). */
  fill(): Promise<void>;
  /** The recipient logs in, drains and confirms all N, then logs out: µs of CPU per message. */
  drain(): Promise<number>;
  close(): Promise<void>;
}

async function setup(dir: string, n: number): Promise<Run> {
  const src = await loadSrc(dir);
  const { wire } = src;
  const store = src.SqliteStore.open({
    path: join(tmp, `chat-${n}.db`),
    sync: "normal",
    maxBytes: 1024 * 1024 * 1024,
    maxQueuedPerAccount: N,
    maxQueuedPerSender: N,
    dedupPerSender: 128,
  });
  const { core, open, body, request, requestId } = benchCore(src, store, {
    maxQueuedPerAccount: N,
    accountCreationsPerAddress: 1e6,
  });

  // CHECK_MESSAGES and ACK encoded by hand, as the harness's driver does.
  const head = (opcode: number, extra: number): { buf: Buffer; at: number } => {
    const buf = Buffer.allocUnsafe(16 + extra);
    buf[0] = 0x0a;
    buf[1] = 1;
    buf[2] = 0x31; // "1"
    buf[3] = 0x10;
    let at = wire.writeVarint(buf, 4, opcode);
    buf[at++] = 0x30;
    at = wire.writeVarint(buf, at, requestId());
    return { buf, at };
  };
  const checkFrame = () => {
    const h = head(wire.Op.CHECK_MESSAGES, 4);
    h.buf[h.at++] = 0x58;
    return h.buf.subarray(0, wire.writeVarint(h.buf, h.at, PAGE));
  };
  const ackFrame = (ids: readonly number[]) => {
    let packed = 0;
    for (const id of ids) packed += id < 128 ? 1 : id < 16384 ? 2 : id < 2097152 ? 3 : 5;
    const h = head(wire.Op.ACK, packed + 8);
    h.buf[h.at++] = 0x4a;
    let at = wire.writeVarint(h.buf, h.at, packed);
    for (const id of ids) at = wire.writeVarint(h.buf, at, id);
    return h.buf.subarray(0, at);
  };

  const password = "bench password";
  // Pair i: sender s<i> to recipient r<i>; their messages interleave as the pairs send at once.
  for (let i = 0; i < PAIRS; i++)
    for (const name of [`s${i}`, `r${i}`]) {
      const c = open();
      await request(c, { opcode: wire.Op.CREATE_ACCOUNT, sender: name, password });
      core.disconnected(c.session, "bench");
    }
  const senders: { id: number; name: string }[] = [];
  for (let i = 0; i < PAIRS; i++) senders.push((await store.findAccount(`s${i}`))!);
  const text = "0123456789abcdef".repeat(4);
  let clientMsgId = 2 ** 40;

  /** One recipient logs in and drains its n messages as the harness's driver does. */
  async function drainOne(name: string, n: number): Promise<void> {
    const c = open();
    await request(c, { opcode: wire.Op.LOG_IN, sender: name, password });
    let delivered = 0;
    let inFlight = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const check = () => {
      inFlight++;
      core.receive(c.session, checkFrame());
    };
    c.onFrame = (f) => {
      if (f.opcode !== wire.Op.CHECK_MESSAGES) return;
      inFlight--;
      const ids = (f.messages ?? []).map((m) => m.id);
      if (ids.length) core.receive(c.session, ackFrame(ids));
      delivered += ids.length;
      if (delivered >= n) {
        if (inFlight === 0) finish();
      } else if (f.more) while (inFlight < 2) check();
      else if (inFlight === 0) check();
    };
    check();
    check();
    await finished;
    await store.flush();
    c.onFrame = () => {};
    core.receive(c.session, body({ opcode: wire.Op.QUIT }));
    core.disconnected(c.session, "bench");
  }

  return {
    async fill() {
      for (let i = 0; i < N; i += 64) {
        const calls = [];
        for (let k = i; k < Math.min(N, i + 64); k++) {
          const s = senders[k % PAIRS]!;
          calls.push(
            store.enqueue({
              senderId: s.id,
              senderName: s.name,
              recipientKey: `r${k % PAIRS}`,
              text,
              sentAt: 1_764_590_000_000,
              clientMsgId: clientMsgId++,
            }),
          );
        }
        await Promise.all(calls);
      }
      // The backlog is in the file before its recipients come (a write other than a message's commits).
      await store.saveToken({ hash: "fill", accountId: senders[0]!.id, expiresAt: Date.now() + 60_000 });
    },
    async drain() {
      const c0 = process.cpuUsage();
      await Promise.all(
        Array.from({ length: PAIRS }, (_, i) =>
          drainOne(`r${i}`, Math.floor(N / PAIRS) + (i < N % PAIRS ? 1 : 0)),
        ),
      );
      const c = process.cpuUsage(c0);
      for (let i = 0; i < PAIRS; i++)
        if ((await store.countPending((await store.findAccount(`r${i}`))!.id)) !== 0)
          throw new Error(`${dir}: messages left after the drain`);
      return (c.user + c.system) / N;
    },
    close: () => store.close(),
  };
}

/** CPU ticks (1/100 s) of this process's threads by name, where /proc has them (Linux). */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync("/proc/self/task")) return out;
  for (const t of readdirSync("/proc/self/task")) {
    try {
      const name = readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

const runs: { dir: string; run: Run; times: number[] }[] = [];
for (const [i, dir] of dirs.entries()) runs.push({ dir, run: await setup(dir, i), times: [] });
for (const r of runs) {
  await r.run.fill();
  const t0 = threadTicks();
  const cold = await r.run.drain(); // warm-up: the JIT compiles the drain path
  const jit = [...threadTicks()]
    .filter(([name]) => name.startsWith("JIT"))
    .reduce((sum, [name, t]) => sum + t - (t0.get(name) ?? 0), 0);
  console.log(
    `${r.dir}: first (cold) round ${cold.toFixed(2)} µs per message, of which the JIT compiler's threads ${((jit * 1e4) / N).toFixed(2)}`,
  );
}
for (let i = 0; i < rounds; i++) {
  for (const r of runs) {
    await r.run.fill();
    Bun.gc(true);
    r.times.push(await r.run.drain());
  }
}
for (const r of runs) await r.run.close();
rmSync(tmp, { recursive: true, force: true });
for (const { dir, times } of runs) {
  times.sort((a, b) => a - b);
  console.log(
    `${dir}: µs of CPU per drained message (CHECK pages of ${PAGE}, ACK, receipts kept for an offline sender), median of ${rounds}: ${times[rounds >> 1]!.toFixed(2)} (min ${times[0]!.toFixed(2)}; all ${times.map((t) => t.toFixed(2)).join(" ")})`,
  );
}
