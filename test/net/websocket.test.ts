// WsConnection, the WebSocket transport's Conn, against the real core with a scripted socket:
// answers go out one message each, back-pressure pauses reading, output past the cap and
// messages held past their bound cut the client, the memory budget sees what it holds.

import { describe, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { MemoryBudget } from "../../src/net/memory";
import {
  closeReason,
  HAND_ON_BYTES,
  MAX_INBOX_BYTES,
  WsConnection,
  type WsData,
} from "../../src/net/websocket";
import { decodeReply, encodeRequest, Op, Push, Status } from "../../src/wire";
import { Harness, pw } from "../core/helpers";

class FakeWs {
  data: WsData = { address: "192.0.2.9" };
  sent: Uint8Array[] = [];
  buffered = 0;
  /** What sendBinary returns: >0 written, -1 buffered under back-pressure, 0 dropped. */
  status = 1;
  paused = false;
  pauses = 0;
  terminated = false;
  closedWith: number | null = null;
  corks = 0;
  cork<R>(fn: (ws: FakeWs) => R): R {
    this.corks++;
    return fn(this);
  }
  sendBinary(b: Uint8Array): number {
    // A copy, as Bun takes the bytes: the connection reuses its buffer.
    this.sent.push(Uint8Array.from(b));
    if (this.status === -1) this.buffered += b.length;
    return this.status === 1 ? b.length : this.status;
  }
  getBufferedAmount(): number {
    return this.buffered;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
  }
  /** Messages sent before close() was called. */
  sentBeforeClose = -1;
  close(code: number): void {
    this.closedWith = code;
    this.sentBeforeClose = this.sent.length;
  }
  terminate(): void {
    this.terminated = true;
  }
  get replies() {
    return this.sent.map((b) => decodeReply(b));
  }
}

async function setup(opts: { maxOutboundBytes?: number; budget?: number } = {}) {
  const h = new Harness();
  const ws = new FakeWs();
  const memory = new MemoryBudget(opts.budget ?? 64 * 1024 * 1024);
  let gone = 0;
  const c = new WsConnection(ws as unknown as ServerWebSocket<WsData>, {
    core: h.core,
    limits: { maxFrameBytes: 65536, maxOutboundBytes: opts.maxOutboundBytes ?? 1024 * 1024 },
    memory,
    onGone: () => gone++,
  });
  c.start();
  await settle(); // HELLO is sent
  return { h, ws, c, memory, gone: () => gone };
}

/** Messages are handed on after the turn's reads (setImmediate), answers sent after that. */
const settle = () => new Promise((r) => setTimeout(r, 0));

describe("WsConnection", () => {
  test("HELLO first; each answer is one binary message without a length prefix", async () => {
    const { ws, c } = await setup();
    expect(ws.replies[0]).toMatchObject({ opcode: Push.HELLO });
    c.onMessage(encodeRequest({ opcode: Op.PING, requestId: 5 }));
    await settle();
    expect(ws.replies.at(-1)).toMatchObject({ requestId: 5, msg: "pong" });
  });

  test("messages read in one turn are handed on together; their answers go in one cork, in order", async () => {
    const { ws, c } = await setup();
    const corks = ws.corks;
    const sent = ws.sent.length;
    // Past the 16 KiB output buffer: it grows within the turn.
    const n = 2000;
    for (let i = 1; i <= n; i++) c.onMessage(encodeRequest({ opcode: Op.PING, requestId: i }));
    expect(ws.sent.length).toBe(sent); // nothing yet: the turn's reads are not all in
    await settle();
    const answers = ws.replies.slice(1);
    expect(answers.map((r) => r.requestId)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const a of answers) expect(a.msg).toBe("pong");
    expect(ws.sent.reduce((t, b) => t + b.length, 0)).toBeGreaterThan(16 * 1024);
    expect(ws.corks - corks).toBe(1);
    expect(c.held).toBe(0);
  });

  test("a turn whose answers pass 64 KiB holds the rest until they are written, then answers them too", async () => {
    const { ws, c } = await setup();
    const n = 6000; // about 84 KiB of answers
    for (let i = 1; i <= n; i++) c.onMessage(encodeRequest({ opcode: Op.PING, requestId: i }));
    for (let i = 0; i < 10 && ws.sent.length <= n; i++) await settle();
    expect(ws.replies.slice(1).map((r) => r.requestId)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(ws.paused).toBe(false);
    expect(c.held).toBe(0);
  });

  test("messages read just before the close still reach the core (as on TCP)", async () => {
    const { h, c } = await setup();
    c.onMessage(
      encodeRequest({ opcode: Op.CREATE_ACCOUNT, requestId: 1, sender: "carol", password: pw("carol") }),
    );
    c.onClose(1000, "");
    await settle();
    await h.settle();
    expect(await h.store.findAccount("carol")).not.toBeNull();
  });

  test("close() sends the frames queued before it ahead of the close frame; nothing after", async () => {
    const { ws, c } = await setup();
    const before = ws.sent.length;
    c.send({ opcode: Push.LOGGED_OUT, status: Status.OK, msg: "bye" });
    c.close();
    expect(ws.closedWith).toBe(1000);
    expect(ws.sentBeforeClose).toBe(before + 1);
    expect(ws.replies.at(-1)).toMatchObject({ opcode: Push.LOGGED_OUT, msg: "bye" });
    c.send({ opcode: Push.HEARTBEAT });
    c.onMessage(encodeRequest({ opcode: Op.PING, requestId: 9 }));
    await settle();
    expect(ws.sent.length).toBe(before + 1);
  });

  test("a text message is MALFORMED_FRAME and closes", async () => {
    const { ws, c } = await setup();
    c.onMessage("hello");
    await settle();
    expect(ws.replies.at(-1)).toMatchObject({ status: Status.MALFORMED_FRAME });
    expect(ws.closedWith).toBe(1000);
  });

  test("output under back-pressure past 64 KiB pauses reading and is charged; a drain resumes", async () => {
    const { ws, c, memory } = await setup();
    // An answer that Bun could only buffer: past 64 KiB waiting, reading stops.
    ws.status = -1;
    ws.buffered = 64 * 1024 - 3; // the answer takes it past 64 KiB
    c.onMessage(encodeRequest({ opcode: Op.PING, requestId: 1 }));
    await settle();
    expect(ws.replies.some((r) => r.requestId === 1)).toBe(true);
    expect(ws.paused).toBe(true);
    expect(c.held).toBe(ws.buffered);
    expect(memory.total).toBe(ws.buffered);
    // A message read meanwhile is held (and charged), answered after the drain.
    const held = encodeRequest({ opcode: Op.PING, requestId: 2 });
    c.onMessage(held);
    await settle();
    expect(ws.replies.some((r) => r.requestId === 2)).toBe(false);
    expect(c.held).toBe(ws.buffered + held.length);
    ws.status = 1;
    ws.buffered = 0;
    c.onDrain();
    await settle();
    expect(ws.paused).toBe(false);
    expect(ws.replies.some((r) => r.requestId === 2)).toBe(true);
    expect(memory.total).toBe(0);
  });

  test("output past --max-output-bytes cuts the client", async () => {
    const { h, ws, c } = await setup({ maxOutboundBytes: 64 * 1024 });
    ws.buffered = 64 * 1024;
    c.onMessage(encodeRequest({ opcode: Op.PING, requestId: 1 }));
    await settle();
    expect(ws.terminated).toBe(true);
    expect(h.events.some((e) => e.type === "limit" && e.limit === "slow_consumer")).toBe(true);
  });

  test("messages read while paused are bounded: past MAX_INBOX_BYTES the client is cut", async () => {
    const { h, ws, c } = await setup();
    ws.status = -1;
    ws.buffered = 70 * 1024;
    c.onMessage(encodeRequest({ opcode: Op.PING, requestId: 1 }));
    await settle(); // answered under back-pressure: reading is paused
    expect(ws.paused).toBe(true);
    const big = encodeRequest({ opcode: Op.PING, msg: "x".repeat(60_000) });
    for (let i = 0; i < MAX_INBOX_BYTES / big.length + 2 && !ws.terminated; i++) c.onMessage(big);
    expect(ws.terminated).toBe(true);
    expect(h.events.some((e) => e.type === "limit" && e.limit === "backlog")).toBe(true);
    expect(c.held).toBe(0);
  });

  test("a turn's messages past HAND_ON_BYTES go on at once: a client that reads its answers is never cut", async () => {
    const { ws, c } = await setup();
    const big = encodeRequest({ opcode: Op.PING, requestId: 7, msg: "x".repeat(60_000) });
    const n = Math.ceil((2 * MAX_INBOX_BYTES) / big.length);
    for (let i = 0; i < n; i++) c.onMessage(big);
    expect(ws.terminated).toBe(false);
    expect(c.held).toBeLessThanOrEqual(HAND_ON_BYTES + big.length);
    await settle();
    expect(ws.replies.filter((r) => r.requestId === 7)).toHaveLength(n);
    expect(c.held).toBe(0);
  });

  test("over the memory budget the connection is shed", async () => {
    const { h, ws, c, memory } = await setup({ budget: 100 * 1024 });
    ws.status = -1;
    ws.buffered = 200 * 1024;
    c.onMessage(encodeRequest({ opcode: Op.PING, requestId: 1 }));
    await settle();
    expect(ws.terminated).toBe(true);
    expect(memory.shedCount).toBe(1);
    expect(h.events.some((e) => e.type === "limit" && e.limit === "memory")).toBe(true);
  });

  test("a close with 1009 is logged as FRAME_TOO_LARGE; the core hears of every close once", async () => {
    const { h, c, gone } = await setup();
    c.onClose(1009, "Received too big message");
    c.onClose(1000, "");
    expect(gone()).toBe(1);
    expect(h.events.filter((e) => e.type === "protocol_error")).toMatchObject([
      { status: "FRAME_TOO_LARGE" },
    ]);
    expect(h.events.filter((e) => e.type === "disconnect")).toMatchObject([
      { reason: "closed: message too big (1009)" },
    ]);
  });

  test("close reasons", () => {
    expect(closeReason(1000, "")).toBe("closed");
    expect(closeReason(1005, "")).toBe("closed");
    expect(closeReason(1006, "")).toBe("connection lost");
    expect(closeReason(4000, "bye")).toBe("closed with code 4000 (bye)");
  });
});
