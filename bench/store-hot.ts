// CPU per message of the SQLite store on the relay's pattern, in-process: S senders, each
// turn 64 SENDs with client_msg_id from one sender to its recipient (one batch, one commit),
// then the recipient's confirmation of the previous turn's 64. For A/B of store changes
// where a whole-server run is too noisy (shared machine):
//   bun bench/store-hot.ts [rounds] [path of another src/ tree]
// Prints the median and minimum over rounds of µs of CPU per message.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const rounds = Number(process.argv[2] ?? 7);
const src = process.argv[3] ?? join(import.meta.dir, "../src");
const { SqliteStore } = (await import(`${src}/store/sqlite.ts`)) as typeof import("../src/store/sqlite");

const S = 50;
const K = Number(process.env.K ?? 64); // SENDs per batch: K=1 is the light workload's pattern
const TURNS = Math.ceil(2560 / K); // per round: about S × 2,560 messages
const dir = mkdtempSync(join(tmpdir(), "store-hot-"));
const store = SqliteStore.open({
  path: join(dir, "chat.db"),
  sync: "normal",
  maxBytes: 1024 * 1024 * 1024,
  maxQueuedPerAccount: 100_000,
  maxQueuedPerSender: 100_000,
  dedupPerSender: 128,
});
const senders: { id: number; name: string }[] = [];
const recipients: { id: number; key: string }[] = [];
for (let i = 0; i < S; i++) {
  const s = await store.createAccount({ name: `send${i}`, key: `send${i}`, passwordHash: "x", createdAt: 1 });
  const r = await store.createAccount({ name: `recv${i}`, key: `recv${i}`, passwordHash: "x", createdAt: 1 });
  senders.push({ id: s!.id, name: s!.name });
  recipients.push({ id: r!.id, key: r!.key });
}
const text = `${"0123456789abcdef".repeat(2)}${"x".repeat(32)}`;
const unconfirmed: number[][] = Array.from({ length: S }, () => []);
let clientMsgId = 2 ** 40;

async function turn(i: number): Promise<void> {
  const s = senders[i]!;
  const r = recipients[i]!;
  const calls = [];
  for (let k = 0; k < K; k++)
    calls.push(
      store.enqueue({
        senderId: s.id,
        senderName: s.name,
        recipientKey: r.key,
        text,
        sentAt: 1_764_590_000_000,
        clientMsgId: clientMsgId++,
      }),
    );
  const acked = unconfirmed[i]!;
  if (acked.length) void store.ack(r.id, acked);
  const results = await Promise.all(calls);
  unconfirmed[i] = results.map((x) => (x.ok ? x.message.id : 0));
}

async function round(): Promise<void> {
  for (let t = 0; t < TURNS; t++) for (let i = 0; i < S; i++) await turn(i);
}

await round();
const per: number[] = [];
for (let n = 0; n < rounds; n++) {
  const c0 = process.cpuUsage();
  await round();
  const c = process.cpuUsage(c0);
  per.push((c.user + c.system) / (S * K * TURNS));
}
await store.close();
rmSync(dir, { recursive: true, force: true });
per.sort((a, b) => a - b);
console.log(
  `${src}: store us of CPU per relayed message (enqueue with id + confirmation), median of ${rounds}: ${per[rounds >> 1]!.toFixed(2)}, min ${per[0]!.toFixed(2)}`,
);
