import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { RedisClient } from "bun";
import { RedisStore } from "../../src/store/redis";
import { RedisOpenError } from "../../src/store/redis-conn";
import { DIR_KEYS, messages, receiptKeys, receiptOutbox, userKeys } from "../../src/store/redis-keys";
import { LEFTOVER_MS, PAD_FROM, QUEUE_PAD } from "../../src/store/redis-scripts";
import { parseRedisTarget } from "../../src/store/redis-url";
import {
  type NewMessage,
  StorageError,
  StorageFullError,
  type Store,
  type StoreLimits,
} from "../../src/store/store";
import { addAccount, LIMITS, msg, put, runStoreContract } from "./contract";
import { type RedisServer, startRedis } from "./redis-server";

let redis: RedisServer;
const opened: Store[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const s of opened) await s.close().catch(() => {});
  await redis.stop();
});

function target(url = redis.url) {
  const r = parseRedisTarget(url);
  if (!r.ok) throw new Error(r.reason);
  return r.target;
}

async function open(limits: StoreLimits = LIMITS): Promise<RedisStore> {
  const s = await RedisStore.open(target(), limits);
  opened.push(s);
  return s;
}

/** An empty database, then a store on it. */
async function fresh(limits: StoreLimits): Promise<Store> {
  const c = new RedisClient(redis.url);
  await c.send("FLUSHALL", []);
  c.close();
  return open(limits);
}

runStoreContract("RedisStore", fresh);

/** Retries fn until it stops throwing StorageError (Redis coming back), up to a deadline. */
async function once<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof StorageError) || Date.now() > deadline) throw error;
      await Bun.sleep(50);
    }
  }
}

describe("RedisStore: receipts left in a recipient's outbox by a node that died", () => {
  it("are moved to their senders with the recipient's next confirmation", async () => {
    const s = (await fresh(LIMITS)) as RedisStore;
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const m1 = await put(s, msg(alice, "bob", "one", { clientMsgId: 2 ** 40 + 3 }));
    const m2 = await put(s, msg(alice, "bob", "two"));
    // What the removal script leaves when the node dies before moving the receipt on.
    const c = new RedisClient(redis.url);
    await c.send("ZREM", [userKeys(bob.id)[0]!, String(m1.id)]);
    await c.send("HDEL", [userKeys(bob.id)[1]!, String(m1.id)]);
    await c.send("HSET", [receiptOutbox(bob.id), String(m1.id), `${alice.id}|${2 ** 40 + 3}|77|Bob`]);
    expect(await s.receipts(alice.id, 10)).toEqual([]);
    // The leftover is older than LEFTOVER_MS: younger entries belong to ACKs still under way.
    const confirmedAt = 77 + LEFTOVER_MS;
    const r = await s.ackWithReceipts(bob.id, [m2.id], {
      recipientName: "Bob",
      confirmedAt,
      maxPerAccount: 10,
    });
    expect(r.receipts.map((x) => [x.messageId, x.confirmedAt, x.clientMsgId])).toEqual([
      [m1.id, 77, 2 ** 40 + 3],
      [m2.id, confirmedAt, 0],
    ]);
    expect((await s.receipts(alice.id, 10)).map((x) => x.messageId)).toEqual([m1.id, m2.id]);
    expect(Number(await c.send("HLEN", [receiptOutbox(bob.id)]))).toBe(0);
    c.close();
  });

  it("are not answered while young: another ACK may be moving them (each receipt moves once)", async () => {
    const s = (await fresh(LIMITS)) as RedisStore;
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const m1 = await put(s, msg(alice, "bob", "one"));
    const m2 = await put(s, msg(alice, "bob", "two"));
    const c = new RedisClient(redis.url);
    await c.send("ZREM", [userKeys(bob.id)[0]!, String(m1.id)]);
    await c.send("HDEL", [userKeys(bob.id)[1]!, String(m1.id)]);
    const t = 1_000_000;
    await c.send("HSET", [receiptOutbox(bob.id), String(m1.id), `${alice.id}|0|${t}|Bob`]);
    const young = await s.ackWithReceipts(bob.id, [m2.id], {
      recipientName: "Bob",
      confirmedAt: t + LEFTOVER_MS - 1,
      maxPerAccount: 10,
    });
    expect(young.receipts.map((x) => x.messageId)).toEqual([m2.id]);
    expect((await c.send("HKEYS", [receiptOutbox(bob.id)])) as string[]).toEqual([String(m1.id)]);
    const m3 = await put(s, msg(alice, "bob", "three"));
    const old = await s.ackWithReceipts(bob.id, [m3.id], {
      recipientName: "Bob",
      confirmedAt: t + LEFTOVER_MS,
      maxPerAccount: 10,
    });
    expect(old.receipts.map((x) => x.messageId)).toEqual([m1.id, m3.id]);
    expect((await s.receipts(alice.id, 10)).map((x) => x.messageId)).toEqual([m1.id, m2.id, m3.id]);
    expect(Number(await c.send("HLEN", [receiptOutbox(bob.id)]))).toBe(0);
    c.close();
  });
});

describe("RedisStore on one Redis: a confirmation in one script", () => {
  it("stores each sender's receipts with the recipient's name as given, trimmed per sender", async () => {
    const s = (await fresh({ ...LIMITS, maxQueuedPerAccount: 10, maxQueuedPerSender: 10 })) as RedisStore;
    const [alice, bob, carol] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
    ];
    const from = async (a: typeof alice, n: number) => {
      const out: number[] = [];
      for (let i = 1; i <= n; i++)
        out.push((await put(s, msg(a, "bob", `m${i}`, { clientMsgId: 2 ** 50 + i }))).id);
      return out;
    };
    const [a1, a2, a3] = (await from(alice, 3)) as [number, number, number];
    const [c1, c2] = (await from(carol, 2)) as [number, number];
    const name = 'Bö "q" /\\ 😀';
    const r = await s.ackWithReceipts(bob.id, [c1, c2, a1, a2, a3, 999_999], {
      recipientName: name,
      confirmedAt: 1234,
      maxPerAccount: 2,
    });
    // Alice had three receipts for a room of two: her oldest went.
    expect(r.dropped).toBe(1);
    expect(r.receipts.map((x) => [x.messageId, x.senderId, x.clientMsgId])).toEqual([
      [a2, alice.id, 2 ** 50 + 2],
      [a3, alice.id, 2 ** 50 + 3],
      [c1, carol.id, 2 ** 50 + 1],
      [c2, carol.id, 2 ** 50 + 2],
    ]);
    const listed = await s.receipts(alice.id, 10);
    expect(listed.map((x) => [x.messageId, x.recipientName, x.confirmedAt, x.clientMsgId])).toEqual([
      [a2, name, 1234, 2 ** 50 + 2],
      [a3, name, 1234, 2 ** 50 + 3],
    ]);
    expect(await s.countPending(bob.id)).toBe(0);
  });
});

describe("RedisStore: the appends of one turn", () => {
  const evalshaCalls = async (c: RedisClient) =>
    Number(/cmdstat_evalsha:calls=(\d+)/.exec(String(await c.send("INFO", ["commandstats"])))?.[1] ?? 0);

  it("to one recipient go in one script call, each answered as if it ran alone (resends, quotas, mailbox, order)", async () => {
    const s = (await fresh({
      maxQueuedPerAccount: 6,
      maxQueuedPerSender: 3,
      dedupPerSender: 4,
    })) as RedisStore;
    const [alice, bob, carol] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
    ];
    const first = await put(s, msg(carol, "bob", "c0")); // the recipient is known, the id block taken
    const c = new RedisClient(redis.url);
    const before = await evalshaCalls(c);
    const turn = [
      s.enqueue(msg(alice, "bob", "a1", { clientMsgId: 1 })),
      s.enqueue(msg(alice, "bob", "a2", { clientMsgId: 2 })),
      s.enqueue(msg(alice, "bob", "a1 again", { clientMsgId: 1 })),
      s.enqueue(msg(alice, "bob", "a3", { clientMsgId: 3 })),
      s.enqueue(msg(alice, "bob", "a4", { clientMsgId: 4 })),
      s.enqueue(msg(carol, "bob", "c1")),
      s.enqueue(msg(carol, "bob", "c2")),
      s.enqueue(msg(carol, "bob", "c3")),
    ];
    const r = await Promise.all(turn);
    expect(await evalshaCalls(c)).toBe(before + 1);
    c.close();
    const stored = r.map((x) => (x.ok ? (x.duplicate ? `dup ${x.message.id}` : x.message.id) : x.error));
    const [a1, a2, , a3, , c1, c2] = stored as number[];
    expect(stored).toEqual([a1, a2, `dup ${a1}`, a3, "sender_quota", c1, c2, "mailbox_full"] as (
      | string
      | number
    )[]);
    const order = [first.id, a1!, a2!, a3!, c1!, c2!];
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect((await s.pending(bob.id, 0, 10)).map((m) => m.text)).toEqual(["c0", "a1", "a2", "a3", "c1", "c2"]);
    expect(await s.countPending(bob.id)).toBe(6);
    // The counts were written once at the end of the call: confirming frees the sender's quota.
    await s.ack(bob.id, [a1!]);
    expect(await put(s, msg(alice, "bob", "a5"))).toMatchObject({ text: "a5" });
  });

  it("to several recipients go in one script call too, each answered in its place", async () => {
    const s = (await fresh({
      maxQueuedPerAccount: 2,
      maxQueuedPerSender: 2,
      dedupPerSender: 4,
    })) as RedisStore;
    const [alice, bob, carol, dave] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
      await addAccount(s, "Dave"),
    ];
    // Every recipient known and the id block taken: the turn below is one batch.
    await s.ack(bob.id, [(await put(s, msg(alice, "bob", "x"))).id]);
    await s.ack(carol.id, [(await put(s, msg(alice, "carol", "x"))).id]);
    await put(s, msg(alice, "dave", "x"));
    const c = new RedisClient(redis.url);
    const before = await evalshaCalls(c);
    // Texts that end as a body with a client_msg_id would: the script reads the sender,
    // sentAt and client_msg_id from the body's ends, never from inside the text.
    const tricky: [string, string, string] = ["b1,7,9]", '"5,6]"', "c 1,2"];
    const turn = [
      s.enqueue(msg(alice, "bob", tricky[0], { clientMsgId: 11 })),
      s.enqueue(msg(bob, "carol", tricky[1])),
      s.enqueue(msg(alice, "dave", "d1")), // Dave holds one already: the mailbox fills
      s.enqueue(msg(alice, "bob", "b1 again", { clientMsgId: 11 })),
      s.enqueue(msg(bob, "carol", tricky[2], { clientMsgId: 7 })),
      s.enqueue(msg(alice, "dave", "d2")),
      s.enqueue(msg(carol, "bob", "b2", { clientMsgId: 11 })), // another sender's ring
    ];
    const r = await Promise.all(turn);
    expect(await evalshaCalls(c)).toBe(before + 1);
    c.close();
    const stored = r.map((x) => (x.ok ? (x.duplicate ? `dup ${x.message.id}` : x.message.id) : x.error));
    const [b1, c1, d1, , c2, , b2] = stored as number[];
    expect(stored).toEqual([b1, c1, d1, `dup ${b1}`, c2, "mailbox_full", b2] as (string | number)[]);
    expect(r.map((x) => (x.ok ? x.recipient.key : null))).toEqual([
      "bob",
      "carol",
      "dave",
      "bob",
      "carol",
      null,
      "bob",
    ]);
    const texts = async (id: number) => (await s.pending(id, 0, 10)).map((m) => [m.senderName, m.text]);
    expect(await texts(bob.id)).toEqual([
      ["Alice", tricky[0]],
      ["Carol", "b2"],
    ]);
    expect(await texts(carol.id)).toEqual([
      ["Bob", tricky[1]],
      ["Bob", tricky[2]],
    ]);
    expect(await texts(dave.id)).toEqual([
      ["Alice", "x"],
      ["Alice", "d1"],
    ]);
    // The resend of each is still recognised in a later call, with its first id and time.
    const again = await s.enqueue(msg(bob, "carol", "c 1,2", { clientMsgId: 7 }));
    expect(again).toMatchObject({ ok: true, duplicate: true, message: { id: c2 } });
    const first = r[4]!;
    if (!first.ok || !again.ok) throw new Error("stored");
    expect(again.message.sentAt).toBe(first.message.sentAt);
  });
});

describe("RedisStore: which messages may be pushed as they are (takeInOrder)", () => {
  const stored = async (s: RedisStore, m: NewMessage) => {
    const r = await s.enqueue(m);
    if (!r.ok) throw new Error(r.error);
    return r.message.id;
  };

  it("those stored right after the same store's previous one to the recipient; not after another node's", async () => {
    const roomy = { maxQueuedPerAccount: 100, maxQueuedPerSender: 100, dedupPerSender: 4 };
    const a = (await fresh(roomy)) as RedisStore;
    const b = await open(roomy);
    const [alice, bob, carol] = [
      await addAccount(a, "Alice"),
      await addAccount(a, "Bob"),
      await addAccount(a, "Carol"),
    ];
    const first = await stored(a, msg(alice, "bob", "1")); // nothing before it
    const second = await stored(a, msg(alice, "bob", "2"));
    expect([a.takeInOrder(first), a.takeInOrder(second)]).toEqual([true, true]);
    expect(a.takeInOrder(second)).toBe(false); // asked once
    const other = await stored(b, msg(carol, "bob", "from the other node"));
    expect(b.takeInOrder(other)).toBe(false); // after a's
    const after = await stored(a, msg(alice, "bob", "3"));
    expect(a.takeInOrder(after)).toBe(false); // after b's: its holder reads the queue
    const next = await stored(a, msg(alice, "bob", "4"));
    expect(a.takeInOrder(next)).toBe(true);
    // A turn's appends: only the first can follow another writer.
    const turn = await Promise.all([stored(b, msg(carol, "bob", "5")), stored(b, msg(carol, "bob", "6"))]);
    expect(turn.map((id) => b.takeInOrder(id))).toEqual([false, true]);
    // Another recipient's queue is its own.
    expect(a.takeInOrder(await stored(a, msg(bob, "carol", "hi")))).toBe(true);
  });

  it("none right after a failed append call, which may have stored what no signal announced", async () => {
    const s = (await fresh(LIMITS)) as RedisStore;
    const alice = await addAccount(s, "Alice");
    await addAccount(s, "Bob");
    expect(s.takeInOrder(await stored(s, msg(alice, "bob", "1")))).toBe(true);
    await redis.cli("CONFIG", "SET", "maxmemory", "1");
    try {
      expect(await s.enqueue(msg(alice, "bob", "x".repeat(1000)))).toEqual({
        ok: false,
        error: "storage_full",
      });
    } finally {
      await redis.cli("CONFIG", "SET", "maxmemory", "0");
    }
    expect(s.takeInOrder(await stored(s, msg(alice, "bob", "2")))).toBe(false);
    expect(s.takeInOrder(await stored(s, msg(alice, "bob", "3")))).toBe(true);
  });
});

describe("RedisStore: the pads", () => {
  const N = PAD_FROM + 8;
  const encoding = (c: RedisClient, key: string) => c.send("OBJECT", ["ENCODING", key]);
  /** A store whose limits let a queue grow past PAD_FROM, with Alice and Bob. */
  const aliceAndBob = async () => {
    const s = (await fresh({
      maxQueuedPerAccount: N,
      maxQueuedPerSender: N,
      dedupPerSender: 4,
    })) as RedisStore;
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    return { s, alice, bob };
  };

  it("keep a queue of PAD_FROM or more as a skip list and its bodies as a hash table; counts and pages leave them out; both go once empty", async () => {
    const { s, alice, bob } = await aliceAndBob();
    const [queue, bodies] = userKeys(bob.id) as [string, string];
    const c = new RedisClient(redis.url);
    try {
      const ids: number[] = [];
      const send = async (n: number) => {
        for (let i = 0; i < n; i++) ids.push((await put(s, msg(alice, "bob", `m${ids.length}`))).id);
      };
      // A few waiting: small listpacks, no pads.
      await send(3);
      expect(await encoding(c, queue)).toBe("listpack");
      expect(await encoding(c, bodies)).toBe("listpack");
      await send(N - 3);
      expect(await encoding(c, queue)).toBe("skiplist");
      expect(Number(await c.send("ZSCORE", [queue, QUEUE_PAD]))).toBe(Number.NEGATIVE_INFINITY);
      // Short bodies, and still a hash table.
      expect(await encoding(c, bodies)).toBe("hashtable");
      expect(await s.countPending(bob.id)).toBe(N);
      expect((await s.pending(bob.id, 0, 3)).map((m) => m.text)).toEqual(["m0", "m1", "m2"]);
      expect((await s.pending(bob.id, ids[N - 2]!, 10)).map((m) => m.text)).toEqual([`m${N - 1}`]);
      // The mailbox holds N: the pad takes no place in it.
      expect(await s.enqueue(msg(alice, "bob", "over"))).toEqual({ ok: false, error: "mailbox_full" });
      await s.ack(bob.id, ids.slice(0, N - 1));
      expect(await s.countPending(bob.id)).toBe(1);
      await s.ack(bob.id, ids.slice(N - 1));
      expect(await s.countPending(bob.id)).toBe(0);
      expect(Number(await c.send("EXISTS", [queue, bodies]))).toBe(0);
    } finally {
      c.close();
    }
  });

  it("keep a sender's receipts of PAD_FROM or more as a skip list and a hash table; trimming and listing leave them out; both go once confirmed", async () => {
    const { s, alice, bob } = await aliceAndBob();
    const [receipts, bodies] = receiptKeys(alice.id) as [string, string];
    const c = new RedisClient(redis.url);
    try {
      const ids: number[] = [];
      for (let i = 0; i < N; i++)
        ids.push((await put(s, msg(alice, "bob", `m${i}`, { clientMsgId: i + 1 }))).id);
      const asBob = { recipientName: "Bob", confirmedAt: 1, maxPerAccount: N - 2 };
      expect((await s.ackWithReceipts(bob.id, ids.slice(0, 2), asBob)).dropped).toBe(0);
      expect(await encoding(c, receipts)).toBe("listpack");
      // N receipts, N - 2 kept: the two lowest ids go, the pads stay.
      const r = await s.ackWithReceipts(bob.id, ids.slice(2), asBob);
      expect(r.dropped).toBe(2);
      expect(await encoding(c, receipts)).toBe("skiplist");
      expect(await encoding(c, bodies)).toBe("hashtable");
      const kept = await s.receipts(alice.id, N);
      expect(kept.map((x) => x.messageId)).toEqual(ids.slice(2));
      expect(kept.map((x) => x.clientMsgId)).toEqual(ids.slice(2).map((_, i) => i + 3));
      expect((await s.receipts(alice.id, 2)).map((x) => x.messageId)).toEqual(ids.slice(2, 4));
      await s.deleteReceipts(alice.id, ids.slice(2, N - 1));
      expect((await s.receipts(alice.id, N)).map((x) => x.messageId)).toEqual(ids.slice(N - 1));
      await s.deleteReceipts(alice.id, ids.slice(N - 1));
      expect(await s.receipts(alice.id, N)).toEqual([]);
      expect(Number(await c.send("EXISTS", [receipts, bodies]))).toBe(0);
    } finally {
      c.close();
    }
  });

  it("keep a resend ring of PAD_FROM or more as a hash table; no lookup finds the pad", async () => {
    const s = (await fresh({
      maxQueuedPerAccount: 2 * N,
      maxQueuedPerSender: 2 * N,
      dedupPerSender: N,
    })) as RedisStore;
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const hash = `${userKeys(bob.id)[5]}:${alice.id}`;
    const c = new RedisClient(redis.url);
    try {
      const first = await put(s, msg(alice, "bob", "m1", { clientMsgId: 1 }));
      expect(await encoding(c, hash)).toBe("listpack");
      for (let cm = 2; cm <= N + 2; cm++) await put(s, msg(alice, "bob", `m${cm}`, { clientMsgId: cm }));
      expect(await encoding(c, hash)).toBe("hashtable");
      // N entries and the pad; 1 and 2 were pushed out: 3 is a resend, 1 is stored again.
      expect(Number(await c.send("HLEN", [hash]))).toBe(N + 1);
      expect(await s.enqueue(msg(alice, "bob", "m3 again", { clientMsgId: 3 }))).toMatchObject({
        ok: true,
        duplicate: true,
      });
      const again = await s.enqueue(msg(alice, "bob", "m1 again", { clientMsgId: 1 }));
      expect(again).toMatchObject({ ok: true, duplicate: false });
      expect(again.ok && again.message.id).not.toBe(first.id);
    } finally {
      c.close();
    }
  });

  it("a queue of an earlier build, without its pad, gets it with the next append", async () => {
    const { s, alice, bob } = await aliceAndBob();
    const [queue] = userKeys(bob.id) as [string];
    const c = new RedisClient(redis.url);
    try {
      const args = Array.from({ length: PAD_FROM }, (_, i) => [
        String(1_000_000 + i),
        String(1_000_000 + i),
      ]).flat();
      await c.send("ZADD", [queue, ...args]);
      expect(await encoding(c, queue)).toBe("listpack");
      expect(await s.countPending(bob.id)).toBe(PAD_FROM);
      await put(s, msg(alice, "bob", "new"));
      expect(await encoding(c, queue)).toBe("skiplist");
      expect(await s.countPending(bob.id)).toBe(PAD_FROM + 1);
    } finally {
      c.close();
    }
  });
});

describe("RedisStore: the resend ring across the appends of one turn", () => {
  it("recognises a resend of the same turn, forgets what the turn pushed out, and keeps the last ones", async () => {
    const s = (await fresh({
      maxQueuedPerAccount: 100,
      maxQueuedPerSender: 100,
      dedupPerSender: 4,
    })) as RedisStore;
    const [alice] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await put(s, msg(alice, "bob", "warm-up", { clientMsgId: 100 }));
    const send = (cm: number) => s.enqueue(msg(alice, "bob", `m${cm}`, { clientMsgId: cm }));
    // The ring holds 4: 100 and 1 and 2 are pushed out by 3..6 within this one turn.
    const turn = await Promise.all([1, 2, 3, 4, 2, 5, 6, 1, 6, 100].map(send));
    const seen = turn.map((r) => (r.ok ? (r.duplicate ? `dup ${r.message.id}` : "new") : r.error));
    const idOf = (i: number) => (turn[i]!.ok ? turn[i]!.message.id : 0);
    expect(seen).toEqual([
      "new",
      "new",
      "new",
      "new",
      `dup ${idOf(1)}`,
      "new",
      "new",
      "new",
      `dup ${idOf(6)}`,
      "new",
    ]);
    // Now the ring holds 5, 6, 1 (the second), 100 (the second).
    const later = await Promise.all([5, 6, 1, 100, 4].map(send));
    expect(later.map((r) => (r.ok && r.duplicate ? r.message.id : "new"))).toEqual([
      idOf(5),
      idOf(6),
      idOf(7),
      idOf(9),
      "new",
    ]);
  });

  it("keeps each sender's ring within its size, and drops every ring with the recipient", async () => {
    const s = (await fresh({
      maxQueuedPerAccount: 100,
      maxQueuedPerSender: 100,
      dedupPerSender: 4,
    })) as RedisStore;
    const [alice, bob, carol] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
    ];
    for (const from of [alice, carol])
      await Promise.all(
        [1, 2, 3, 4, 5, 6, 7].map((cm) => s.enqueue(msg(from, "bob", `m${cm}`, { clientMsgId: cm }))),
      );
    const ringKeys = async () =>
      (await redis.cli("--scan", "--pattern", `chat:{u:${bob.id}}:dr*`)).split("\n").filter(Boolean).sort();
    const keys = await ringKeys();
    expect(keys).toHaveLength(5); // the senders' set, and a hash and a list per sender
    const c = new RedisClient(redis.url);
    // 4 entries each (a ring this small has no pad: PAD_FROM).
    for (const k of keys.filter((k) => /:dr:\d+$/.test(k))) expect(Number(await c.send("HLEN", [k]))).toBe(4);
    for (const k of keys.filter((k) => k.endsWith(":o")))
      expect((await c.send("LRANGE", [k, "0", "-1"])) as string[]).toEqual(["4", "5", "6", "7"]);
    c.close();
    await s.deleteAccount(bob.id);
    expect(await ringKeys()).toEqual([]);
  });
});

describe("RedisStore on a real redis-server", () => {
  it("refuses to open an unreachable Redis, saying where and why", async () => {
    const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = l.port;
    l.stop(true);
    const error = await RedisStore.open(target(`redis://127.0.0.1:${port}`), LIMITS).catch((e) => e);
    expect(error).toBeInstanceOf(RedisOpenError);
    expect(error.message).toContain(`cannot use Redis at redis://127.0.0.1:${port}/0: unreachable`);
  });

  it("fails requests clearly while Redis is down, then works again with the data kept (AOF)", async () => {
    const s = await fresh(LIMITS);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const before = await put(s, msg(bob, "alice", "before"));
    await redis.stop();
    const failed = await s.enqueue(msg(bob, "alice", "while down")).catch((e) => e);
    expect(failed).toBeInstanceOf(StorageError);
    expect(failed.message).toMatch(/^the message store \(Redis\) is unavailable/);
    expect(await s.findAccount("alice").catch((e) => e)).toBeInstanceOf(StorageError);
    await redis.start();
    const after = await once(() => put(s, msg(bob, "alice", "after")));
    expect(after.id).toBeGreaterThan(before.id);
    expect((await s.pending(alice.id, 0, 10)).map((m) => m.text)).toEqual(["before", "after"]);
    expect(await s.findAccount("bob")).toEqual(bob);
    // The restarted Redis had none of the scripts: calls still apply in call order.
    const deleted = s.deleteAccount(alice.id);
    expect(await s.enqueue(msg(bob, "alice", "too late"))).toEqual({ ok: false, error: "no_such_account" });
    await deleted;
  });

  it("connects anew after the client gave up reconnecting during a long outage", async () => {
    const s = await RedisStore.open(target(), LIMITS, { maxRetries: 1 });
    opened.push(s);
    await s.stats();
    await redis.stop();
    // Requests during the outage fail at once; the client's one retry is soon spent.
    for (let i = 0; i < 5; i++) {
      expect(await s.stats().catch((e) => e)).toBeInstanceOf(StorageError);
      await Bun.sleep(100);
    }
    await redis.start();
    expect(await once(() => s.stats())).toMatchObject({ accounts: expect.any(Number) });
  });

  it("fails requests within the command timeout while Redis hangs, then works again", async () => {
    await fresh(LIMITS); // an empty database
    const s = await RedisStore.open(target(), LIMITS, { commandTimeoutMs: 1000 });
    opened.push(s);
    const [, bob] = [await addAccount(s, "Ann"), await addAccount(s, "Ben")];
    redis.pause();
    let thawed = false;
    try {
      const started = Date.now();
      const failed = await s.enqueue(msg(bob, "ann", "into the void", { clientMsgId: 42 })).catch((e) => e);
      expect(failed).toBeInstanceOf(StorageError);
      expect(failed.message).toBe("the message store (Redis) did not answer within 1 s");
      expect(Date.now() - started).toBeLessThan(5000);
      redis.resume();
      thawed = true;
    } finally {
      if (!thawed) redis.resume();
    }
    // The failed SEND may or may not have been stored (Redis may have run it after all):
    // the resend with its client_msg_id is stored once either way.
    const again = await once(() => s.enqueue(msg(bob, "ann", "into the void", { clientMsgId: 42 })));
    expect(again.ok).toBe(true);
    const ann = (await s.findAccount("ann"))!;
    expect(await s.countPending(ann.id)).toBe(1);
  });

  it("keeps every accepted message through a crash of Redis (SIGKILL; AOF written before each answer)", async () => {
    const s = await fresh({ ...LIMITS, maxQueuedPerAccount: 500, maxQueuedPerSender: 500 });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const accepted = await Promise.all(
      Array.from({ length: 200 }, (_, i) => put(s, msg(bob, "alice", `m${i}`))),
    );
    await redis.kill();
    await redis.start();
    const kept = await once(() => s.pending(alice.id, 0, 1000));
    expect(kept.map((m) => m.id)).toEqual(accepted.map((m) => m.id));
  });

  it("two stores on one Redis (two nodes) share accounts, and ids rise per recipient in commit order", async () => {
    const a = await fresh(LIMITS);
    const b = await open({ ...LIMITS, maxQueuedPerAccount: 100, maxQueuedPerSender: 100 });
    const a2 = await open({ ...LIMITS, maxQueuedPerAccount: 100, maxQueuedPerSender: 100 });
    const alice = await addAccount(a, "Alice");
    const bob = await addAccount(b, "Bob");
    expect(await a2.findAccount("bob")).toEqual(bob);
    // Node b's block of ids lies above node a2's: b's messages make a2's ids stale for
    // alice, and a2 must move above them rather than store a smaller id after a larger one.
    const committed: number[] = [];
    for (let i = 0; i < 30; i++) {
      const node = i % 3 === 0 ? b : a2;
      committed.push((await put(node, msg(bob, "alice", `m${i}`))).id);
    }
    expect(committed).toEqual([...committed].sort((x, y) => x - y));
    expect((await a2.pending(alice.id, 0, 100)).map((m) => m.id)).toEqual(committed);
    // A resend through the other node is still recognised.
    const first = await put(b, msg(bob, "alice", "once", { clientMsgId: 77 }));
    expect(await a2.enqueue(msg(bob, "alice", "once", { clientMsgId: 77 }))).toMatchObject({
      duplicate: true,
      message: { id: first.id },
    });
  });

  it("a node that sent to a name before sends to whoever has it now, or to nobody", async () => {
    const a = await fresh(LIMITS);
    const b = await open();
    const [alice, bob] = [await addAccount(a, "Alice"), await addAccount(a, "Bob")];
    await put(a, msg(bob, "alice", "to the first alice"));
    // Node b deletes alice and the name is taken again: node a's memory of it is stale.
    await b.deleteAccount(alice.id);
    const reborn = await addAccount(b, "Alice");
    const r = await a.enqueue(msg(bob, "alice", "to the second alice"));
    expect(r).toMatchObject({ ok: true, recipient: reborn });
    expect((await b.pending(reborn.id, 0, 10)).map((m) => m.text)).toEqual(["to the second alice"]);
    // Deleted for good: refused, and nothing lands in the old queue.
    await b.deleteAccount(reborn.id);
    expect(await a.enqueue(msg(bob, "alice", "to nobody"))).toEqual({ ok: false, error: "no_such_account" });
    expect([await a.countPending(alice.id), await a.countPending(reborn.id)]).toEqual([0, 0]);
  });

  it("refuses a SEND made right after the recipient's deletion, even to a name it just sent to", async () => {
    const s = await fresh(LIMITS);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await put(s, msg(bob, "alice", "remembers alice"));
    const deleted = s.deleteAccount(alice.id);
    const late = s.enqueue(msg(bob, "alice", "too late"));
    await deleted;
    expect(await late).toEqual({ ok: false, error: "no_such_account" });
  });

  it("puts every key under a hash tag, and each script's keys in one slot", async () => {
    const s = await fresh(LIMITS);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await put(s, msg(bob, "alice", "hi", { clientMsgId: 5 }));
    await s.saveToken({ hash: "abc", accountId: alice.id, expiresAt: Date.now() + 1000 });
    await s.deleteAccount(bob.id, Date.now() + 1000);
    const keys = (await redis.cli("--scan")).split("\n").filter(Boolean);
    expect(keys.length).toBeGreaterThan(10);
    for (const k of keys) expect(k).toMatch(/^chat:\{[^{}]+\}/);
    const slot = (k: string) => crc16(/\{([^{}]+)\}/.exec(k)![1]!) % 16384;
    for (const group of [DIR_KEYS, userKeys(alice.id), [messages.nextId, messages.queued]])
      expect(new Set(group.map(slot)).size).toBe(1);
    // Users spread over slots.
    expect(new Set([1, 2, 3, 4, 5, 6, 7, 8].map((id) => slot(userKeys(id)[0]!))).size).toBeGreaterThan(4);
  });

  it("answers storage_full, and refuses new accounts, when Redis is out of memory", async () => {
    const s = await fresh(LIMITS);
    const bob = await addAccount(s, "Bob");
    await addAccount(s, "Alice");
    await redis.cli("CONFIG", "SET", "maxmemory", "1");
    try {
      expect(await s.enqueue(msg(bob, "alice", "x".repeat(1000)))).toEqual({
        ok: false,
        error: "storage_full",
      });
      const made = await s
        .createAccount({ name: "Carol", key: "carol", passwordHash: "h", createdAt: 0 })
        .catch((e) => e);
      expect(made).toBeInstanceOf(StorageFullError);
    } finally {
      await redis.cli("CONFIG", "SET", "maxmemory", "0");
    }
    expect((await s.enqueue(msg(bob, "alice", "room again"))).ok).toBe(true);
  });
});

describe("RedisStore with a password", () => {
  let locked: RedisServer;
  beforeAll(async () => {
    locked = await startRedis({ password: "s3cret/pa:ss" });
  });
  afterAll(() => locked.stop());

  it("logs in with the URL's password or CHAT_REDIS_PASSWORD, and says so when it is missing or wrong", async () => {
    const bare = `redis://127.0.0.1:${locked.port}`;
    const withEnv = parseRedisTarget(bare, "s3cret/pa:ss");
    if (!withEnv.ok) throw new Error(withEnv.reason);
    for (const t of [target(locked.url), withEnv.target]) {
      const s = await RedisStore.open(t, LIMITS);
      opened.push(s);
      expect(s.description).toBe(`redis redis://127.0.0.1:${locked.port}/0`);
      expect(await s.stats()).toEqual({ accounts: 0, queued: 0 });
    }
    for (const url of [bare, `redis://:wrong@127.0.0.1:${locked.port}`]) {
      const error = await RedisStore.open(target(url), LIMITS).catch((e) => e);
      expect(error).toBeInstanceOf(RedisOpenError);
      expect(error.message).toContain("check the password (in the URL or CHAT_REDIS_PASSWORD)");
      expect(error.message).not.toContain("wrong");
    }
  });
});

/** CRC16-XMODEM, the hash Redis Cluster maps keys to slots with. */
function crc16(s: string): number {
  let crc = 0;
  for (const byte of Buffer.from(s)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

// Last: the many writes make the AOF that the restarts above replay much longer.
describe("RedisStore: receipts of one ACK of thousands of ids", () => {
  it("are stored, trimmed and removed past Lua's unpack() limit (about 8,000 values)", async () => {
    const n = 8_500;
    const s = (await fresh({
      maxQueuedPerAccount: n,
      maxQueuedPerSender: n,
      dedupPerSender: 4,
    })) as RedisStore;
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const ids = await Promise.all(
      Array.from({ length: n }, (_, i) => put(s, msg(alice, "bob", `m${i}`)).then((m) => m.id)),
    );
    const asBob = { recipientName: "Bob", confirmedAt: 1, maxPerAccount: 100 };
    const r = await s.ackWithReceipts(bob.id, ids, asBob);
    expect(r.dropped).toBe(n - 100);
    expect(r.receipts.map((x) => x.messageId)).toEqual(ids.slice(-100));
    const kept = (await s.receipts(alice.id, 1000)).map((x) => x.messageId);
    expect(kept).toEqual(ids.slice(-100));
    await s.deleteReceipts(alice.id, ids);
    expect(await s.receipts(alice.id, 1000)).toEqual([]);
  }, 30_000);
});
