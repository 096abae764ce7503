// An ACK takes effect before its session's next frame and before its disconnect: the
// order the light path's cuts must keep.

import { describe, expect, test } from "bun:test";
import { Op, Push } from "../../src/wire";
import { Harness } from "./helpers";

describe("an ACK and what follows it on its connection", () => {
  test("a receipt reaches its sender before the reply sent right after the ACK", async () => {
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
