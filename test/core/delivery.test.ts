import { describe, expect, test } from "bun:test";
import { Op, Push, Status } from "../../src/wire";
import { expectNoFrame, Harness } from "./helpers";

describe("delivery and ACK", () => {
  test("a pushed message stays queued until ACKed; the ACK gets no answer", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const { messageId } = await alice.sendTo("bob", "hi");
    expect(await h.pending("bob")).toBe(1);
    const before = bob.frames.length;
    await bob.ack([messageId]);
    expectNoFrame(bob, before);
    expect(await h.pending("bob")).toBe(0);
  });

  test("an unconfirmed message is handed over again in the next session", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const { messageId } = await alice.sendTo("bob", "did you get this");
    expect(bob.delivered().map((m) => m.id)).toEqual([messageId]);
    bob.hangUp();
    const again = h.connect();
    expect(await again.login("bob")).toMatchObject({ unread: 1 });
    expect((await again.check()).messages).toMatchObject([{ id: messageId, text: "did you get this" }]);
  });

  test("unconfirmed messages from the last session are pushed before new ones", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "first");
    bob.hangUp();
    const again = h.connect();
    await again.login("bob");
    await alice.sendTo("bob", "second");
    expect(again.texts()).toEqual(["first", "second"]);
  });

  test("ACKs only confirm messages handed to this session", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const { messageId } = await alice.sendTo("bob", "for bob only");
    await alice.ack([messageId, 999]);
    expect(await h.pending("bob")).toBe(1);
    // Without a session an ACK is refused, and confirms nothing.
    const anonymous = h.connect();
    const refused = await anonymous.request({ opcode: Op.ACK, ackIds: [messageId] });
    expect(refused).toMatchObject({ opcode: Op.ACK, status: Status.NOT_LOGGED_IN, msg: "log in first" });
    expect(await h.pending("bob")).toBe(1);
    await bob.ackAll();
    expect(await h.pending("bob")).toBe(0);
  });

  test("an ACK with more than 10000 ids is INVALID_ARGUMENT, and confirms none of them", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const { messageId } = await (await h.user("alice")).sendTo("bob", "hi");
    const ids = [messageId, ...Array.from({ length: 10_000 }, (_, i) => messageId + 1 + i)];
    const r = await bob.request({ opcode: Op.ACK, ackIds: ids });
    expect(r).toMatchObject({
      status: Status.INVALID_ARGUMENT,
      msg: "an ACK may carry at most 10000 ids; none was applied",
    });
    expect(await h.pending("bob")).toBe(1);
    // Exactly at the cap is fine.
    await bob.ack(ids.slice(0, 10_000));
    expect(await h.pending("bob")).toBe(0);
  });

  test("deliveryWindow bounds unconfirmed pushes; ACKs let the rest flow, in order", async () => {
    const h = new Harness({ deliveryWindow: 2 });
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const sent = [];
    for (const text of ["m1", "m2", "m3", "m4", "m5"]) sent.push((await alice.sendTo("bob", text)).messageId);
    expect(bob.texts()).toEqual(["m1", "m2"]);
    await bob.ack([sent[0]!]);
    expect(bob.texts()).toEqual(["m1", "m2", "m3"]);
    await bob.ack([sent[1]!, sent[2]!]);
    expect(bob.texts()).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    await bob.ack([sent[3]!, sent[4]!]);
    await alice.sendTo("bob", "m6");
    expect(bob.texts().at(-1)).toBe("m6");
    expect(await h.pending("bob")).toBe(1);
  });

  test("a push not confirmed within ackTimeoutMs: LOGGED_OUT ACK_TIMEOUT, closed, message kept", async () => {
    const h = new Harness({ ackTimeoutMs: 5_000 });
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "confirm me");
    const before = bob.frames.length;
    await h.advance(4_999);
    expectNoFrame(bob, before);
    await h.advance(1);
    expect(bob.last()).toMatchObject({
      opcode: Push.LOGGED_OUT,
      status: Status.ACK_TIMEOUT,
      msg: "delivered messages were not confirmed within 5 s; they stay queued",
    });
    expect(bob.closed).toBe(true);
    expect(alice.closed).toBe(false);
    expect(await h.connect().login("bob")).toMatchObject({ status: Status.OK, unread: 1 });
  });

  test("switching accounts leaves the first account's unconfirmed messages queued", async () => {
    const h = new Harness();
    await h.offline("bob");
    const c = await h.user("carol");
    const alice = await h.user("alice");
    const { messageId } = await alice.sendTo("carol", "for carol");
    await c.login("bob");
    await c.ack([messageId]);
    expect(await h.pending("carol")).toBe(1);
  });

  test("an ACK is applied at once, even while a slow request of the session is pending", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "hi");
    const release = h.passwords.hold();
    const del = bob.post({ opcode: Op.DELETE_ACCOUNT, password: "wrong-password" });
    bob.post({ opcode: Op.ACK, ackIds: bob.delivered().map((m) => m.id) });
    await h.settle();
    expect(await h.pending("bob")).toBe(0);
    release();
    await h.settle();
    expect(bob.reply(del)).toMatchObject({ status: Status.BAD_CREDENTIALS });
  });
});
