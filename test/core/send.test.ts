import { describe, expect, test } from "bun:test";
import { Delivery, encodeRequest, Op, Push, Status } from "../../src/wire";
import { Harness, START } from "./helpers";

describe("SEND_MESSAGE", () => {
  test("without a session is NOT_LOGGED_IN", async () => {
    const h = new Harness();
    await h.offline("bob");
    const r = await h.connect().sendTo("bob", "hi");
    expect(r).toMatchObject({ opcode: Op.SEND_MESSAGE, status: Status.NOT_LOGGED_IN, msg: "log in first" });
  });

  test("to an unknown name is NO_SUCH_ACCOUNT", async () => {
    const alice = await new Harness().user("alice");
    expect(await alice.sendTo("carol", "hi")).toMatchObject({
      status: Status.NO_SUCH_ACCOUNT,
      msg: "no account named carol",
    });
    const long = await alice.sendTo("x".repeat(500), "hi");
    expect(long).toMatchObject({
      status: Status.NO_SUCH_ACCOUNT,
      msg: `no account named ${"x".repeat(40)}…`,
    });
  });

  test("without a receiver is INVALID_ARGUMENT", async () => {
    const alice = await new Harness().user("alice");
    expect(await alice.sendTo("", "hi")).toMatchObject({
      status: Status.INVALID_ARGUMENT,
      msg: "say who the message is for (receiver)",
    });
  });

  test.each([
    ["", "message not sent: the message is empty"],
    ["x".repeat(101), "message not sent: the message is longer than 100 characters"],
    ["ring\u0007", "message not sent: the message has the invisible character U+0007 at position 5"],
    ["esc\u001b[2J", "message not sent: the message has the invisible character U+001B at position 4"],
  ])("the text %j is INVALID_TEXT", async (text, msg) => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    const r = await alice.sendTo("bob", text);
    expect(r).toMatchObject({ status: Status.INVALID_TEXT });
    expect(r.msg).toStartWith(msg);
    expect(await h.pending("bob")).toBe(0);
  });

  test("100 characters (astral ones too), newlines and tabs are accepted", async () => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    for (const text of ["x".repeat(100), "🙂".repeat(100), "line one\nline\ttwo"]) {
      expect(await alice.sendTo("bob", text)).toMatchObject({ status: Status.OK });
    }
  });

  test("to an online recipient: LIVE, and a DELIVER push with id, sender, text and sentAt", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    h.clock.now += 1234;
    const r = await alice.sendTo("BOB", "hello bob");
    expect(r).toMatchObject({
      status: Status.OK,
      delivery: Delivery.LIVE,
      duplicate: false,
      msg: "sent to bob",
    });
    expect(r.sentAt).toBe(START + 1234);
    expect(bob.pushes(Push.DELIVER)).toMatchObject([
      {
        requestId: 0,
        messages: [{ id: r.messageId, sender: "alice", text: "hello bob", sentAt: START + 1234 }],
      },
    ]);
  });

  test("to an offline recipient: QUEUED", async () => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    const r = await alice.sendTo("bob", "are you there");
    expect(r).toMatchObject({ status: Status.OK, delivery: Delivery.QUEUED, msg: "bob is offline; queued" });
    expect(r.messageId).toBeGreaterThan(0);
  });

  test("past the per-sender quota: SENDER_QUOTA to that sender; others still get through", async () => {
    const h = new Harness({ maxQueuedPerAccount: 10, maxQueuedPerSender: 2 });
    await h.offline("bob");
    const alice = await h.user("alice");
    const carol = await h.user("carol");
    await alice.sendTo("bob", "one");
    await alice.sendTo("bob", "two");
    expect(await alice.sendTo("bob", "three")).toMatchObject({
      status: Status.SENDER_QUOTA,
      msg: "you already have 2 messages waiting for bob; message not stored (send more once bob has read some)",
    });
    expect(await carol.sendTo("bob", "hello")).toMatchObject({ status: Status.OK });
    const bob = h.connect();
    expect(await bob.login("bob")).toMatchObject({ unread: 3 });
  });

  test("to a full mailbox: MAILBOX_FULL and nothing is stored", async () => {
    const h = new Harness({ maxQueuedPerAccount: 2 });
    await h.offline("bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "one");
    await alice.sendTo("bob", "two");
    const r = await alice.sendTo("bob", "three");
    expect(r).toMatchObject({
      status: Status.MAILBOX_FULL,
      msg: "bob's mailbox is full (2 messages waiting); message not stored",
    });
    const bob = h.connect();
    expect(await bob.login("bob")).toMatchObject({ unread: 2 });
    expect((await bob.check()).messages.map((m) => m.text)).toEqual(["one", "two"]);
  });

  test("the request's sender field is ignored: the sender is the session's account", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "trust me", { sender: "mallory" });
    expect(bob.delivered()).toMatchObject([{ sender: "alice", text: "trust me" }]);
  });

  test("a resend with the same client_msg_id is a duplicate: same id, stored once", async () => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    const first = await alice.sendTo("bob", "once", { clientMsgId: 77 });
    const again = await alice.sendTo("bob", "once", { clientMsgId: 77 });
    expect(again).toMatchObject({ status: Status.OK, duplicate: true, messageId: first.messageId });
    expect(again.msg).toBe(`already stored as message ${first.messageId} (resent)`);
    const other = await alice.sendTo("bob", "twice", { clientMsgId: 78 });
    expect(other).toMatchObject({ duplicate: false });
    expect(await h.connect().login("bob")).toMatchObject({ unread: 2 });
  });

  test("client_msg_id is per sender: another sender's equal id is a new message", async () => {
    const h = new Harness();
    await h.offline("bob");
    const a = await (await h.user("alice")).sendTo("bob", "from alice", { clientMsgId: 5 });
    const c = await (await h.user("carol")).sendTo("bob", "from carol", { clientMsgId: 5 });
    expect(c).toMatchObject({ duplicate: false });
    expect(c.messageId).not.toBe(a.messageId);
  });

  test("a SEND with an id past max_unanswered_sends unanswered ones is refused, not stored", async () => {
    const h = new Harness({ maxUnansweredSends: 3 });
    await h.offline("bob");
    const alice = await h.user("alice");
    const release = h.store.hold("enqueue");
    const ids = [1, 2, 3, 4].map((n) =>
      alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `m${n}`, clientMsgId: n }),
    );
    // A SEND without an id is not refused for this: there is no resend to recognise.
    const plain = alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "no id" });
    release();
    await h.settle();
    expect(ids.slice(0, 3).map((id) => alice.reply(id).status)).toEqual([Status.OK, Status.OK, Status.OK]);
    expect(alice.reply(ids[3]!)).toMatchObject({
      status: Status.TOO_MANY_UNANSWERED,
      msg: "message not sent: 3 messages are already waiting for an answer",
    });
    expect(alice.reply(plain).status).toBe(Status.OK);
    // Answers arrive in request order, the refusal among them.
    expect(
      alice
        .responses()
        .slice(-5)
        .map((r) => r.requestId),
    ).toEqual([...ids, plain]);
    expect(await h.pending("bob")).toBe(4);
    // Once answered, the next one goes through.
    expect(await alice.sendTo("bob", "m4", { clientMsgId: 4 })).toMatchObject({
      status: Status.OK,
      duplicate: false,
    });
  });

  test("client_msg_id of 2^53 or more is INVALID_ARGUMENT, never rounded into another id", async () => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    const send = async (id: bigint, requestId: number) => {
      const varint: number[] = [];
      for (let v = id; ; ) {
        const b = Number(v & 0x7fn);
        v >>= 7n;
        varint.push(v > 0n ? b | 0x80 : b);
        if (v === 0n) break;
      }
      const head = encodeRequest({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `id ${id}`, requestId });
      alice.postRaw(Uint8Array.from([...head, 0x40, ...varint]));
      await h.settle();
      return alice.reply(requestId);
    };
    expect(await send(2n ** 53n - 1n, 901)).toMatchObject({ status: Status.OK, duplicate: false });
    for (const [id, requestId] of [
      [2n ** 53n, 902],
      [2n ** 53n + 1n, 903],
      [2n ** 64n - 1n, 904],
    ] as const) {
      expect(await send(id, requestId)).toMatchObject({
        status: Status.INVALID_ARGUMENT,
        msg: "client_msg_id must be below 2^53",
      });
    }
    expect(await h.connect().login("bob")).toMatchObject({ unread: 1 });
  });

  test("pipelined sends to an online recipient arrive in order", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const texts = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const msg of texts) alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg });
    await h.settle();
    expect(bob.texts()).toEqual(texts);
  });

  test("a backlog from while offline is pushed before new live messages", async () => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "old 1");
    await alice.sendTo("bob", "old 2");
    const bob = h.connect();
    expect(await bob.login("bob")).toMatchObject({ unread: 2 });
    alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "new 1" });
    alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "new 2" });
    await h.settle();
    expect(alice.responses().slice(-2)).toMatchObject([
      { delivery: Delivery.LIVE },
      { delivery: Delivery.LIVE },
    ]);
    expect(bob.texts()).toEqual(["old 1", "old 2", "new 1", "new 2"]);
  });

  test("sending to oneself is delivered live to the same connection", async () => {
    const alice = await new Harness().user("alice");
    expect(await alice.sendTo("alice", "note to self")).toMatchObject({ delivery: Delivery.LIVE });
    expect(alice.delivered()).toMatchObject([{ sender: "alice", text: "note to self" }]);
  });
});
