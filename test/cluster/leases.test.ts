// Leases and lost signals on Redis: a node that stops renewing counts offline within its
// lease and messages to its accounts are queued; a deletion's mark refuses sends on every
// node and runs out with its node; a node whose subscription or lease lapsed catches up.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { RedisCommands } from "../../src/cluster/commands";
import { claimKey, leaseKey } from "../../src/cluster/keys";
import { RedisPresence } from "../../src/cluster/redis-presence";
import { RedisStore } from "../../src/store/redis";
import { parseRedisTarget } from "../../src/store/redis-url";
import { StorageError } from "../../src/store/store";
import { Delivery, Push, Status } from "../../src/wire";
import { settleAll } from "../core/cluster-contract";
import { type RedisCluster, redisCluster } from "../core/cluster-redis";
import { HAVE_REDIS, type RedisServer, startRedis } from "../store/redis-server";

let redis: RedisServer;
let current: RedisCluster | null = null;
const timers: Timer[] = [];

/** Polls until check() holds, or fails after ms. */
async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(10);
  }
}

describe.skipIf(!HAVE_REDIS)("presence leases on redis-server", () => {
  beforeAll(async () => {
    redis = await startRedis();
  });

  afterEach(async () => {
    for (const t of timers.splice(0)) clearInterval(t);
    await current?.close();
    current = null;
  });

  afterAll(async () => {
    await redis.stop();
  });

  test("a node that stops renewing: its accounts count offline within the lease, and messages to them are queued", async () => {
    const lease = 600;
    current = await redisCluster(redis.url, 2, {}, lease);
    const [a, b] = current.nodes;
    const [pa] = current.parts;
    // Node a renews as its timer would; node b "dies" (stops renewing) after bob logs in there.
    timers.push(setInterval(() => pa!.presence.renew(a!.core.node).catch(() => {}), lease / 3));
    const alice = await a!.user("alice");
    await b!.user("bob");
    const bobId = (await a!.store.findAccount("bob"))!.id;
    expect((await alice.list("bob")).accounts).toEqual([{ name: "bob", online: true }]);
    const stopped = Date.now();
    await waitFor(async () => (await pa!.presence.holder(bobId)) === null, lease * 3, "bob offline");
    const after = Date.now() - stopped;
    expect(after).toBeLessThanOrEqual(lease + 400);
    expect((await alice.list("*")).accounts).toEqual([
      { name: "alice", online: true },
      { name: "bob", online: false },
    ]);
    const r = await alice.sendTo("bob", "into the queue");
    expect(r).toMatchObject({ status: Status.OK, delivery: Delivery.QUEUED, msg: "bob is offline; queued" });
    expect(await a!.pending("bob")).toBe(1);
    // The dead node's claim was dropped by the reader that found it dead.
    await waitFor(async () => (await redis.cli("EXISTS", claimKey(bobId))) === "0", 2000, "claim dropped");
  });

  test("a deletion's mark refuses sends on every node atomically, and runs out with its node's lease", async () => {
    const lease = 500;
    current = await redisCluster(redis.url, 2, {}, lease);
    const [a, b] = current.nodes;
    const [pa] = current.parts;
    await a!.offline("bob");
    const alice = await b!.user("alice");
    const bobId = (await a!.store.findAccount("bob"))!.id;
    await pa!.presence.markDeleting(bobId);
    // Node b never heard a signal (none was sent): the store refuses it all the same.
    expect(await alice.sendTo("bob", "during")).toMatchObject({
      status: Status.NO_SUCH_ACCOUNT,
      msg: "no account named bob",
    });
    await pa!.presence.unmarkDeleting(bobId);
    expect(await alice.sendTo("bob", "again")).toMatchObject({ status: Status.OK });
    // Node a marks and dies (never renews): within the lease bob takes messages again.
    await pa!.presence.markDeleting(bobId);
    expect(await alice.sendTo("bob", "refused")).toMatchObject({ status: Status.NO_SUCH_ACCOUNT });
    const marked = Date.now();
    let answer = await alice.sendTo("bob", "later");
    while (answer.status !== Status.OK && Date.now() - marked < lease * 4) {
      await Bun.sleep(20);
      answer = await alice.sendTo("bob", "later");
    }
    expect(answer).toMatchObject({ status: Status.OK, delivery: Delivery.QUEUED });
    expect(Date.now() - marked).toBeLessThanOrEqual(lease + 400);
    expect(await a!.pending("bob")).toBe(2);
  });

  test("a mark learnt from another node's signal runs out after a lease unless the deleting node repeats it", async () => {
    current = await redisCluster(redis.url, 2, {}, 60_000);
    const [a, b] = current.nodes;
    b!.core.signals.broadcast({ type: "deleting", key: "bob", on: true });
    await settleAll([a!, b!]);
    expect(a!.core.deleting.has("bob")).toBe(true);
    a!.clock.now += 59_000;
    expect(a!.core.deleting.has("bob")).toBe(true);
    a!.clock.now += 1_001;
    expect(a!.core.deleting.has("bob")).toBe(false);
  });

  test("a node whose subscription dropped subscribes again and pushes what was stored meanwhile", async () => {
    current = await redisCluster(redis.url, 2);
    const [a, b] = current.nodes;
    const [, pb] = current.parts;
    const bob = await b!.user("bob");
    const alice = await a!.user("alice");
    expect(await alice.sendTo("bob", "before")).toMatchObject({ delivery: Delivery.LIVE });
    await settleAll([a!, b!]);
    expect(bob.texts()).toEqual(["before"]);
    // A message whose signal never reached node b (stored behind the bus's back).
    const alicesAccount = (await a!.store.findAccount("alice"))!;
    const stored = await a!.store.enqueue({
      senderId: alicesAccount.id,
      senderName: "alice",
      recipientKey: "bob",
      text: "missed",
      sentAt: a!.clock.now,
      clientMsgId: 0,
    });
    expect(stored.ok).toBe(true);
    await settleAll([a!, b!]);
    expect(bob.texts()).toEqual(["before"]);
    await redis.cli("CLIENT", "KILL", "TYPE", "pubsub");
    await waitFor(async () => bob.texts().length === 2, 5000, "the missed message pushed");
    expect(bob.texts()).toEqual(["before", "missed"]);
    expect(pb!.signals.subscribed).toBe(true);
    // And signals flow again.
    expect(await alice.sendTo("bob", "after")).toMatchObject({ delivery: Delivery.LIVE });
    await waitFor(async () => bob.texts().length === 3, 5000, "a live message after resubscribing");
    expect(bob.texts()).toEqual(["before", "missed", "after"]);
  });

  test("a subscription that stops answering (Redis frozen) is made anew, and the node catches up", async () => {
    current = await redisCluster(redis.url, 2);
    const [a, b] = current.nodes;
    const [, pb] = current.parts;
    const bob = await b!.user("bob");
    await a!.user("alice");
    const alice = await a!.store.findAccount("alice");
    const stored = await a!.store.enqueue({
      senderId: alice!.id,
      senderName: "alice",
      recipientKey: "bob",
      text: "stored behind the bus",
      sentAt: a!.clock.now,
      clientMsgId: 0,
    });
    expect(stored.ok).toBe(true);
    redis.pause();
    try {
      await waitFor(async () => !pb!.signals.subscribed, 6000, "the subscription found dead");
    } finally {
      redis.resume();
    }
    await waitFor(async () => bob.texts().length === 1, 10_000, "the stored message pushed");
    expect(bob.texts()).toEqual(["stored behind the bus"]);
    expect(pb!.signals.subscribed).toBe(true);
    expect(pb!.reports).toContain("the subscription did not answer a ping within 3 s; subscribing anew");
  }, 30_000);

  test("a node whose lease lapsed checks its claims: one taken meanwhile ends its session, told why", async () => {
    current = await redisCluster(redis.url, 2);
    const [a] = current.nodes;
    const bob = await a!.user("bob");
    const carol = await a!.user("carol");
    const bobId = (await a!.store.findAccount("bob"))!.id;
    // While the lease was gone (Redis away, say), another node claimed bob; its signal was lost.
    await redis.cli("DEL", leaseKey(a!.core.node));
    await redis.cli("SET", claimKey(bobId), "elsewhere|9");
    await redis.cli("SET", leaseKey("elsewhere"), "1", "PX", "60000");
    await a!.advance(60_000 / 3);
    await waitFor(async () => bob.pushes(Push.LOGGED_OUT).length === 1, 5000, "bob told");
    expect(bob.pushes(Push.LOGGED_OUT)).toMatchObject([
      { status: Status.LOGGED_IN_ELSEWHERE, msg: "logged out: bob logged in elsewhere" },
    ]);
    expect(carol.pushes(Push.LOGGED_OUT)).toEqual([]);
    expect(await carol.sendTo("carol", "still here")).toMatchObject({
      status: Status.OK,
      delivery: Delivery.LIVE,
    });
  });
});

describe.skipIf(!HAVE_REDIS)("RedisPresence on redis-server", () => {
  let server: RedisServer;
  let store: RedisStore;

  beforeAll(async () => {
    server = await startRedis();
    const t = parseRedisTarget(server.url);
    if (!t.ok) throw new Error(t.reason);
    store = await RedisStore.open(t.target, {
      maxQueuedPerAccount: 10,
      maxQueuedPerSender: 10,
      dedupPerSender: 4,
    });
  });

  afterAll(async () => {
    await store.close();
    await server.stop();
  });

  test("a release that failed (Redis away) is made with the next renewal, and a newer claim stays", async () => {
    let failing = true;
    const flaky: RedisCommands = {
      send: (c, a) => store.connection.send(c, a),
      eval: (script, keys, args) =>
        failing
          ? Promise.reject(new StorageError("Redis is away"))
          : store.connection.eval(script, keys, args),
    };
    const p = new RedisPresence(flaky, "flaky", 60_000);
    await p.renew("flaky");
    await p.claim(1, { node: "flaky", session: 1 });
    await p.claim(2, { node: "flaky", session: 2 });
    await expect(p.release(1, { node: "flaky", session: 1 })).rejects.toThrow("Redis is away");
    await expect(p.release(2, { node: "flaky", session: 2 })).rejects.toThrow("Redis is away");
    // Meanwhile account 2 was claimed again, by a newer session.
    await p.claim(2, { node: "flaky", session: 3 });
    expect(await p.online([1, 2])).toEqual([true, true]);
    failing = false;
    expect(await p.renew("flaky")).toBe(false);
    expect(await p.holder(1)).toBeNull();
    expect(await p.holder(2)).toEqual({ node: "flaky", session: 3 });
  });

  test("renew tells once that the lease had lapsed", async () => {
    const p = new RedisPresence(store.connection, "lapsing", 60_000);
    expect(await p.renew("lapsing")).toBe(false);
    expect(await p.renew("lapsing")).toBe(false);
    await server.cli("DEL", leaseKey("lapsing"));
    expect(await p.renew("lapsing")).toBe(true);
    expect(await p.renew("lapsing")).toBe(false);
  });
});
