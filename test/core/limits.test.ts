import { describe, expect, test } from "bun:test";
import { Op, Push, Status } from "../../src/wire";
import { expectNoFrame, Harness } from "./helpers";

describe("request rate", () => {
  test("past the burst: SLOW_DOWN with retryAfterMs; the budget refills with time", async () => {
    const h = new Harness({ requestRate: 1, requestBurst: 3 });
    const c = h.connect();
    for (let i = 0; i < 3; i++) expect(await c.ping()).toMatchObject({ status: Status.OK });
    const r = await c.ping();
    expect(r).toMatchObject({ opcode: Op.PING, status: Status.SLOW_DOWN, retryAfterMs: 1000 });
    expect(r.msg).toBe("too many requests; slow down (try again in 1000 ms)");
    expect(c.closed).toBe(false);
    h.clock.now += 1000;
    expect(await c.ping()).toMatchObject({ status: Status.OK });
  });

  test("more than maxSlowDowns warnings in a row: disconnected", async () => {
    const h = new Harness({ requestRate: 1, requestBurst: 1, maxSlowDowns: 2 });
    const c = h.connect();
    await c.ping();
    expect(await c.ping()).toMatchObject({ status: Status.SLOW_DOWN });
    expect(await c.ping()).toMatchObject({ status: Status.SLOW_DOWN });
    expect(c.closed).toBe(false);
    expect(await c.ping()).toMatchObject({
      status: Status.SLOW_DOWN,
      msg: "too many requests; disconnecting",
    });
    expect(c.closed).toBe(true);
    expect(h.eventsOf("limit").map((e) => e.limit)).toEqual(["request_rate", "request_rate"]);
  });

  test("an ACK over the request rate is not silently lost", async () => {
    const h = new Harness({ requestRate: 1, requestBurst: 3 });
    const bob = await h.user("bob");
    await (await h.user("alice")).sendTo("bob", "hi");
    await bob.ping(); // bob's third request: the bucket is empty now
    const id = bob.post({ opcode: Op.ACK, ackIds: bob.delivered().map((m) => m.id) });
    await h.settle();
    // Either the confirmation is applied, or the client is told to send it again.
    const outcome = {
      confirmed: (await h.pending("bob")) === 0,
      toldToSlowDown: bob.responses().some((r) => r.requestId === id && r.status === Status.SLOW_DOWN),
    };
    expect(outcome).not.toEqual({ confirmed: false, toldToSlowDown: false });
  });
});

describe("backlog behind a slow request", () => {
  test("requests queued behind a pending one are answered in order once it finishes", async () => {
    const h = new Harness({ maxBacklog: 40 });
    await h.offline("alice");
    const c = h.connect();
    const release = h.passwords.hold();
    const ids = [c.post({ opcode: Op.LOG_IN, sender: "alice", password: "secret-alice-pw" })];
    for (let i = 0; i < 32; i++) ids.push(c.post({ opcode: Op.PING }));
    await h.settle();
    expect(c.responses()).toEqual([]);
    expect(c.paused).toBe(true);
    release();
    await h.settle();
    expect(c.responses().map((r) => [r.requestId, r.status])).toEqual(ids.map((id) => [id, Status.OK]));
    expect(c.paused).toBe(false);
  });

  test("past maxBacklog waiting requests: SLOW_DOWN and disconnected", async () => {
    const h = new Harness({ maxBacklog: 3 });
    await h.offline("alice");
    const c = h.connect();
    const release = h.passwords.hold();
    c.post({ opcode: Op.LOG_IN, sender: "alice", password: "secret-alice-pw" });
    for (let i = 0; i < 3; i++) c.post({ opcode: Op.PING });
    await h.settle();
    expect(c.closed).toBe(false);
    const over = c.post({ opcode: Op.PING });
    await h.settle();
    expect(c.reply(over)).toMatchObject({
      status: Status.SLOW_DOWN,
      msg: "too many requests waiting; wait for answers",
    });
    expect(c.closed).toBe(true);
    expect(h.eventsOf("limit")).toMatchObject([{ limit: "backlog" }]);
    release();
    await h.settle();
    expect(c.responses()).toHaveLength(1);
  });
});

describe("timers", () => {
  test("a connection not logged in within loginTimeoutMs gets LOGIN_TIMEOUT and is closed", async () => {
    const h = new Harness({ loginTimeoutMs: 10_000 });
    const anonymous = h.connect();
    const alice = await h.user("alice");
    await h.advance(9_999);
    await anonymous.ping();
    expect(anonymous.closed).toBe(false);
    await h.advance(1);
    expect(anonymous.last()).toMatchObject({
      opcode: Push.LOGGED_OUT,
      status: Status.LOGIN_TIMEOUT,
      msg: "closing: no login within 10 s",
    });
    expect(anonymous.closed).toBe(true);
    expect(alice.closed).toBe(false);
  });

  test("after heartbeatMs of server silence, a HEARTBEAT push", async () => {
    const h = new Harness({ heartbeatMs: 15_000 });
    const alice = await h.user("alice");
    const before = alice.frames.length;
    await h.advance(14_999);
    expectNoFrame(alice, before);
    await h.advance(1);
    expect(alice.frames.slice(before)).toMatchObject([
      { opcode: Push.HEARTBEAT, status: Status.OK, requestId: 0 },
    ]);
    await h.advance(10_000);
    expect(alice.frames).toHaveLength(before + 1);
  });

  test("nothing heard for heartbeatMs × heartbeatMisses: HEARTBEAT_TIMEOUT, closed, dead_peer", async () => {
    const h = new Harness({ heartbeatMs: 15_000, heartbeatMisses: 3 });
    const silent = await h.user("alice");
    const chatty = await h.user("bob");
    for (let i = 0; i < 3; i++) {
      await chatty.ping();
      await h.advance(15_000);
    }
    expect(silent.pushes(Push.HEARTBEAT)).toHaveLength(2);
    expect(silent.last()).toMatchObject({
      opcode: Push.LOGGED_OUT,
      status: Status.HEARTBEAT_TIMEOUT,
      msg: "nothing heard for 45 s; closing",
    });
    expect(silent.closed).toBe(true);
    expect(chatty.closed).toBe(false);
    expect(h.eventsOf("dead_peer")).toMatchObject([
      { account: "alice", address: silent.address, silentMs: 45_000 },
    ]);
  });

  test("shutdown() sends SHUTDOWN to everyone and closes them; later requests are refused", async () => {
    const h = new Harness();
    const anonymous = h.connect();
    const alice = await h.user("alice");
    h.core.shutdown();
    for (const c of [anonymous, alice]) {
      expect(c.last()).toMatchObject({
        opcode: Push.SHUTDOWN,
        status: Status.SHUTTING_DOWN,
        msg: "the server is shutting down; try again later",
      });
      expect(c.closed).toBe(true);
    }
    const late = h.connect();
    expect(await late.ping()).toMatchObject({ status: Status.SHUTTING_DOWN });
  });
});
