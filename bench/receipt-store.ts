// What a delivery receipt costs the SQLite store, in-process: PAIRS senders each store WINDOW
// messages for their own recipient, the recipients confirm them, and (MODE=receipts) the
// senders confirm the receipts, ROUNDS times; prints process CPU µs per message. The receipt
// cost is a MODE=receipts run minus a MODE=ack run (plain confirmations, no receipts).
// A benchmark, not a test: alternate the two modes a few times and compare medians.
//
//   bun bench/receipt-store.ts                # MODE=receipts
//   MODE=ack bun bench/receipt-store.ts
//
// Knobs (env): MODE=receipts|ack PAIRS=50 WINDOW=64 ROUNDS=40

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../src/store/sqlite";
import type { Account } from "../src/store/store";

const env = (k: string, d: number) => Number(process.env[k] ?? d);
const MODE = process.env.MODE ?? "receipts";
const PAIRS = env("PAIRS", 50);
const WINDOW = env("WINDOW", 64);
const ROUNDS = env("ROUNDS", 40);
if (MODE !== "receipts" && MODE !== "ack") throw new Error(`MODE must be receipts or ack, not ${MODE}`);

const dir = mkdtempSync(join(tmpdir(), "chat-receipt-store-"));
const s = SqliteStore.open({
  path: join(dir, "bench.db"),
  sync: "normal",
  maxQueuedPerAccount: 1_000_000,
  maxQueuedPerSender: 1_000_000,
  dedupPerSender: 128,
});
const account = async (name: string): Promise<Account> => {
  const a = await s.createAccount({ name, key: name, passwordHash: "x", createdAt: 1 });
  if (!a) throw new Error(`${name} is taken`);
  return a;
};
const senders: Account[] = [];
const recipients: Account[] = [];
for (let i = 0; i < PAIRS; i++) {
  senders.push(await account(`send${i}`));
  recipients.push(await account(`recv${i}`));
}
const text = "x".repeat(64);
let clientMsgId = 1;

async function round(): Promise<void> {
  const ids = await Promise.all(
    senders.map(async (from, i) => {
      const stored = await Promise.all(
        Array.from({ length: WINDOW }, () =>
          s.enqueue({
            senderId: from.id,
            senderName: from.name,
            recipientKey: recipients[i]!.key,
            text,
            sentAt: 1,
            clientMsgId: clientMsgId++,
          }),
        ),
      );
      return stored.map((r) => {
        if (!r.ok) throw new Error(`enqueue: ${r.error}`);
        return r.message.id;
      });
    }),
  );
  if (MODE === "ack") {
    await Promise.all(ids.map((x, i) => s.ack(recipients[i]!.id, x)));
    return;
  }
  const acked = await Promise.all(
    ids.map((x, i) =>
      s.ackWithReceipts(recipients[i]!.id, x, {
        recipientName: recipients[i]!.name,
        confirmedAt: 2,
        maxPerAccount: 1000,
      }),
    ),
  );
  await Promise.all(
    acked.map((r, i) =>
      s.deleteReceipts(
        senders[i]!.id,
        r.receipts.map((x) => x.messageId),
      ),
    ),
  );
}

for (let i = 0; i < 5; i++) await round(); // warm-up
const before = process.cpuUsage();
for (let i = 0; i < ROUNDS; i++) await round();
await s.countPending(recipients[0]!.id); // applies the confirmations still queued
const used = process.cpuUsage(before);
const messages = PAIRS * WINDOW * ROUNDS;
console.log(
  JSON.stringify({
    mode: MODE,
    messages,
    us_per_msg: Math.round(((used.user + used.system) / messages) * 100) / 100,
  }),
);
await s.close();
rmSync(dir, { recursive: true, force: true });
