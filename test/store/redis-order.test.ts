// Per sender→recipient order across nodes when ids go stale (src/store/redis-order.ts), on
// a real redis-server: two stores with small id blocks, so that block boundaries are crossed
// while the other node writes to the same recipient.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { RedisClient } from "bun";
import { RedisStore } from "../../src/store/redis";
import { AppendLanes } from "../../src/store/redis-order";
import { parseRedisTarget } from "../../src/store/redis-url";
import type { StoreLimits } from "../../src/store/store";
import { track } from "../processes";
import { addAccount, msg, put } from "./contract";
import { type RedisServer, startRedis } from "./redis-server";

const LIMITS: StoreLimits = {
  maxQueuedPerAccount: 1_000_000,
  maxQueuedPerSender: 1_000_000,
  dedupPerSender: 4,
};
let redis: RedisServer;
const opened: RedisStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const s of opened) await s.close().catch(() => {});
  await redis.stop();
});

function target() {
  const r = parseRedisTarget(redis.url);
  if (!r.ok) throw new Error(r.reason);
  return r.target;
}

async function flushAll(): Promise<void> {
  const c = new RedisClient(redis.url);
  await c.send("FLUSHALL", []);
  c.close();
}

async function node(idBlock: number): Promise<RedisStore> {
  const s = await RedisStore.open(target(), LIMITS, { idBlock });
  opened.push(s);
  return s;
}

describe("order across nodes when an id is stale", () => {
  it("a message refused stale at a block's end is stored before the sender's next, from a new block", async () => {
    await flushAll();
    const x = await node(2);
    const y = await node(2);
    const [alice, bob, carol, dave] = [
      await addAccount(x, "Alice"),
      await addAccount(x, "Bob"),
      await addAccount(x, "Carol"),
      await addAccount(x, "Dave"),
    ];
    // Node x takes block [1, 2] and spends id 1 elsewhere: id 2 is the last of its block.
    expect((await put(x, msg(bob, "dave", "warm up"))).id).toBe(1);
    // Node y takes block [3, 4] and stores 3 for alice: x's id 2 is now stale for her.
    expect((await put(y, msg(carol, "alice", "from y"))).id).toBe(3);
    // Bob's A gets id 2 (refused stale), his B the first id of x's next block.
    const [a, b] = await Promise.all([put(x, msg(bob, "alice", "A")), put(x, msg(bob, "alice", "B"))]);
    expect(a.id).toBeLessThan(b.id);
    const queue = await x.pending(alice.id, 0, 10);
    expect(queue.map((m) => m.text)).toEqual(["from y", "A", "B"]);
    expect(queue.map((m) => m.id)).toEqual([3, a.id, b.id]);
    expect(x.staleRetries).toBe(1);
    expect(await x.pending(dave.id, 0, 10)).toHaveLength(1);
  });

  it("retries several refused messages in order, and later ones wait behind them", async () => {
    await flushAll();
    const x = await node(3);
    const y = await node(1000);
    const [alice, bob, carol] = [
      await addAccount(x, "Alice"),
      await addAccount(x, "Bob"),
      await addAccount(x, "Carol"),
    ];
    await put(x, msg(bob, "carol", "warm up")); // x: block [1, 3], 1 spent
    await put(y, msg(carol, "alice", "from y")); // y: block [4, 1003], 4 stored
    // Ids 2 and 3 are stale; the rest cross two block boundaries of x.
    const sent = await Promise.all(Array.from({ length: 8 }, (_, i) => put(x, msg(bob, "alice", `m${i}`))));
    const texts = (await x.pending(alice.id, 0, 20)).map((m) => m.text);
    expect(texts).toEqual(["from y", ...Array.from({ length: 8 }, (_, i) => `m${i}`)]);
    const ids = sent.map((m) => m.id);
    expect(ids).toEqual([...ids].sort((p, q) => p - q));
    expect(ids[0]).toBeGreaterThan(4);
  });

  it("keeps per-sender order under load from two nodes in two processes (small blocks)", async () => {
    await flushAll();
    const setup = await node(1000);
    const recipients = [await addAccount(setup, "R1"), await addAccount(setup, "R2")];
    const onX = [await addAccount(setup, "Xa"), await addAccount(setup, "Xb")];
    const onY = [await addAccount(setup, "Ya"), await addAccount(setup, "Yb")];
    const bursts = 40;
    const size = 5;
    const writer = (senders: { id: number; name: string }[], block: number) =>
      track(
        Bun.spawn(
          [
            process.execPath,
            "test/store/redis-order-writer.ts",
            redis.url,
            String(block),
            String(bursts),
            String(size),
            JSON.stringify(senders.map((s) => ({ id: s.id, name: s.name }))),
            JSON.stringify(recipients.map((r) => r.key)),
          ],
          { stdout: "pipe", stderr: "pipe" },
        ),
      );
    const procs = [writer(onX, 3), writer(onY, 4)];
    // Both ready, then go: their writes overlap for sure.
    const deadline = Date.now() + 20_000;
    while ((await redis.cli("GET", "test:ready")) !== "2") {
      if (Date.now() > deadline) throw new Error("the writers did not get ready");
      await Bun.sleep(10);
    }
    await redis.cli("SET", "test:go", "1");
    const outs = await Promise.all(
      procs.map(async (p) => {
        const [code, out, err] = await Promise.all([
          p.exited,
          new Response(p.stdout).text(),
          new Response(p.stderr).text(),
        ]);
        expect({ code, err }).toEqual({ code: 0, err: "" });
        return JSON.parse(out) as { accepted: number; stale: number };
      }),
    );
    const perWriter = bursts * size * 2 * recipients.length;
    expect(outs.map((o) => o.accepted)).toEqual([perWriter, perWriter]);
    // The interleaving did happen: ids were refused stale and sent again.
    expect(outs[0]!.stale + outs[1]!.stale).toBeGreaterThan(0);
    let stored = 0;
    for (const r of recipients) {
      const queue = await setup.pending(r.id, 0, 10_000);
      expect(queue.length).toBe((2 * perWriter) / recipients.length);
      const last = new Map<string, number>();
      for (const m of queue) {
        const n = Number(m.text.split(":")[1]);
        expect({ sender: m.senderName, after: last.get(m.senderName) ?? -1, n }).toEqual({
          sender: m.senderName,
          after: n - 1,
          n,
        });
        last.set(m.senderName, n);
      }
      stored += queue.length;
    }
    expect(stored).toBe(2 * perWriter);
  }, 60_000);
});

describe("AppendLanes (the ordering alone)", () => {
  it("holds an id of a new block until the old block's appends are answered, and retries in order", async () => {
    // Blocks of 2 from a counter another node also draws from; the recipient refuses ids at
    // or below its highest.
    let counter = 0;
    let block = 0;
    let next = 1;
    let end = 0;
    const take = async () => {
      if (next > end) {
        counter += 2;
        end = counter;
        next = end - 1;
        block++;
      }
      return { id: next++, block };
    };
    let highest = 0;
    const sentLog: string[] = [];
    const unanswered: (() => void)[] = [];
    const lanes = new AppendLanes<string>(
      take,
      (a) => a === "stale",
      () => {
        next = end + 1;
      },
      8,
    );
    const send = (text: string) =>
      lanes.append(1, (id, answered) => {
        sentLog.push(`${text}@${id}`);
        unanswered.push(() => {
          if (id <= highest) return answered(null, "stale");
          highest = id;
          answered(null, "ok");
        });
      });
    const answerAll = async () => {
      while (unanswered.length) {
        unanswered.shift()!();
        await Bun.sleep(0);
      }
    };
    await take(); // this node spent id 1 elsewhere: id 2 is the last of its block
    counter += 2; // the other node took [3, 4] ...
    highest = 3; // ... and stored 3 here
    const a = send("A");
    const b = send("B");
    await Bun.sleep(0);
    // B's id is of the next block: it is not sent while A is unanswered.
    expect(sentLog).toEqual(["A@2"]);
    await answerAll();
    await answerAll();
    expect(await a).toEqual({ id: 7, answer: "ok" });
    expect(await b).toEqual({ id: 8, answer: "ok" });
    expect(sentLog).toEqual(["A@2", "A@7", "B@8"]);
    expect(lanes.stale).toBe(1);
    expect(lanes.size).toBe(0);
  });
});
