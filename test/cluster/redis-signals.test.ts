// The bus on a real redis-server: who receives what, what crosses the wire, what is refused.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { BROADCAST_CHANNEL, nodeChannel } from "../../src/cluster/keys";
import { RedisSignals } from "../../src/cluster/redis-signals";
import type { Signal } from "../../src/core/signals";
import { RedisStore } from "../../src/store/redis";
import { parseRedisTarget, type RedisTarget } from "../../src/store/redis-url";
import { HAVE_REDIS, type RedisServer, startRedis } from "../store/redis-server";

let redis: RedisServer;
let store: RedisStore;
let target: RedisTarget;
const closing: (() => void)[] = [];

async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(5);
  }
}

async function bus(node: string): Promise<{ bus: RedisSignals; got: Signal[]; reports: string[] }> {
  const got: Signal[] = [];
  const reports: string[] = [];
  const b = await RedisSignals.open(target, node, store.connection, (d) => reports.push(d));
  b.subscribe(node, (s) => got.push(s));
  closing.push(() => b.close());
  return { bus: b, got, reports };
}

describe.skipIf(!HAVE_REDIS)("RedisSignals", () => {
  beforeAll(async () => {
    redis = await startRedis();
    const t = parseRedisTarget(redis.url);
    if (!t.ok) throw new Error(t.reason);
    target = t.target;
    store = await RedisStore.open(target, {
      maxQueuedPerAccount: 10,
      maxQueuedPerSender: 10,
      dedupPerSender: 4,
    });
  });

  afterAll(async () => {
    for (const c of closing) c();
    await store.close();
    await redis.stop();
  });

  test("a signal reaches its node only; a broadcast every node, the sender once", async () => {
    const one = await bus("one");
    const two = await bus("two");
    const three = await bus("three");
    expect(one.bus.inOrder).toBe(true);
    const force: Signal = {
      type: "force_logout",
      accountId: 3,
      session: 9,
      byAddress: "::1",
      resumed: false,
      tokenHash: "h",
    };
    one.bus.send("two", force);
    await waitFor(() => two.got.length === 1, "the signal to two");
    const deleting: Signal = { type: "deleting", key: "bob", on: true };
    one.bus.broadcast(deleting);
    await waitFor(() => two.got.length === 2 && three.got.length === 1, "the broadcast");
    // A signal to itself is handled at once, not over Redis.
    one.bus.send("one", force);
    expect(one.got).toEqual([deleting, force]);
    // Published after the broadcast on the same connection, so it arrives after its echo:
    // once it is in, the own broadcast has come back and was not handled twice.
    const marker: Signal = { type: "account_deleted", accountId: 1, key: "marker" };
    two.bus.send("one", marker);
    await waitFor(() => one.got.length === 3, "the marker");
    expect(one.got).toEqual([deleting, force, marker]);
    expect(two.got).toEqual([force, deleting]);
    expect(three.got).toEqual([deleting]);
    expect(() => one.bus.subscribe("two", () => {})).toThrow("this bus receives for node one, not two");
  });

  test("a deliver crosses without the message's copy; what is not a signal is reported and dropped", async () => {
    const four = await bus("four");
    const spy = new RedisClient(redis.url);
    closing.push(() => spy.close());
    const raw: string[] = [];
    await spy.subscribe(nodeChannel("four"), (m) => raw.push(m));
    const five = await bus("five");
    five.bus.send("four", {
      type: "deliver",
      accountId: 7,
      fromId: 12,
      message: { id: 12, recipientId: 7, senderName: "alice", text: "private words", sentAt: 1 },
    });
    await waitFor(() => four.got.length === 1 && raw.length === 1, "the deliver");
    expect(four.got).toEqual([{ type: "deliver", accountId: 7, fromId: 12 }]);
    expect(raw[0]).not.toContain("private words");
    await store.connection.send("PUBLISH", [BROADCAST_CHANNEL, "not json"]);
    await waitFor(() => four.reports.length === 1, "the report");
    expect(four.reports).toEqual([`ignored a signal that is not JSON on ${BROADCAST_CHANNEL}`]);
    expect(four.got).toHaveLength(1);
  });

  test("the signals of one turn for one node cross in order as one message; those of later turns after them", async () => {
    const six = await bus("six");
    const spy = new RedisClient(redis.url);
    closing.push(() => spy.close());
    const raw: string[] = [];
    await spy.subscribe(nodeChannel("six"), (m) => raw.push(m));
    const seven = await bus("seven");
    const deliver = (id: number): Signal => ({ type: "deliver", accountId: 7, fromId: id });
    for (let id = 1; id <= 300; id++) seven.bus.send("six", deliver(id));
    await new Promise<void>((resolve) => setImmediate(resolve));
    seven.bus.send("six", deliver(301));
    await waitFor(() => six.got.length === 301, "the delivers");
    expect(six.got).toEqual(Array.from({ length: 301 }, (_, i) => deliver(i + 1)));
    // 256 at most per message: 256 and 44 from the first turn, then the one of the next.
    await waitFor(() => raw.length === 3, "the messages");
    expect(raw.map((m) => (JSON.parse(m) as { signals?: unknown[] }).signals?.length ?? 1)).toEqual([
      256, 44, 1,
    ]);
    expect(six.reports).toEqual([]);
  });
});
