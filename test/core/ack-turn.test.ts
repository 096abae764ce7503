// ACKs wait for the other reads of their event-loop turn (a SEND read after them goes
// first), but never behind their own session's next frame or its disconnect.

import { describe, expect, test } from "bun:test";
import { Op, Push } from "../../src/wire";
import { Harness } from "./helpers";

describe("ACKs at the end of the turn", () => {
  test("another session's SEND read after an ACK in the same turn runs before it", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const first = await alice.sendTo("bob", "one");
    bob.post({ opcode: Op.ACK, ackIds: [first.messageId] });
    alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "two" });
    // Within the turn the ACK has not run yet; the SEND has.
    expect(h.metrics.messagesConfirmed).toBe(0);
    await h.settle();
    expect(h.metrics.messagesConfirmed).toBe(1);
    expect(bob.texts()).toEqual(["one", "two"]);
    expect(await h.pending("bob")).toBe(1);
  });

  test("its session's next frame runs after it: a receipt reaches its sender before the reply", async () => {
    const h = new Harness();
    const alice = await h.user("alice");
    const bob = await h.user("bob");
    const asked = await alice.sendTo("bob", "are you there?");
    bob.post({ opcode: Op.ACK, ackIds: [asked.messageId] });
    bob.post({ opcode: Op.SEND_MESSAGE, receiver: "alice", msg: "yes!" });
    await h.settle();
    const order = alice.frames.map((f) => f.opcode);
    expect(order.indexOf(Push.RECEIPT)).toBeGreaterThan(-1);
    expect(order.indexOf(Push.RECEIPT)).toBeLessThan(order.lastIndexOf(Push.DELIVER));
    expect(alice.texts()).toEqual(["yes!"]);
  });

  test("an ACK read just before its connection closes takes effect", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const sent = await alice.sendTo("bob", "bye");
    bob.post({ opcode: Op.ACK, ackIds: [sent.messageId] });
    bob.hangUp();
    await h.settle();
    expect(await h.pending("bob")).toBe(0);
    const again = h.connect();
    expect(await again.login("bob")).toMatchObject({ unread: 0 });
  });
});
