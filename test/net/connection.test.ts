// The TCP connection's output over a real loopback socket: a frame sent with linger (a
// RECEIPT push) waits for the connection's next frame and goes in the same write, or is
// written on its own once MAX_LINGER_MS has passed, or at once when the connection closes.

import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import type { ChatCore } from "../../src/core/chat";
import type { Session } from "../../src/core/session";
import { AddressBudget } from "../../src/net/address-budget";
import { Connection, type ConnectionContext, MAX_LINGER_MS } from "../../src/net/connection";
import { MemoryBudget } from "../../src/net/memory";
import { decodeReply, FrameDecoder, Push, type Reply } from "../../src/wire";

/** What the core is to these tests: nothing but a session for each connection. */
const core = {
  connect: () => ({}) as Session,
  receive() {},
  frameError() {},
  disconnected() {},
  limit() {},
} as unknown as ChatCore;

interface Opened {
  conn: Connection;
  /** socket.write calls the connection made. */
  writes: () => number;
  /** Frames the client has received, decoded. */
  frames: Reply[];
  /** Resolves once the client has n frames (fails after timeoutMs). */
  until(n: number, timeoutMs?: number): Promise<void>;
  ended: Promise<void>;
}

let listener: TCPSocketListener<Connection> | null = null;
const clients: Socket[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.terminate();
  listener?.stop(true);
  listener = null;
});

async function open(): Promise<Opened> {
  const ctx: ConnectionContext = {
    core,
    decoder: new FrameDecoder(64 * 1024),
    limits: { maxFrameBytes: 64 * 1024, maxOutboundBytes: 1024 * 1024 },
    memory: new MemoryBudget(64 * 1024 * 1024),
    onGone() {},
    budget: new AddressBudget(1e9, 1e9),
  };
  let writes = 0;
  const accepted = Promise.withResolvers<Connection>();
  listener = Bun.listen<Connection>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const write = socket.write.bind(socket);
        socket.write = ((...args: Parameters<typeof socket.write>) => {
          writes++;
          return write(...args);
        }) as typeof socket.write;
        const c = new Connection(socket, ctx);
        socket.data = c;
        c.start();
        accepted.resolve(c);
      },
      data(socket, chunk) {
        socket.data.onData(chunk);
      },
      drain(socket) {
        socket.data.onDrain();
      },
      close(socket) {
        socket.data?.onClose("closed");
      },
    },
  });
  const frames: Reply[] = [];
  const decoder = new FrameDecoder(64 * 1024);
  const waiters: (() => void)[] = [];
  const ended = Promise.withResolvers<void>();
  const client = await Bun.connect({
    hostname: "127.0.0.1",
    port: listener.port,
    socket: {
      data(_socket, chunk) {
        for (const body of decoder.push(chunk)) frames.push(decodeReply(body));
        for (const w of waiters.splice(0)) w();
      },
      end() {
        ended.resolve();
      },
      close() {
        ended.resolve();
      },
    },
  });
  clients.push(client);
  const conn = await accepted.promise;
  return {
    conn,
    writes: () => writes,
    frames,
    ended: ended.promise,
    async until(n, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while (frames.length < n) {
        if (Date.now() > deadline)
          throw new Error(`${frames.length} frames, not ${n}, within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), Bun.sleep(50)]);
      }
    },
  };
}

const receipt = (messageId: number) => ({
  opcode: Push.RECEIPT,
  receipts: [{ messageId, recipient: "bob", confirmedAt: 1_767_225_600_000, clientMsgId: 0 }],
});
const answer = { opcode: 3, requestId: 7, messageId: 42, msg: "sent to bob" };

describe("connection output", () => {
  test("a lingering frame goes in the same write as the next frame, ahead of it", async () => {
    const c = await open();
    const before = c.writes();
    c.conn.send(receipt(5), true);
    await Promise.resolve();
    c.conn.send(answer);
    await c.until(2);
    expect(c.writes() - before).toBe(1);
    expect(c.frames.map((f) => f.opcode)).toEqual([Push.RECEIPT, 3]);
    expect(c.frames[0]!.receipts![0]!.messageId).toBe(5);
  });

  test("a lingering frame with nothing after it is written on its own within MAX_LINGER_MS", async () => {
    const c = await open();
    const before = c.writes();
    const sent = performance.now();
    c.conn.send(receipt(6), true);
    c.conn.send(receipt(7), true);
    await c.until(2, 1000);
    // The timer's bound, plus scheduling slack on a shared machine.
    expect(performance.now() - sent).toBeLessThan(MAX_LINGER_MS + 500);
    expect(c.writes() - before).toBe(1);
    expect(c.frames.map((f) => f.receipts![0]!.messageId)).toEqual([6, 7]);
  });

  test("closing writes lingering output at once, then ends the socket", async () => {
    const c = await open();
    c.conn.send(receipt(8), true);
    c.conn.close();
    await c.ended;
    expect(c.frames.map((f) => f.opcode)).toEqual([Push.RECEIPT]);
  });
});
