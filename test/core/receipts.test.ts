// Delivery receipts through the core: the sender hears when its message was confirmed, at
// once if online (on any node), else on its next login or resume, paged and bounded; a
// receipt goes when the sender confirms it, and with the sender's account.

import { describe, expect, test } from "bun:test";
import { DEFAULT_OPTIONS } from "../../src/core/options";
import { Op, Push, Status } from "../../src/wire";
import { settleAll } from "./cluster-contract";
import { type Client, Harness, pw, sharedBackend } from "./helpers";

const receiptsOf = (c: Client) => c.pushes(Push.RECEIPT).flatMap((p) => p.receipts ?? []);

function confirmReceipts(c: Client, ids: number[]): void {
  c.post({ opcode: Op.ACK, receiptIds: ids });
}

describe("delivery receipts", () => {
  test("live: the recipient's ACK pushes a RECEIPT to the online sender, with its client_msg_id", async () => {
    const h = new Harness();
    const bob = await h.user("Bob");
    const alice = await h.user("alice");
    const sent = await alice.sendTo("bob", "are you there?", { clientMsgId: 77 });
    expect(receiptsOf(alice)).toEqual([]);
    h.clock.now += 1234;
    await bob.ackAll();
    await h.settle();
    expect(receiptsOf(alice)).toEqual([
      { messageId: sent.messageId, recipient: "Bob", confirmedAt: h.clock.now, clientMsgId: 77 },
    ]);
    expect(alice.pushes(Push.RECEIPT)[0]!.more).toBe(false);
    // Nobody else hears of it.
    expect(receiptsOf(bob)).toEqual([]);
    expect(h.metrics.receiptsStored).toBe(1);
    expect(h.metrics.receiptsPushed).toBe(1);
  });

  test("offline: receipts wait and are pushed after the next login's answer, then removed on confirm", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const ids = [];
    for (const t of ["one", "two", "three"]) ids.push((await alice.sendTo("bob", t)).messageId);
    alice.hangUp();
    await bob.ackAll();
    await h.settle();
    const back = h.connect();
    const login = await back.login("alice");
    expect(login).toMatchObject({ status: Status.OK });
    const order = back.frames.map((f) => f.opcode);
    expect(order.indexOf(Op.LOG_IN)).toBeLessThan(order.indexOf(Push.RECEIPT));
    expect(receiptsOf(back).map((r) => r.messageId)).toEqual(ids);
    // Not confirmed: a new session gets them again.
    back.hangUp();
    const again = h.connect();
    await again.login("alice");
    expect(receiptsOf(again).map((r) => r.messageId)).toEqual(ids);
    confirmReceipts(again, ids);
    await h.settle();
    const alice3 = await h.store.findAccount("alice");
    expect(await h.store.receipts(alice3!.id, 10)).toEqual([]);
    again.hangUp();
    const last = h.connect();
    await last.login("alice");
    expect(receiptsOf(last)).toEqual([]);
    expect(h.metrics.receiptsConfirmed).toBe(3);
  });

  test("on RESUME too", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const token = alice.frames.find((f) => f.opcode === Op.LOG_IN)!.token;
    const sent = await alice.sendTo("bob", "hi");
    alice.hangUp();
    await bob.ackAll();
    const back = h.connect();
    expect(await back.resumeWith(token)).toMatchObject({ status: Status.OK });
    await h.settle();
    expect(receiptsOf(back).map((r) => r.messageId)).toEqual([sent.messageId]);
  });

  test("paged: at most max_page_size unconfirmed at a time, `more` set, the rest as they are confirmed", async () => {
    const h = new Harness({ maxPageSize: 2 });
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await alice.sendTo("bob", `m${i}`)).messageId);
    alice.hangUp();
    await bob.ackAll();
    await h.settle();
    const back = h.connect();
    await back.login("alice");
    await h.settle();
    expect(receiptsOf(back).map((r) => r.messageId)).toEqual(ids.slice(0, 2));
    expect(back.pushes(Push.RECEIPT).at(-1)!.more).toBe(true);
    // A confirmation of an id never handed over does nothing.
    confirmReceipts(back, [ids[4]!]);
    await h.settle();
    expect(receiptsOf(back)).toHaveLength(2);
    confirmReceipts(back, ids.slice(0, 2));
    await h.settle();
    expect(receiptsOf(back).map((r) => r.messageId)).toEqual(ids.slice(0, 4));
    confirmReceipts(back, ids.slice(2, 4));
    await h.settle();
    expect(receiptsOf(back).map((r) => r.messageId)).toEqual(ids);
    expect(back.pushes(Push.RECEIPT).at(-1)!.more).toBe(false);
  });

  test("live: one ACK of more than a window pushes a window's worth; the rest follow the confirmation", async () => {
    const h = new Harness({ maxPageSize: 2 });
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await alice.sendTo("bob", `m${i}`)).messageId);
    await bob.ackAll();
    await h.settle();
    expect(receiptsOf(alice).map((r) => r.messageId)).toEqual(ids.slice(0, 2));
    confirmReceipts(alice, ids.slice(0, 2));
    await h.settle();
    expect(receiptsOf(alice).map((r) => r.messageId)).toEqual(ids.slice(0, 4));
  });

  test("a live receipt past a full window waits in the store and follows the confirmation", async () => {
    const h = new Harness({ maxPageSize: 1 });
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const a = await alice.sendTo("bob", "a");
    const b = await alice.sendTo("bob", "b");
    await bob.ack([a.messageId]);
    await h.settle();
    await bob.ack([b.messageId]);
    await h.settle();
    expect(receiptsOf(alice).map((r) => r.messageId)).toEqual([a.messageId]);
    confirmReceipts(alice, [a.messageId]);
    await h.settle();
    expect(receiptsOf(alice).map((r) => r.messageId)).toEqual([a.messageId, b.messageId]);
  });

  test("bounded: a sender keeps its newest max_receipts_per_account; older ones are dropped and counted", async () => {
    const h = new Harness({ maxReceiptsPerAccount: 2 });
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push((await alice.sendTo("bob", `m${i}`)).messageId);
    alice.hangUp();
    await bob.ackAll();
    await h.settle();
    expect(h.metrics.receiptsDropped).toBe(2);
    const back = h.connect();
    await back.login("alice");
    await h.settle();
    expect(receiptsOf(back).map((r) => r.messageId)).toEqual(ids.slice(2));
  });

  test("dropped with the sender's account; none made for a sender already gone", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const m1 = await alice.sendTo("bob", "one");
    const m2 = await alice.sendTo("bob", "two");
    await bob.ack([m1.messageId]);
    await h.settle();
    const aliceAccount = (await h.store.findAccount("alice"))!;
    expect((await h.store.receipts(aliceAccount.id, 10)).map((r) => r.messageId)).toEqual([m1.messageId]);
    expect(await alice.request({ opcode: Op.DELETE_ACCOUNT, password: pw("alice") })).toMatchObject({
      status: Status.OK,
    });
    await h.settle();
    expect(await h.store.receipts(aliceAccount.id, 10)).toEqual([]);
    await bob.ack([m2.messageId]);
    await h.settle();
    expect(await h.store.receipts(aliceAccount.id, 10)).toEqual([]);
    expect(h.metrics.receiptsStored).toBe(1);
  });

  test("receipt ids: refused before login, past the cap refused whole, charged like ack ids", async () => {
    const h = new Harness();
    const anon = h.connect();
    const id = anon.post({ opcode: Op.ACK, receiptIds: [1] });
    await h.settle();
    expect(anon.reply(id)).toMatchObject({ status: Status.NOT_LOGGED_IN });

    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const sent = await alice.sendTo("bob", "x");
    await bob.ackAll();
    await h.settle();
    const many = Array.from({ length: 10_001 }, (_, i) => i + 1);
    many[0] = sent.messageId;
    const refused = alice.post({ opcode: Op.ACK, receiptIds: many });
    await h.settle();
    expect(alice.reply(refused)).toMatchObject({ status: Status.INVALID_ARGUMENT });
    const aliceAccount = (await h.store.findAccount("alice"))!;
    expect(await h.store.receipts(aliceAccount.id, 10)).toHaveLength(1);

    // Ids cost tokens as ack ids do: a burst of 3 tokens is spent by an ACK of many ids.
    const small = new Harness({ requestBurst: 3, requestRate: 1 });
    const c = await small.user("carol");
    const before = c.session.tokens;
    c.post({ opcode: Op.ACK, receiptIds: Array.from({ length: 500 }, (_, i) => i + 1) });
    await small.settle();
    expect(c.session.tokens).toBeLessThan(before - 1);
  });

  test("across nodes: the receipt reaches the sender on the other core", async () => {
    const shared = sharedBackend(DEFAULT_OPTIONS);
    const a = new Harness({}, shared, "node1");
    const b = new Harness({}, shared, "node2");
    const bob = await b.user("bob");
    const alice = await a.user("alice");
    const sent = await alice.sendTo("bob", "across", { clientMsgId: 5 });
    await settleAll([a, b]);
    await bob.ackAll();
    await settleAll([a, b]);
    expect(receiptsOf(alice)).toEqual([
      { messageId: sent.messageId, recipient: "bob", confirmedAt: expect.any(Number), clientMsgId: 5 },
    ]);
    expect(receiptsOf(bob)).toEqual([]);
    // Confirmed on node1, gone for a login on node2.
    confirmReceipts(alice, [sent.messageId]);
    await settleAll([a, b]);
    alice.hangUp();
    const again = b.connect();
    await again.login("alice");
    await settleAll([a, b]);
    expect(receiptsOf(again)).toEqual([]);
  });
});
