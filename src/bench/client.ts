// A lean protocol client for load generation: frames written into one buffer per
// connection and flushed once per event-loop turn, replies parsed in place, deliveries
// confirmed with one ACK per read, and so are delivery receipts (RECEIPT pushes), as the
// real client confirms each one it shows. It logs in like any client, then sends and receives,
// over TCP or WebSocket (src/bench/transport.ts).

import {
  decodeReply,
  encodeFrame,
  encodeRequest,
  Op,
  Push,
  type Reply,
  type RequestInit,
  Status,
} from "../wire";
import {
  ackFrameBound,
  newLiteReply,
  parseReply,
  sendFrameBound,
  writeAck,
  writeReceiptAck,
  writeSend,
} from "./lite";
import { openTcp, openWs, type Transport, type Wire } from "./transport";

export interface BenchHandlers {
  /** A delivered message; its text is buf[start, end), valid only during the call. */
  onDeliver(buf: Uint8Array, start: number, end: number): void;
  /** n SEND answers arrived (accepted, or refused: counted in `refused`). */
  onAck(n: number): void;
  /** n delivery receipts were confirmed (ACK receipt_ids). */
  onReceipts?(n: number): void;
  onClose?(error?: Error): void;
}

/** Process-wide I/O counts: syscalls per message tell whether the generator is the limit. */
export const ioStats = { reads: 0, writes: 0 };

const dirty: BenchClient[] = [];
let flushQueued = false;
function flushAll(): void {
  flushQueued = false;
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

const enc = new TextEncoder();

export class BenchClient {
  private sock!: Wire;
  private out = new Uint8Array(16 * 1024);
  private outLen = 0;
  private blocked = false;
  private queued = false;
  private carry: Uint8Array | null = null;
  private readonly reply = newLiteReply();
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  private acks = new Float64Array(1024);
  private ackN = 0;
  /** Receipt ids of this read's RECEIPT pushes, confirmed in one ACK after it. */
  private receiptAcks = new Float64Array(256);
  private receiptAckN = 0;
  /** Receipts confirmed so far (repeats included). */
  receiptsConfirmed = 0;
  /** WebSocket: SEND answers counted since the last batch, and whether one is scheduled. */
  private ackedN = 0;
  private batchQueued = false;
  private closeWaiters: (() => void)[] = [];
  closed = false;
  /** The largest CHECK page the server allows (from HELLO). */
  maxPageSize = 100;
  /** Receipts the server keeps per account (from HELLO); 0: a server without receipts. */
  maxReceipts = 0;
  /** SEND answers that were not OK, by status. */
  readonly refused = new Map<number, number>();
  /**
   * Give every SEND a client_msg_id, as the real client does (the server then remembers it
   * to recognise a resend). Ids count up from a random start, so runs against one
   * long-running server never reuse an account's recent ids.
   */
  msgIds = true;
  private nextMsgId = Math.floor(Math.random() * 2 ** 50) + 1;
  /** Set by the owner: deliveries and acks go here. */
  handlers: BenchHandlers = { onDeliver() {}, onAck() {} };

  static async open(
    host: string,
    port: number,
    timeoutMs = 30_000,
    transport: Transport = "tcp",
  ): Promise<BenchClient> {
    const c = new BenchClient();
    let timer: Timer | undefined;
    const hello = new Promise<Reply>((resolve) => c.waiting.set(0, resolve));
    const events = {
      data: (d: Uint8Array) => c.onData(d),
      message: (body: Uint8Array) => c.onMessage(body),
      drain: () => {
        c.blocked = false;
        c.flush();
      },
      closed: (e?: Error) => c.onClosed(e),
    };
    const socket = await Promise.race([
      transport === "ws" ? openWs(host, port, events) : openTcp(host, port, events),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`connect to ${host}:${port} timed out`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    c.sock = socket;
    const first = await hello;
    if (first.opcode !== Push.HELLO) throw new Error(`refused: ${first.msg}`);
    c.maxPageSize = first.info?.maxPageSize || 100;
    c.maxReceipts = first.info?.maxReceipts ?? 0;
    return c;
  }

  /** Creates the account (a taken name is fine) and logs in. */
  async login(user: string, password: string, create: boolean): Promise<void> {
    if (create) {
      const r = await this.request({ opcode: Op.CREATE_ACCOUNT, sender: user, password });
      if (r.status !== Status.OK && r.status !== Status.NAME_TAKEN)
        throw new Error(`create ${user}: ${r.msg}`);
    }
    const r = await this.request({ opcode: Op.LOG_IN, sender: user, password });
    if (r.status !== Status.OK) throw new Error(`log in ${user}: ${r.msg}`);
  }

  /** A request outside the hot path, decoded with the real codec. */
  request(init: RequestInit): Promise<Reply> {
    const requestId = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(requestId, resolve);
      this.write(encodeFrame(encodeRequest({ ...init, requestId })));
    });
  }

  /** Queues one SEND; its answer arrives through handlers.onAck. */
  send(to: Uint8Array, text: Uint8Array): void {
    const at = this.reserve(sendFrameBound(to, text));
    this.commit(writeSend(this.out, at, this.nextId++, to, text, this.msgIds ? this.nextMsgId++ : 0));
  }

  ping(): Promise<void> {
    return this.request({ opcode: Op.PING }).then(() => {});
  }

  close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.flush();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sock.terminate();
        resolve();
      }, timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.sock.end();
    });
  }

  // --- internal ---

  private write(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length);
    this.out.set(bytes, at);
    this.commit(at + bytes.length);
  }

  private reserve(n: number): number {
    if (this.outLen + n > this.out.length) {
      const grown = new Uint8Array(Math.max(this.out.length * 2, this.outLen + n));
      grown.set(this.out.subarray(0, this.outLen));
      this.out = grown;
    }
    return this.outLen;
  }

  private commit(end: number): void {
    this.outLen = end;
    if (!this.queued) {
      this.queued = true;
      dirty.push(this);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flushAll);
      }
    }
  }

  flush(): void {
    this.queued = false;
    if (this.outLen === 0 || this.blocked || this.closed) return;
    const n = this.sock.write(this.out.subarray(0, this.outLen));
    ioStats.writes++;
    if (n < 0) return;
    if (n < this.outLen) {
      this.out.copyWithin(0, n, this.outLen);
      this.outLen -= n;
      this.blocked = true;
    } else {
      this.outLen = 0;
    }
  }

  private onData(chunk: Uint8Array): void {
    ioStats.reads++;
    let buf = chunk;
    if (this.carry) {
      buf = new Uint8Array(this.carry.length + chunk.length);
      buf.set(this.carry);
      buf.set(chunk, this.carry.length);
      this.carry = null;
    }
    let p = 0;
    let acked = 0;
    const end = buf.length;
    for (;;) {
      // Length prefix, inline: no allocation per frame.
      let len = 0;
      let mul = 1;
      let q = p;
      let complete = false;
      while (q < end) {
        const b = buf[q++]!;
        len += (b & 0x7f) * mul;
        if (b < 0x80) {
          complete = true;
          break;
        }
        mul *= 128;
      }
      if (!complete || q + len > end) break;
      if (this.frame(buf, q, q + len)) acked++;
      p = q + len;
    }
    if (p < end) this.carry = buf.slice(p);
    this.afterRead(acked);
  }

  /**
   * One WebSocket message: one frame. Answers and deliveries are batched over the
   * event-loop turn, as a TCP read batches them: one onAck call, one ACK frame.
   */
  private onMessage(body: Uint8Array): void {
    ioStats.reads++;
    if (this.frame(body, 0, body.length)) this.ackedN++;
    if (!this.batchQueued) {
      this.batchQueued = true;
      queueMicrotask(() => {
        this.batchQueued = false;
        const n = this.ackedN;
        this.ackedN = 0;
        this.afterRead(n);
      });
    }
  }

  /** Handles the frame body buf[start, end); true if it answered a hot-path SEND. */
  private frame(buf: Uint8Array, start: number, end: number): boolean {
    const r = this.reply;
    parseReply(buf, start, end, r);
    if (r.opcode === Op.SEND_MESSAGE && !this.waiting.has(r.requestId)) {
      if (r.status !== Status.OK) this.refused.set(r.status, (this.refused.get(r.status) ?? 0) + 1);
      return true;
    }
    if (r.count) this.deliver(buf, r);
    if (r.receiptCount) this.takeReceipts(r);
    const resolve = this.waiting.get(r.opcode === Push.HELLO ? 0 : r.requestId);
    if (resolve && (r.opcode < 100 || r.opcode === Push.HELLO)) {
      this.waiting.delete(r.opcode === Push.HELLO ? 0 : r.requestId);
      resolve(decodeReply(buf.subarray(start, end)));
    }
    return false;
  }

  /** After a read: report the answers, confirm the deliveries in one ACK. */
  private afterRead(acked: number): void {
    if (acked) this.handlers.onAck(acked);
    if (this.ackN) {
      const at = this.reserve(ackFrameBound(this.ackN));
      this.commit(writeAck(this.out, at, this.acks, this.ackN));
      this.ackN = 0;
    }
    // Receipts in an ACK of their own, as the terminal client confirms them (src/client/connection.ts).
    if (this.receiptAckN) {
      const n = this.receiptAckN;
      const at = this.reserve(ackFrameBound(n) + 1);
      this.commit(writeReceiptAck(this.out, at, this.receiptAcks, n));
      this.receiptAckN = 0;
      this.receiptsConfirmed += n;
      this.handlers.onReceipts?.(n);
    }
  }

  private takeReceipts(r: ReturnType<typeof newLiteReply>): void {
    const need = this.receiptAckN + r.receiptCount;
    if (need > this.receiptAcks.length) {
      const grown = new Float64Array(Math.max(need, this.receiptAcks.length * 2));
      grown.set(this.receiptAcks.subarray(0, this.receiptAckN));
      this.receiptAcks = grown;
    }
    this.receiptAcks.set(r.receiptIds.subarray(0, r.receiptCount), this.receiptAckN);
    this.receiptAckN = need;
  }

  private deliver(buf: Uint8Array, r: ReturnType<typeof newLiteReply>): void {
    for (let i = 0; i < r.count; i++) {
      if (this.ackN === this.acks.length) {
        const grown = new Float64Array(this.acks.length * 2);
        grown.set(this.acks);
        this.acks = grown;
      }
      this.acks[this.ackN++] = r.ids[i]!;
      this.handlers.onDeliver(buf, r.textStart[i]!, r.textEnd[i]!);
    }
  }

  private onClosed(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose?.(error);
    for (const w of this.closeWaiters) w();
    this.closeWaiters = [];
  }
}

export const utf8 = (s: string) => enc.encode(s);
