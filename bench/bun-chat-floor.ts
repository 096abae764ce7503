// Chat's protocol served by Bun with nothing behind it: the floor of a light round trip for
// any server written in this runtime that speaks this protocol to a client behaving as the
// reference client does (a SEND with client_msg_id, an ACK of each delivery, an ACK of each
// receipt). It decodes and encodes with src/wire, as chat does, and keeps nothing: no store,
// no durability, no request budget, no checks, no metrics. Driven by the peer harness's chat
// driver, it shows how much of chat's light p50 is the runtime, the kernel and the protocol's
// frames, and how much is chat's own path (docs/PERFORMANCE.md, "Light"). It queues nothing:
// a message for someone offline is answered QUEUED and dropped, so it serves relay and light.
//
//   bun bench/bun-chat-floor.ts 19520 [no-receipts] &     # port 0: any free port, printed
//   (cd bench/peer && bun harness.ts --driver chat --label chat-floor --port 19520 --pid $! \
//      --workload relay --pairs 1 --window 1 --payload 64 --warmup 1 --duration 5)
//
// Loopback only; one process, no limits: a bench tool, not a server.

import type { Socket } from "bun";
import {
  decodeRequest,
  FrameDecoder,
  MAX_ACK_IDS,
  Op,
  Push,
  type ReplyInit,
  replySize,
  Status,
  writeReply,
  writeVarint,
} from "../src/wire";

const port = Number(process.argv[2] ?? 0);
/** "no-receipts": a HELLO without receipts, so the client confirms none (MQTT QoS 1's four frames). */
const receipts = process.argv[3] !== "no-receipts";
/** Chat sends a receipt with the sender's next output, or after this long (MAX_LINGER_MS). */
const LINGER_MS = 10;

interface Conn {
  decoder: FrameDecoder;
  name: string;
  out: Uint8Array;
  outLen: number;
  queued: boolean;
  lingerTimer: Timer | null;
}

const online = new Map<string, Socket<Conn>>();
/** Message id → its sender's name and client_msg_id, until the recipient confirms it. */
const unconfirmed = new Map<number, { from: string; clientMsgId: number }>();
let nextId = 0;

const dirty: Socket<Conn>[] = [];
let flushQueued = false;
function flushAll(): void {
  flushQueued = false;
  for (const s of dirty) flush(s);
  dirty.length = 0;
}

function flush(s: Socket<Conn>): void {
  const c = s.data;
  c.queued = false;
  if (c.lingerTimer) clearTimeout(c.lingerTimer);
  c.lingerTimer = null;
  if (c.outLen === 0) return;
  const n = s.write(c.out, 0, c.outLen);
  if (n < c.outLen) c.out.copyWithin(0, Math.max(0, n), c.outLen);
  c.outLen -= Math.max(0, n);
}

/** Encodes frame into s's output; written at the end of this turn, or with later output if it lingers. */
function write(s: Socket<Conn>, frame: ReplyInit, linger = false): void {
  const c = s.data;
  const size = replySize(frame);
  if (c.outLen + size + 5 > c.out.length) {
    const grown = new Uint8Array(Math.max(c.out.length * 2, c.outLen + size + 5));
    grown.set(c.out.subarray(0, c.outLen));
    c.out = grown;
  }
  c.outLen = writeReply(c.out, writeVarint(c.out, c.outLen, size), frame);
  if (c.queued) return;
  if (linger) {
    c.lingerTimer ??= setTimeout(() => flush(s), LINGER_MS);
    return;
  }
  c.queued = true;
  dirty.push(s);
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flushAll);
  }
}

const INFO = {
  serverVersion: "floor",
  heartbeatMs: 0,
  maxFrameBytes: 64 * 1024,
  maxNameChars: 25,
  maxTextChars: 100,
  minPasswordChars: 1,
  maxPageSize: 1000,
  ackTimeoutMs: 60_000,
  loginTimeoutMs: 60_000,
  heartbeatMisses: 3,
  deliveryWindow: 1024,
  maxBacklogBytes: 1 << 20,
  maxAckIds: MAX_ACK_IDS,
  requestRate: 1e9,
  requestBurst: 1e9,
  ackIdsPerToken: 64,
  maxSlowDowns: 1000,
  maxPasswordBytes: 1024,
  maxQueuedPerAccount: 1e6,
  sessionTtlMs: 0,
  maxPatternChars: 25,
  maxUnansweredSends: 1024,
  maxReceipts: receipts ? 1000 : 0,
};

function handle(s: Socket<Conn>, body: Uint8Array): void {
  const req = decodeRequest(body, MAX_ACK_IDS);
  const c = s.data;
  switch (req.opcode) {
    case Op.CREATE_ACCOUNT:
    case Op.PING:
      write(s, { opcode: req.opcode, requestId: req.requestId, status: Status.OK });
      return;
    case Op.LOG_IN:
      c.name = req.sender;
      online.set(c.name, s);
      write(s, { opcode: Op.LOG_IN, requestId: req.requestId, status: Status.OK, name: c.name });
      return;
    case Op.SEND_MESSAGE: {
      const id = ++nextId;
      const sentAt = Date.now();
      unconfirmed.set(id, { from: c.name, clientMsgId: req.clientMsgId });
      const to = online.get(req.receiver);
      if (to) write(to, { opcode: Push.DELIVER, messages: [{ id, sender: c.name, text: req.msg, sentAt }] });
      write(s, {
        opcode: Op.SEND_MESSAGE,
        requestId: req.requestId,
        messageId: id,
        sentAt,
        delivery: to ? 1 : 2,
        msg: `sent to ${req.receiver}`,
      });
      return;
    }
    case Op.ACK:
      for (const id of req.ackIds) {
        const m = unconfirmed.get(id);
        if (!m) continue;
        unconfirmed.delete(id);
        const from = receipts ? online.get(m.from) : undefined;
        if (from)
          write(
            from,
            {
              opcode: Push.RECEIPT,
              receipts: [
                { messageId: id, recipient: c.name, confirmedAt: Date.now(), clientMsgId: m.clientMsgId },
              ],
            },
            true,
          );
      }
      return;
    case Op.QUIT:
      write(s, { opcode: Op.QUIT, requestId: req.requestId, status: Status.OK });
      flush(s);
      s.end();
      return;
  }
}

const listener = Bun.listen<Conn>({
  hostname: "127.0.0.1",
  port,
  socket: {
    open(s) {
      s.data = {
        decoder: new FrameDecoder(64 * 1024),
        name: "",
        out: new Uint8Array(16 * 1024),
        outLen: 0,
        queued: false,
        lingerTimer: null,
      };
      s.setNoDelay(true);
      write(s, { opcode: Push.HELLO, info: INFO });
    },
    data(s, chunk) {
      for (const body of s.data.decoder.push(chunk)) handle(s, body);
    },
    drain(s) {
      flush(s);
    },
    close(s) {
      if (online.get(s.data.name) === s) online.delete(s.data.name);
    },
  },
});
console.error(`chat floor listening on 127.0.0.1:${listener.port}`);
