import { describe, expect, test } from "bun:test";
import { FrameTooLargeError, Op, Push, Status } from "../../src/wire";
import { expectNoFrame, Harness, SERVER_VERSION } from "./helpers";

describe("connection", () => {
  test("every connection starts with a HELLO push describing the server", () => {
    const h = new Harness({ heartbeatMs: 20_000, maxPageSize: 40, maxFrameBytes: 4096 });
    const c = h.connect();
    expect(c.frames).toHaveLength(1);
    expect(c.frames[0]).toMatchObject({
      opcode: Push.HELLO,
      status: Status.OK,
      requestId: 0,
      msg: `chat server ${SERVER_VERSION}, protocol 1`,
      info: {
        serverVersion: SERVER_VERSION,
        heartbeatMs: 20_000,
        maxFrameBytes: 4096,
        maxNameChars: 25,
        maxTextChars: 100,
        minPasswordChars: 8,
        maxPageSize: 40,
      },
    });
  });

  test("HELLO announces every limit a client must honour, as configured", () => {
    const h = new Harness({
      ackTimeoutMs: 7000,
      loginTimeoutMs: 3000,
      heartbeatMisses: 4,
      deliveryWindow: 99,
      requestRate: 321,
      requestBurst: 654,
      maxSlowDowns: 12,
      maxQueuedPerAccount: 777,
      sessionTtlMs: 3_600_000,
    });
    expect(h.connect().frames[0]!.info).toMatchObject({
      ackTimeoutMs: 7000,
      loginTimeoutMs: 3000,
      heartbeatMisses: 4,
      deliveryWindow: 99,
      maxBacklogBytes: 1024 * 1024,
      maxAckIds: 10_000,
      requestRate: 321,
      requestBurst: 654,
      ackIdsPerToken: 64,
      maxSlowDowns: 12,
      maxPasswordBytes: 1024,
      maxQueuedPerAccount: 777,
      sessionTtlMs: 3_600_000,
      maxPatternChars: 64,
    });
  });

  test("HELLO's millisecond fields are uint32: a longer setting is announced as the most they hold", () => {
    const h = new Harness({ sessionTtlMs: 60 * 24 * 3_600_000 });
    expect(h.connect().frames[0]!.info!.sessionTtlMs).toBe(0xffffffff);
  });

  test("a version mismatch is answered with BAD_VERSION naming both versions, then closed", async () => {
    const h = new Harness();
    const c = h.connect();
    const r = await c.request({ opcode: Op.PING, version: "2" });
    expect(r).toMatchObject({ opcode: Op.PING, status: Status.BAD_VERSION });
    expect(r.msg).toBe('protocol version mismatch: this server speaks version "1", the client sent "2"');
    expect(c.closed).toBe(true);
    const before = c.frames.length;
    c.post({ opcode: Op.PING });
    await h.settle();
    expectNoFrame(c, before);
  });

  test("a body that is not a Client2Server message is MALFORMED_FRAME, then closed", async () => {
    const h = new Harness();
    const c = h.connect();
    // Field 1 (version) announces 5 bytes of string but only 1 follows.
    c.postRaw(new Uint8Array([0x0a, 0x05, 0x31]));
    await h.settle();
    expect(c.last()).toMatchObject({ opcode: 0, requestId: 0, status: Status.MALFORMED_FRAME });
    expect(c.last().msg).toStartWith("frame is not a valid Client2Server message");
    expect(c.closed).toBe(true);
  });

  test("a frame the decoder refuses as too large is FRAME_TOO_LARGE, then closed", () => {
    const h = new Harness();
    const c = h.connect();
    h.core.frameError(c.session, new FrameTooLargeError(70_000, 65_536));
    expect(c.last()).toMatchObject({ opcode: 0, status: Status.FRAME_TOO_LARGE });
    expect(c.last().msg).toContain("65536");
    expect(c.closed).toBe(true);
  });

  test("an unknown opcode is UNKNOWN_OPCODE and the connection stays usable", async () => {
    const h = new Harness();
    const c = h.connect();
    for (const opcode of [0, 11, 99]) {
      const r = await c.request({ opcode });
      expect(r).toMatchObject({ opcode, status: Status.UNKNOWN_OPCODE });
      expect(r.msg).toContain(`unknown opcode ${opcode}`);
    }
    expect(c.closed).toBe(false);
    expect(await c.ping()).toMatchObject({ opcode: Op.PING, status: Status.OK, msg: "pong" });
  });

  test("every response echoes the request's opcode and request id", async () => {
    const h = new Harness();
    const c = h.connect();
    const cases = [
      { opcode: Op.PING, requestId: 0 },
      { opcode: Op.CHECK_MESSAGES, requestId: 4_294_967_295 },
      { opcode: Op.LIST_ACCOUNTS, requestId: 17 },
      { opcode: Op.LOG_IN, requestId: 18, sender: "ghost", password: "whatever-pw" },
      { opcode: Op.CREATE_ACCOUNT, requestId: 19, sender: "bad name" },
      { opcode: Op.RESUME, requestId: 20 },
      { opcode: 77, requestId: 21 },
    ];
    for (const fields of cases) c.post(fields);
    await h.settle();
    expect(c.responses().map((r) => [r.opcode, r.requestId])).toEqual(
      cases.map((f) => [f.opcode, f.requestId]),
    );
  });

  test("responses keep request order while a SEND is still being stored", async () => {
    const h = new Harness();
    const alice = await h.user("alice");
    await h.offline("bob");
    const before = alice.responses().length;
    const release = h.store.hold("enqueue");
    const send = alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "first" });
    const ping = alice.post({ opcode: Op.PING });
    const bad = alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "" });
    const list = alice.post({ opcode: Op.LIST_ACCOUNTS });
    await h.settle();
    // The PING, the invalid SEND and the LIST are done, but wait for the first SEND's answer.
    expect(alice.responses().length).toBe(before);
    release();
    await h.settle();
    const order = alice.responses().slice(before);
    expect(order.map((r) => [r.opcode, r.requestId])).toEqual([
      [Op.SEND_MESSAGE, send],
      [Op.PING, ping],
      [Op.SEND_MESSAGE, bad],
      [Op.LIST_ACCOUNTS, list],
    ]);
    expect(order.map((r) => r.status)).toEqual([Status.OK, Status.OK, Status.INVALID_TEXT, Status.OK]);
  });
});
