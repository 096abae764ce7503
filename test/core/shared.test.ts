// The pieces several nodes share, and the ordering helper: InOrder, LocalPresence,
// LocalSignals, and how a core renews presence leases.

import { describe, expect, test } from "bun:test";
import { InOrder } from "../../src/core/in-order";
import { DEFAULT_OPTIONS } from "../../src/core/options";
import { LocalPresence } from "../../src/core/presence";
import { LocalSignals, type Signal } from "../../src/core/signals";
import { StorageError } from "../../src/store/store";
import { Push } from "../../src/wire";
import { Harness, sharedBackend } from "./helpers";

describe("InOrder", () => {
  test("acts in ticket order whatever order the work finishes in", () => {
    const order = new InOrder(() => {});
    const seen: number[] = [];
    const tickets = [1, 2, 3, 4].map(() => order.ticket());
    for (const t of [3, 1, 4, 2]) order.done(tickets[t - 1]!, () => seen.push(t));
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(order.outstanding).toBe(0);
  });

  test("a callback that throws is reported and does not hold back the later ones", () => {
    const errors: unknown[] = [];
    const order = new InOrder((e) => errors.push(e));
    const seen: number[] = [];
    const a = order.ticket();
    const b = order.ticket();
    order.done(b, () => seen.push(2));
    order.done(a, () => {
      throw new Error("boom");
    });
    expect(seen).toEqual([2]);
    expect(errors).toHaveLength(1);
  });
});

describe("LocalPresence", () => {
  test("a claim answers the holder it replaced; a stale release leaves the newer claim", async () => {
    const p = new LocalPresence();
    const a = { node: "n1", session: 1 };
    const b = { node: "n2", session: 7 };
    expect(await p.claim(42, a)).toBeNull();
    expect(await p.claim(42, b)).toEqual(a);
    await p.release(42, a);
    expect(await p.holder(42)).toEqual(b);
    expect(p.holderNow(42)).toEqual(b);
    expect(await p.online([42, 43])).toEqual([true, false]);
    await p.release(42, b);
    expect(await p.holder(42)).toBeNull();
    expect(p.holderNow(42)).toBeNull();
    expect(p.leaseMs).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("LocalSignals", () => {
  test("a signal reaches its node before send returns; a broadcast reaches every node", () => {
    const bus = new LocalSignals();
    const got: [string, Signal][] = [];
    const off1 = bus.subscribe("n1", (s) => got.push(["n1", s]));
    expect(bus.inOrder).toBe(true);
    bus.subscribe("n2", (s) => got.push(["n2", s]));
    expect(bus.inOrder).toBe(false);
    const deleting: Signal = { type: "deleting", key: "bob", on: true };
    bus.send("n2", deleting);
    expect(got).toEqual([["n2", deleting]]);
    bus.broadcast(deleting);
    expect(got.map(([n]) => n)).toEqual(["n2", "n1", "n2"]);
    expect(() => bus.subscribe("n1", () => {})).toThrow("node n1 is already subscribed");
    off1();
    bus.send("n1", deleting);
    expect(got).toHaveLength(3);
  });
});

describe("presence leases", () => {
  test("a node renews its claims a few times per lease; infinite leases are never renewed", async () => {
    class LeasedPresence extends LocalPresence {
      override readonly leaseMs = 3000;
      renewals: string[] = [];
      override async renew(node: string) {
        this.renewals.push(node);
        return false;
      }
    }
    const shared = sharedBackend(DEFAULT_OPTIONS, null);
    const leased = new LeasedPresence();
    shared.presence = leased;
    const h = new Harness({}, shared, "n7");
    await h.user("bob");
    await h.advance(900);
    expect(leased.renewals).toEqual([]);
    await h.advance(100);
    expect(leased.renewals).toEqual(["n7"]);
    await h.advance(1000);
    expect(leased.renewals).toEqual(["n7", "n7"]);
    expect(await leased.holder((await h.store.findAccount("bob"))!.id)).toMatchObject({ node: "n7" });
  });
});

describe("presence leases that cannot be renewed", () => {
  test("a failing renewal is logged once per outage; a lapsed lease makes the node resync", async () => {
    class FlakyPresence extends LocalPresence {
      override readonly leaseMs = 3000;
      failing = true;
      lapsed = false;
      override async renew(_node: string) {
        if (this.failing) throw new StorageError("the message store (Redis) is unavailable (down)");
        return this.lapsed;
      }
    }
    const shared = sharedBackend(DEFAULT_OPTIONS, null);
    const flaky = new FlakyPresence();
    shared.presence = flaky;
    const h = new Harness({}, shared, "n8");
    const bob = await h.user("bob");
    for (let i = 0; i < 4; i++) await h.advance(1000);
    expect(h.eventsOf("storage_error").map((e) => e.detail)).toEqual([
      "renewing presence leases: the message store (Redis) is unavailable (down)",
    ]);
    // Back, and the lease had run out meanwhile: a message stored behind the bus is pushed.
    flaky.failing = false;
    flaky.lapsed = true;
    const alice = await h.user("alice");
    const a = (await h.store.findAccount("alice"))!;
    await h.store.enqueue({
      senderId: a.id,
      senderName: "alice",
      recipientKey: "bob",
      text: "missed",
      sentAt: h.clock.now,
      clientMsgId: 0,
    });
    expect(bob.texts()).toEqual([]);
    await h.advance(1000);
    expect(bob.texts()).toEqual(["missed"]);
    expect(alice.pushes(Push.LOGGED_OUT)).toEqual([]);
  });
});

describe("one server goes through the same interfaces", () => {
  test("live delivery and forced logout are signals, and logins are presence claims, on one node too", async () => {
    class SpySignals extends LocalSignals {
      sent: Signal["type"][] = [];
      override send(node: string, signal: Signal) {
        this.sent.push(signal.type);
        super.send(node, signal);
      }
    }
    const shared = sharedBackend(DEFAULT_OPTIONS, null);
    const spy = new SpySignals();
    shared.signals = spy;
    const h = new Harness({}, shared, "only");
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "hi");
    expect(spy.sent).toEqual(["deliver"]);
    expect(bob.texts()).toEqual(["hi"]);
    await h.connect().login("bob");
    expect(spy.sent).toEqual(["deliver", "force_logout"]);
    expect(bob.pushes(Push.LOGGED_OUT)).toHaveLength(1);
    const bobId = (await h.store.findAccount("bob"))!.id;
    expect(await shared.presence.holder(bobId)).toMatchObject({ node: "only" });
  });
});
