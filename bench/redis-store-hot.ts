// CPU per message of the Redis store on the relay's pattern, in-process against a
// redis-server started here (AOF on, appendfsync everysec): S senders, each turn K SENDs
// with client_msg_id from each sender to its recipient (one turn: one append call per
// recipient), then each recipient reads its queue and confirms the previous turn's messages
// with receipts, and each sender confirms the receipts it was told. For A/B of store
// changes where a whole-server run is too noisy (shared machine):
//   bun bench/redis-store-hot.ts [rounds] [path of another src/ tree]
// Prints, per round, the store's process CPU and Redis's CPU in µs per message and Redis's
// commands per message (INFO commandstats, those inside scripts included), then the medians.
// Knobs (env): K=64 S=50 REDIS_ARGS="--zset-max-listpack-entries 0 …" (more redis-server settings)
//   CM=0 (SENDs without client_msg_id: no resend ring), RECEIPTS=0 (plain ACKs, no receipts)
//   TURNS=n (turns per round; default about 2,560 messages per sender), TEXT=64 (bytes per message)
//   CALLGRIND=1: redis-server runs under valgrind's callgrind, and the end prints the
//   instructions Redis ran per message over the whole run (warm-up and set-up included): a
//   count that other work on the machine does not move, for A/B of the scripts. Slow (about
//   50×): TURNS=10 CALLGRIND=1 bun bench/redis-store-hot.ts 1

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const rounds = Number(process.argv[2] ?? 5);
const src = process.argv[3] ?? join(import.meta.dir, "../src");
const { RedisStore } = (await import(`${src}/store/redis.ts`)) as typeof import("../src/store/redis");
const { parseRedisTarget } = (await import(
  `${src}/store/redis-url.ts`
)) as typeof import("../src/store/redis-url");

const S = Number(process.env.S ?? 50);
const K = Number(process.env.K ?? 64);
const TURNS = Number(process.env.TURNS ?? Math.ceil(2560 / K)); // per round: about S × 2,560 messages
const withCm = process.env.CM !== "0";
const withReceipts = process.env.RECEIPTS !== "0";

const port = await new Promise<number>((resolve) => {
  const srv = createServer();
  srv.listen(0, "127.0.0.1", () => {
    const p = (srv.address() as { port: number }).port;
    srv.close(() => resolve(p));
  });
});
const dir = mkdtempSync(join(tmpdir(), "redis-store-hot-"));
const extra = (process.env.REDIS_ARGS ?? "").split(/\s+/).filter(Boolean);
const callgrind = process.env.CALLGRIND === "1";
const callgrindOut = join(dir, "callgrind.out");
const redis = Bun.spawn(
  [
    ...(callgrind ? ["valgrind", "--tool=callgrind", `--callgrind-out-file=${callgrindOut}`] : []),
    ...["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes"],
    ...["--appendfsync", "everysec", "--save", "", ...extra],
  ],
  { stdout: "ignore", stderr: "ignore" },
);
const cli = async (...args: string[]) => {
  const p = Bun.spawn(["redis-cli", "-p", String(port), ...args], { stdout: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out;
};
for (let i = 0; i < (callgrind ? 600 : 100) && (await cli("PING")).trim() !== "PONG"; i++)
  await Bun.sleep(50);
let total = 0; // messages sent over the whole run, for CALLGRIND's count

try {
  const t = parseRedisTarget(`redis://127.0.0.1:${port}`);
  if (!t.ok) throw new Error(t.reason);
  const limits = { maxQueuedPerAccount: 100_000, maxQueuedPerSender: 100_000, dedupPerSender: 128 };
  const store = await RedisStore.open(t.target, limits);
  const pairs: { from: { id: number; name: string }; to: { id: number; key: string; name: string } }[] = [];
  for (let i = 0; i < S; i++) {
    const a = await store.createAccount({ name: `s${i}`, key: `s${i}`, passwordHash: "x", createdAt: 0 });
    const b = await store.createAccount({ name: `r${i}`, key: `r${i}`, passwordHash: "x", createdAt: 0 });
    if (!a || !b) throw new Error("accounts");
    pairs.push({ from: a, to: b });
  }
  const ticks = () => {
    const f = readFileSync(`/proc/${redis.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  const calls = async () => {
    let n = 0;
    for (const m of (await cli("INFO", "commandstats")).matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm))
      n += Number(m[1]);
    return n;
  };
  const text = "x".repeat(Number(process.env.TEXT ?? 64));
  let cm = 1;
  const previous = new Map<number, number[]>();
  const round = async () => {
    let sent = 0;
    for (let turn = 0; turn < TURNS; turn++) {
      const sends: Promise<unknown>[] = [];
      for (const p of pairs)
        for (let k = 0; k < K; k++)
          sends.push(
            store.enqueue({
              senderId: p.from.id,
              senderName: p.from.name,
              recipientKey: p.to.key,
              text,
              sentAt: Date.now(),
              clientMsgId: withCm ? cm++ : 0,
            }),
          );
      await Promise.all(sends);
      sent += sends.length;
      total += sends.length;
      await Promise.all(
        pairs.map(async (p) => {
          // As a node does: what arrived after the last message pushed.
          const last = previous.get(p.to.id) ?? [];
          const got = await store.pending(p.to.id, last.at(-1) ?? 0, 2 * K);
          previous.set(
            p.to.id,
            got.map((m) => m.id),
          );
          if (!last.length) return;
          if (!withReceipts) return store.ack(p.to.id, last);
          const r = await store.ackWithReceipts(p.to.id, last, {
            recipientName: p.to.name,
            confirmedAt: Date.now(),
            maxPerAccount: 1000,
          });
          // The sender, told them live, confirms them (a node reads them back only at login).
          await store.deleteReceipts(
            p.from.id,
            r.receipts.map((x) => x.messageId),
          );
        }),
      );
    }
    return sent;
  };
  await round(); // warm-up
  const TICK = 100; // USER_HZ on Linux
  const rows: [number, number, number][] = [];
  for (let r = 0; r < rounds; r++) {
    const [c0, t0, n0] = [process.cpuUsage(), ticks(), await calls()];
    const sent = await round();
    const c = process.cpuUsage(c0);
    const [t1, n1] = [ticks(), await calls()];
    const row: [number, number, number] = [
      (c.user + c.system) / sent,
      (((t1 - t0) / TICK) * 1e6) / sent,
      (n1 - n0 - 1) / sent,
    ];
    rows.push(row);
    console.log(
      `round ${r + 1}: store ${row[0].toFixed(1)} µs, redis ${row[1].toFixed(1)} µs, ${row[2].toFixed(2)} commands per message`,
    );
  }
  const median = (i: number) => rows.map((x) => x[i]!).sort((a, b) => a - b)[Math.floor(rows.length / 2)]!;
  console.log(
    `median: store ${median(0).toFixed(1)} µs, redis ${median(1).toFixed(1)} µs, ${median(2).toFixed(2)} commands per message (K=${K}, S=${S}, load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")})`,
  );
  await store.close();
} finally {
  redis.kill();
  await redis.exited;
  if (callgrind) {
    const ir = Number(/^summary: (\d+)/m.exec(readFileSync(callgrindOut, "utf8"))?.[1]);
    console.log(
      `callgrind: Redis ran ${Math.round(ir / total)} instructions per message (${total} messages)`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}
