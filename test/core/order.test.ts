// Answer and delivery order when the store settles its calls in the reverse of the order
// they were made (a networked store may): the core must act on them in call order.

import { describe, expect, test } from "bun:test";
import { DEFAULT_OPTIONS } from "../../src/core/options";
import type { Store } from "../../src/store/store";
import { Delivery, Op, Push, Status } from "../../src/wire";
import { type Client, Harness, sharedBackend } from "./helpers";

/** The harness's store, with enqueue results held until release() hands them back reversed. */
function reversingHarness(): { h: Harness; release: () => Promise<void>; held: () => number } {
  const shared = sharedBackend(DEFAULT_OPTIONS, null);
  const inner: Store = shared.store;
  const held: (() => void)[] = [];
  shared.coreStore = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property !== "enqueue") return value.bind(target);
      return (...args: Parameters<Store["enqueue"]>) => {
        // Applied now, in call order; answered later, in reverse.
        const result = target.enqueue(...args);
        return new Promise((resolve, reject) => held.push(() => result.then(resolve, reject)));
      };
    },
  });
  const h = new Harness({}, shared, "n1");
  return {
    h,
    held: () => held.length,
    release: async () => {
      // Every call has been applied and its result is ready: hand them back newest first.
      await h.settle();
      for (const settle of held.splice(0).reverse()) settle();
      await h.settle();
    },
  };
}

/** Ids of every message c has been handed (pushes and CHECK answers), in arrival order. */
function idsSeen(c: Client): number[] {
  return c.frames
    .filter((f) => f.opcode === Push.DELIVER || f.opcode === Op.CHECK_MESSAGES)
    .flatMap((f) => f.messages.map((m) => m.id));
}

const increasing = (ids: number[]) => ids.every((id, i) => i === 0 || id > ids[i - 1]!);

describe("order with a store that settles out of order", () => {
  test("pipelined SENDs are answered in request order, with increasing ids", async () => {
    const { h, release, held } = reversingHarness();
    const bob = await h.user("bob");
    await h.offline("dave");
    const alice = await h.user("alice");
    // Online, offline (its holder looked up in presence) and online again.
    const targets = ["bob", "dave", "bob", "dave", "bob"];
    const ids = targets.map((to, i) => alice.post({ opcode: Op.SEND_MESSAGE, receiver: to, msg: `m${i}` }));
    const ping = alice.post({ opcode: Op.PING });
    await h.settle();
    expect(held()).toBe(5);
    expect(alice.responses().filter((r) => r.requestId === ping)).toEqual([]);
    await release();
    const answers = alice.responses().slice(-6);
    expect(answers.map((a) => a.requestId)).toEqual([...ids, ping]);
    expect(answers.slice(0, 5).map((a) => a.delivery)).toEqual([
      Delivery.LIVE,
      Delivery.QUEUED,
      Delivery.LIVE,
      Delivery.QUEUED,
      Delivery.LIVE,
    ]);
    expect(increasing(answers.slice(0, 5).map((a) => a.messageId))).toBe(true);
    expect(bob.texts()).toEqual(["m0", "m2", "m4"]);
  });

  test("messages from two senders reach the recipient in id order, every one of them", async () => {
    const { h, release } = reversingHarness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const carol = await h.user("carol");
    for (let i = 0; i < 10; i++) {
      (i % 2 ? carol : alice).post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `m${i}` });
    }
    await release();
    const ids = idsSeen(bob);
    expect(ids).toHaveLength(10);
    expect(increasing(ids)).toBe(true);
    expect(bob.texts()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
  });

  test("a backlog, new messages and CHECK: each id handed over once, in increasing order", async () => {
    const { h, release } = reversingHarness();
    await h.offline("bob");
    const alice = await h.user("alice");
    for (let i = 0; i < 3; i++) alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `old${i}` });
    await release();
    const bob = h.connect();
    expect(await bob.login("bob")).toMatchObject({ status: Status.OK, unread: 3 });
    for (let i = 0; i < 3; i++) alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `new${i}` });
    const check = bob.post({ opcode: Op.CHECK_MESSAGES, pageSize: 2 });
    await release();
    expect(bob.reply(check)).toMatchObject({ status: Status.OK });
    await bob.ack(idsSeen(bob));
    await bob.check();
    const ids = idsSeen(bob);
    await bob.ack(ids);
    expect(increasing(ids)).toBe(true);
    expect(new Set(ids).size).toBe(6);
    expect(await h.pending("bob")).toBe(0);
  });
});
