// The rules that hold across the nodes of one service, checked on cores that share one
// backend: each node is a Harness whose core shares the store, presence, signals and
// budgets of the others. cluster.test.ts runs it on the in-process implementations; a
// shared backend (Redis) runs the same contract with its own makeCluster.

import { describe, expect, test } from "bun:test";
import type { CoreOptions } from "../../src/core/options";
import type { Store } from "../../src/store/store";
import { Delivery, Op, Push, type Reply, Status } from "../../src/wire";
import { type Client, type Harness, pw } from "./helpers";

/** n nodes of one service (n >= 2), with these options on every node. */
export type MakeCluster = (
  n: number,
  overrides?: Partial<CoreOptions>,
) => Harness<Store>[] | Promise<Harness<Store>[]>;

/** Waits until no node has anything left to do. */
export async function settleAll(nodes: readonly Harness<Store>[]): Promise<void> {
  for (let rounds = 0; rounds < 100; rounds++) {
    const before = nodes.reduce((n, h) => n + h.activity, 0);
    for (const h of nodes) await h.settle();
    if (nodes.reduce((n, h) => n + h.activity, 0) === before) return;
  }
  throw new Error("the nodes never went quiet");
}

const increasing = (ids: readonly number[]) => ids.every((id, i) => i === 0 || id > ids[i - 1]!);

export function clusterContract(name: string, makeCluster: MakeCluster): void {
  describe(`cluster contract: ${name}`, () => {
    test("live delivery across nodes: pushed at once, LIVE, removed by the recipient's ACK", async () => {
      const [a, b] = await makeCluster(2);
      const bob = await b!.user("bob");
      const alice = await a!.user("alice");
      const r = await alice.sendTo("bob", "across");
      await settleAll([a!, b!]);
      expect(r).toMatchObject({ status: Status.OK, delivery: Delivery.LIVE, msg: "sent to bob" });
      expect(bob.delivered()).toMatchObject([{ id: r.messageId, sender: "alice", text: "across" }]);
      expect(await b!.pending("bob")).toBe(1);
      await bob.ackAll();
      await settleAll([a!, b!]);
      expect(await a!.pending("bob")).toBe(0);
    });

    test("order across nodes: every message, each sender's in order, ids increasing", async () => {
      const [a, b] = await makeCluster(2);
      const bob = await b!.user("bob");
      const alice = await a!.user("alice");
      const carol = await b!.user("carol");
      for (let i = 0; i < 20; i++) {
        alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `a${i}` });
        carol.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `c${i}` });
        if (i % 5 === 4) await bob.ackAll();
      }
      await settleAll([a!, b!]);
      await bob.ackAll();
      await settleAll([a!, b!]);
      const got = bob.delivered();
      expect(increasing(got.map((m) => m.id))).toBe(true);
      expect(got.filter((m) => m.sender === "alice").map((m) => m.text)).toEqual(
        Array.from({ length: 20 }, (_, i) => `a${i}`),
      );
      expect(got.filter((m) => m.sender === "carol").map((m) => m.text)).toEqual(
        Array.from({ length: 20 }, (_, i) => `c${i}`),
      );
      expect(await a!.pending("bob")).toBe(0);
    });

    test("forced logout across nodes: the old connection is told why and gets nothing more", async () => {
      const [a, b] = await makeCluster(2);
      const alice = await a!.user("alice");
      const old = await a!.user("bob", "203.0.113.1");
      const fresh = b!.connect("203.0.113.2");
      expect(await fresh.login("bob")).toMatchObject({ status: Status.OK });
      await settleAll([a!, b!]);
      expect(old.pushes(Push.LOGGED_OUT)).toMatchObject([
        { status: Status.LOGGED_IN_ELSEWHERE, msg: "logged out: bob logged in elsewhere (203.0.113.2)" },
      ]);
      expect(a!.eventsOf("forced_logout")).toMatchObject([{ account: "bob", byAddress: "203.0.113.2" }]);
      expect(await alice.sendTo("bob", "which one")).toMatchObject({ delivery: Delivery.LIVE });
      await settleAll([a!, b!]);
      expect(fresh.texts()).toEqual(["which one"]);
      expect(old.texts()).toEqual([]);
      expect(await old.sendTo("alice", "hi")).toMatchObject({ status: Status.NOT_LOGGED_IN });
    });

    test("a RESUME on another node replaces the old connection and keeps the token", async () => {
      const [a, b] = await makeCluster(2);
      const halfOpen = a!.connect();
      const { token } = await (async () => {
        await halfOpen.create("bob");
        return halfOpen.login("bob");
      })();
      const back = b!.connect();
      expect(await back.resumeWith(token)).toMatchObject({ status: Status.OK });
      await settleAll([a!, b!]);
      expect(halfOpen.pushes(Push.LOGGED_OUT)).toMatchObject([{ status: Status.LOGGED_IN_ELSEWHERE }]);
      expect(halfOpen.last().msg).toContain("bob resumed elsewhere");
      expect(await a!.connect().resumeWith(token)).toMatchObject({ status: Status.OK });
    });

    test("the offline queue is fetched on whatever node the recipient logs in to", async () => {
      const [a, b] = await makeCluster(2);
      await a!.offline("bob");
      const alice = await a!.user("alice");
      for (const text of ["one", "two", "three"]) {
        expect(await alice.sendTo("bob", text)).toMatchObject({ delivery: Delivery.QUEUED });
      }
      const bob = b!.connect();
      expect(await bob.login("bob")).toMatchObject({ status: Status.OK, unread: 3 });
      const page = await bob.check();
      expect(page.messages.map((m) => m.text)).toEqual(["one", "two", "three"]);
      await bob.ack(page.messages.map((m) => m.id));
      expect(await b!.pending("bob")).toBe(0);
    });

    test("a resend on another node after a reconnect is recognised as a duplicate", async () => {
      const [a, b] = await makeCluster(2);
      await a!.offline("bob");
      const first = await a!.user("alice");
      const stored = await first.sendTo("bob", "once", { clientMsgId: 5 });
      const again = await b!.connect();
      await again.login("alice");
      expect(await again.sendTo("bob", "once", { clientMsgId: 5 })).toMatchObject({
        status: Status.OK,
        duplicate: true,
        messageId: stored.messageId,
      });
      expect(await a!.pending("bob")).toBe(1);
    });

    test("delete on one node while another accepts messages: each is handed over first or refused", async () => {
      const [a, b] = await makeCluster(2);
      const bob = await a!.user("bob");
      const alice = await b!.user("alice");
      const sends: number[] = [];
      for (let i = 0; i < 5; i++)
        sends.push(alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `m${i}` }));
      // Accepted before the deletion starts (on a network backend, requests on two nodes
      // have no order until they are answered).
      await settleAll([a!, b!]);
      const del = bob.post({ opcode: Op.DELETE_ACCOUNT, password: pw("bob") });
      // Sends keep coming while the deletion hands over and waits for confirmations (on a
      // network backend, until the deletion is answered: its steps take round trips).
      const answered = () => bob.responses().some((r) => r.requestId === del);
      for (let i = 5; i < 40 || (i < 400 && !answered()); i++) {
        sends.push(alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `m${i}` }));
        if (i < 40) await new Promise<void>((resolve) => setImmediate(resolve));
        else await Bun.sleep(2);
        const unacked = bob.delivered().map((m) => m.id);
        if (unacked.length) bob.post({ opcode: Op.ACK, ackIds: unacked });
      }
      for (let round = 0; round < 20 && bob.responses().every((r) => r.requestId !== del); round++) {
        await settleAll([a!, b!]);
        bob.post({ opcode: Op.ACK, ackIds: bob.delivered().map((m) => m.id) });
      }
      await settleAll([a!, b!]);
      expect(bob.reply(del)).toMatchObject({ status: Status.OK });
      const handed = new Set(bob.delivered().map((m) => m.id));
      const answers: Reply[] = sends.map((id) => alice.reply(id));
      let accepted = 0;
      for (const r of answers) {
        if (r.status === Status.OK) {
          accepted++;
          expect(handed.has(r.messageId)).toBe(true);
        } else expect(r).toMatchObject({ status: Status.NO_SUCH_ACCOUNT, msg: "no account named bob" });
      }
      expect(accepted).toBeGreaterThanOrEqual(5);
      expect(accepted).toBeLessThan(answers.length);
      expect(await a!.store.findAccount("bob")).toBeNull();
      expect(await alice.sendTo("bob", "after")).toMatchObject({ status: Status.NO_SUCH_ACCOUNT });
    });

    test("LIST shows who is online on any node", async () => {
      const [a, b] = await makeCluster(2);
      const alice = await a!.user("alice");
      await a!.user("bob");
      const carol = await b!.user("carol");
      await b!.offline("dave");
      const expected = [
        { name: "alice", online: true },
        { name: "bob", online: true },
        { name: "carol", online: true },
        { name: "dave", online: false },
      ];
      expect((await alice.list("*")).accounts).toEqual(expected);
      expect((await carol.list("*")).accounts).toEqual(expected);
    });

    test("login-failure budgets are shared: guesses spread over nodes get no more tries", async () => {
      const nodes = await makeCluster(2, { loginFailuresPerAccountAddress: 4 });
      await nodes[0]!.offline("alice");
      const at = "198.51.100.7";
      for (let i = 0; i < 4; i++) {
        expect(await nodes[i % 2]!.connect(at).login("alice", `guess-${i}`)).toMatchObject({
          status: Status.BAD_CREDENTIALS,
        });
      }
      for (const h of nodes) {
        expect(await h.connect(at).login("alice")).toMatchObject({ status: Status.RATE_LIMITED });
      }
    });

    test("account-creation budgets are shared across nodes", async () => {
      const nodes = await makeCluster(2, { accountCreationsPerAddress: 2 });
      const at = "198.51.100.9";
      expect(await nodes[0]!.connect(at).create("one")).toMatchObject({ status: Status.OK });
      expect(await nodes[1]!.connect(at).create("two")).toMatchObject({ status: Status.OK });
      for (const h of nodes) {
        expect(await h.connect(at).create(`three-${h.core.node}`)).toMatchObject({
          status: Status.RATE_LIMITED,
        });
      }
    });
  });
}

export type { Client };
