// A second node for the ordering stress test (its own process, so on its own core): opens a
// RedisStore with small id blocks and sends, in bursts of pipelined SENDs, numbered messages
// from each given sender to each given recipient, once the test says go. Prints the counts
// accepted and refused stale as JSON.
// argv: url, idBlock, bursts, burst size, senders JSON ([{id, name}]), recipient keys JSON.

import { RedisStore } from "../../src/store/redis";
import { parseRedisTarget } from "../../src/store/redis-url";

const [url, block, bursts, size, sendersJson, recipientsJson] = process.argv.slice(2) as string[];
const t = parseRedisTarget(url!);
if (!t.ok) throw new Error(t.reason);
const limits = { maxQueuedPerAccount: 1_000_000, maxQueuedPerSender: 1_000_000, dedupPerSender: 4 };
const s = await RedisStore.open(t.target, limits, { idBlock: Number(block) });
const senders = JSON.parse(sendersJson!) as { id: number; name: string }[];
const recipients = JSON.parse(recipientsJson!) as string[];
// Both writers start together: each says it is ready, then waits for the test's go.
await s.connection.send("INCR", ["test:ready"]);
const deadline = Date.now() + 20_000;
while ((await s.connection.send("GET", ["test:go"])) === null) {
  if (Date.now() > deadline) throw new Error("no go within 20 s");
  await Bun.sleep(5);
}
let accepted = 0;
let seq = 0;
for (let b = 0; b < Number(bursts); b++) {
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < Number(size); i++) {
    for (const from of senders)
      for (const to of recipients)
        sends.push(
          s
            .enqueue({
              senderId: from.id,
              senderName: from.name,
              recipientKey: to,
              text: `${from.name}:${seq}`,
              sentAt: 0,
              clientMsgId: 0,
            })
            .then((r) => {
              if (r.ok) accepted++;
            }),
        );
    seq++;
  }
  await Promise.all(sends);
}
const stale = s.staleRetries;
await s.close();
console.log(JSON.stringify({ accepted, stale }));
