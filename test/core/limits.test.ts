import { describe, expect, test } from "bun:test";
import { MAX_BACKLOG_BYTES } from "../../src/core/chat";
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

describe("ACKs and the request budget", () => {
  test("an ACK costs one token per 64 ids it carries, at least one", async () => {
    const h = new Harness({ requestRate: 1, requestBurst: 1000 });
    const bob = await h.user("bob");
    const before = bob.session.tokens;
    await bob.ack([1]);
    expect(before - bob.session.tokens).toBeCloseTo(1, 0);
    const mid = bob.session.tokens;
    await bob.ack(Array.from({ length: 6400 }, (_, i) => i + 1));
    expect(mid - bob.session.tokens).toBeCloseTo(100, 0);
  });

  test("a big ACK is paid in full, into debt; the requests after it wait for the debt to be repaid", async () => {
    const h = new Harness({ requestRate: 100, requestBurst: 10 });
    const bob = await h.user("bob");
    await bob.ack(Array.from({ length: 64 * 20 }, (_, i) => i + 1)); // 20 tokens, 10 in hand
    const r = await bob.ping();
    expect(r).toMatchObject({ status: Status.SLOW_DOWN });
    expect(r.retryAfterMs).toBeGreaterThan(100);
    h.clock.now += r.retryAfterMs;
    expect(await bob.ping()).toMatchObject({ status: Status.OK });
  });

  test("an ACK with no token left is refused with SLOW_DOWN, like any request", async () => {
    const h = new Harness({ requestRate: 1, requestBurst: 3 });
    const bob = await h.user("bob");
    await bob.ping();
    const r = await bob.request({ opcode: Op.ACK, ackIds: [1] });
    expect(r).toMatchObject({ opcode: Op.ACK, status: Status.SLOW_DOWN, retryAfterMs: 1000 });
  });

  test("before login an ACK is NOT_LOGGED_IN and costs by its size: a flood of them is cut off", async () => {
    const h = new Harness({ requestRate: 10, requestBurst: 2000, maxSlowDowns: 3 });
    const c = h.connect();
    const ids = new Array<number>(60_000).fill(5);
    const first = await c.request({ opcode: Op.ACK, ackIds: ids });
    expect(first).toMatchObject({ opcode: Op.ACK, status: Status.NOT_LOGGED_IN, msg: "log in first" });
    // 60,000 ids at 64 per token: 938 tokens each. The third still finds a token (and runs
    // into debt), the fourth finds none.
    for (let i = 0; i < 10 && !c.closed; i++) c.post({ opcode: Op.ACK, ackIds: ids });
    await h.settle();
    expect(c.responses().map((r) => r.status)).toEqual([
      Status.NOT_LOGGED_IN,
      Status.NOT_LOGGED_IN,
      Status.NOT_LOGGED_IN,
      Status.SLOW_DOWN,
      Status.SLOW_DOWN,
      Status.SLOW_DOWN,
      Status.SLOW_DOWN,
    ]);
    expect(c.last().msg).toBe("too many requests; disconnecting");
    expect(c.closed).toBe(true);
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

  test("CREATE_ACCOUNT then 300 PINGs at once: every one answered, in order; reading pauses, then resumes", async () => {
    const h = new Harness();
    const c = h.connect();
    const release = h.passwords.hold();
    const ids = [c.post({ opcode: Op.CREATE_ACCOUNT, sender: "alice", password: "secret-alice-pw" })];
    for (let i = 0; i < 300; i++) ids.push(c.post({ opcode: Op.PING }));
    await h.settle();
    expect(c.responses()).toEqual([]);
    expect(c.paused).toBe(true);
    release();
    await h.settle();
    expect(c.responses().map((r) => [r.requestId, r.status])).toEqual(ids.map((id) => [id, Status.OK]));
    expect(c.closed).toBe(false);
    expect(c.paused).toBe(false);
    expect(h.eventsOf("limit")).toEqual([]);
  });

  test("past maxBacklog, frames wait as bytes and still run in order, with busy ones among them", async () => {
    const h = new Harness({ maxBacklog: 2 });
    await h.offline("alice");
    const c = h.connect();
    const release = h.passwords.hold();
    const ids = [c.post({ opcode: Op.LOG_IN, sender: "alice", password: "secret-alice-pw" })];
    for (let i = 0; i < 4; i++) ids.push(c.post({ opcode: Op.PING }));
    ids.push(c.post({ opcode: Op.CHECK_MESSAGES }));
    ids.push(c.post({ opcode: Op.LIST_ACCOUNTS }));
    for (let i = 0; i < 3; i++) ids.push(c.post({ opcode: Op.PING }));
    await h.settle();
    expect(c.session.held?.length).toBe(7);
    release();
    await h.settle();
    expect(c.responses().map((r) => [r.requestId, r.status])).toEqual(ids.map((id) => [id, Status.OK]));
    expect(c.session.held).toBeNull();
    expect(c.paused).toBe(false);
  });

  test(`past ${MAX_BACKLOG_BYTES} bytes waiting: the running request is answered, then SLOW_DOWN, then closed`, async () => {
    const h = new Harness({ maxFrameBytes: 1 << 20 });
    const c = h.connect();
    const release = h.passwords.hold();
    const create = c.post({ opcode: Op.CREATE_ACCOUNT, sender: "alice", password: "secret-alice-pw" });
    const big = "x".repeat(60_000);
    let over = 0;
    for (let i = 0; i < 20 && !over; i++) {
      const id = c.post({ opcode: Op.PING, msg: big });
      if (c.session.closing) over = id;
    }
    expect(over).toBeGreaterThan(0);
    expect(h.eventsOf("limit")).toMatchObject([{ limit: "backlog" }]);
    await h.settle();
    // Nothing yet: the CREATE_ACCOUNT that runs is owed its answer first.
    expect(c.responses()).toEqual([]);
    expect(c.closed).toBe(false);
    release();
    await h.settle();
    expect(c.responses().map((r) => [r.requestId, r.status])).toEqual([
      [create, Status.OK],
      [over, Status.SLOW_DOWN],
    ]);
    expect(await h.connect().login("alice")).toMatchObject({ status: Status.OK });
    expect(c.reply(over).msg).toBe(
      "too many requests waiting; disconnecting (requests not answered before this were not run)",
    );
    expect(c.closed).toBe(true);
  });

  test("a bad frame while SENDs are being stored: their answers first, then BAD_VERSION", async () => {
    const h = new Harness();
    const alice = await h.user("alice");
    await h.user("bob");
    const release = h.store.hold("enqueue");
    const sends = [1, 2].map(() => alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "hi" }));
    const bad = alice.post({ opcode: Op.PING, version: "2" });
    await h.settle();
    expect(alice.closed).toBe(false);
    release();
    await h.settle();
    const answers = alice.responses().slice(-3);
    expect(answers.map((r) => [r.requestId, r.status])).toEqual([
      [sends[0]!, Status.OK],
      [sends[1]!, Status.OK],
      [bad, Status.BAD_VERSION],
    ]);
    expect(alice.closed).toBe(true);
  });

  test("a connection closed while a request runs waits for its answer, at most 10 s", async () => {
    const h = new Harness({ loginTimeoutMs: 1000 });
    await h.offline("alice");
    const c = h.connect();
    const release = h.passwords.hold();
    const login = c.post({ opcode: Op.LOG_IN, sender: "alice", password: "secret-alice-pw" });
    const after = c.post({ opcode: Op.PING });
    await h.advance(1000);
    expect(c.pushes(Push.LOGGED_OUT)).toMatchObject([{ status: Status.LOGIN_TIMEOUT }]);
    expect(c.closed).toBe(false);
    await h.advance(9999);
    expect(c.closed).toBe(false);
    await h.advance(1);
    expect(c.closed).toBe(true);
    release();
    await h.settle();
    expect(c.responses().map((r) => r.requestId)).not.toContain(after);
    expect(c.responses().map((r) => r.requestId)).not.toContain(login);
  });

  test("a connection closed while a LOG_IN runs: it is answered (no session begins), then closed; later frames never run", async () => {
    const h = new Harness({ loginTimeoutMs: 1000 });
    await h.offline("alice");
    const c = h.connect();
    const release = h.passwords.hold();
    const login = c.post({ opcode: Op.LOG_IN, sender: "alice", password: "secret-alice-pw" });
    const after = c.post({ opcode: Op.PING });
    await h.advance(1000);
    expect(c.closed).toBe(false);
    expect(c.paused).toBe(true);
    release();
    await h.settle();
    expect(c.responses().map((r) => [r.requestId, r.status, r.msg])).toEqual([
      [login, Status.NOT_LOGGED_IN, "the connection is closing; not logged in"],
    ]);
    expect(c.responses().map((r) => r.requestId)).not.toContain(after);
    expect(c.closed).toBe(true);
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
