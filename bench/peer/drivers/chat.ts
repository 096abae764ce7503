// The chat server's driver, written from docs/PROTOCOL.md alone (it imports nothing of
// src/): length-delimited protobuf frames, hand-encoded into TcpConn.out and parsed in
// place, as drivers/mqtt.ts does for MQTT, so the driver costs about what that one does.
//
//   connect(user)      HELLO, CREATE_ACCOUNT (NAME_TAKEN is fine), LOG_IN; with unread
//                      messages waiting, drains them with CHECK_MESSAGES pages
//   send(to, payload)  SEND_MESSAGE with a client_msg_id, as the reference client sends;
//                      the server's answer (sent once the message is stored) is the ack
//   onDeliver          messages in DELIVER pushes (opcode 100) and CHECK pages; every id
//                      is confirmed with ACK
//   receipts           RECEIPT pushes (opcode 105): every receipt's message_id is confirmed
//                      with an ACK receipt_ids of its own, one per read, as the reference
//                      client confirms the receipts it shows
//   close()            waits (bounded) for the receipts of its accepted messages, then QUIT
//                      and half-close
//
// CHAT_MSG_IDS=0 in the environment sends no client_msg_id (the "no-msg-ids" variant).

import { TcpConn } from "./tcp";
import type { Client, ClientHandlers, ConnectOptions, Driver, DriverConfig } from "./types";

const enc = new TextEncoder();
const PASSWORD = "bench password";
const VERSION = enc.encode("1");

// Opcodes, pushes and statuses (protocol.proto).
const CREATE_ACCOUNT = 1;
const LOG_IN = 2;
const SEND_MESSAGE = 3;
const CHECK_MESSAGES = 4;
const QUIT = 7;
const ACK = 8;
const PING = 9;
const HELLO = 104;
const RECEIPT = 105;
const OK = 0;
const NAME_TAKEN = 7;

const HEX = enc.encode("0123456789abcdef");
const HEX_VALUE = new Int8Array(128).fill(0);
for (let i = 0; i < 16; i++) HEX_VALUE[HEX[i]!] = i;

/** Bytes a varint of v takes (v < 2^53). */
function varintLen(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putVarint(out: Uint8Array, p: number, v: number): number {
  while (v >= 128) {
    out[p++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}

/** Field bytes: tag + varint. */
const intField = (field: number, v: number) => (v ? varintLen(field << 3) + varintLen(v) : 0);
const bytesField = (field: number, b: Uint8Array) =>
  varintLen((field << 3) | 2) + varintLen(b.length) + b.length;

interface Reply {
  opcode: number;
  status: number;
  requestId: number;
  unread: number;
  more: boolean;
  maxPageSize: number;
  /** HELLO: ServerInfo.max_receipts (0: a server without receipts). */
  maxReceipts: number;
  /** RECEIPT: receipts in this frame, their message ids in receiptIds. */
  receiptCount: number;
  /** Message count in this frame; their ids and text positions below. */
  count: number;
}

class ChatClient implements Client {
  private nextRequest = 1;
  private nextMsgId = Math.floor(Math.random() * 2 ** 50) + 1;
  private readonly msgIds = process.env.CHAT_MSG_IDS !== "0";
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private hello: ((r: Reply) => void) | null = null;
  private readonly r: Reply = {
    opcode: 0,
    status: 0,
    requestId: 0,
    unread: 0,
    more: false,
    maxPageSize: 0,
    maxReceipts: 0,
    receiptCount: 0,
    count: 0,
  };
  private ids = new Float64Array(256);
  private textAt = new Uint32Array(256);
  private textEnd = new Uint32Array(256);
  private acks = new Float64Array(256);
  private ackN = 0;
  private receiptIds = new Float64Array(256);
  private receiptAcks = new Float64Array(256);
  private receiptAckN = 0;
  /** Receipts confirmed, and SENDs the server accepted (each makes one once delivered). */
  private receiptsConfirmed = 0;
  private accepted = 0;
  private receiptsOn = false;
  private readonly payload: Uint8Array;
  private readonly text: Uint8Array;
  private readonly toCache = new Map<string, Uint8Array>();
  /** Set while draining with CHECK_MESSAGES. */
  private checksInFlight = 0;
  private draining = false;
  maxPageSize = 1000;

  constructor(
    readonly user: string,
    private readonly h: ClientHandlers,
    readonly conn: TcpConn,
    payloadBytes: number,
  ) {
    this.payload = new Uint8Array(payloadBytes);
    this.text = new Uint8Array(Math.max(32, Math.min(100, payloadBytes))).fill(0x78);
    conn.parser = (b) => this.parse(b);
  }

  async handshake(timeoutMs: number): Promise<void> {
    const hello = await withTimeout(
      new Promise<Reply>((res) => {
        this.hello = res;
      }),
      timeoutMs,
      "HELLO",
    );
    if (hello.maxPageSize) this.maxPageSize = hello.maxPageSize;
    this.receiptsOn = hello.maxReceipts > 0;
    const created = await withTimeout(this.request(CREATE_ACCOUNT, true), timeoutMs, `CREATE ${this.user}`);
    if (created.status !== OK && created.status !== NAME_TAKEN)
      throw new Error(`CREATE_ACCOUNT ${this.user}: status ${created.status}`);
    const login = await withTimeout(this.request(LOG_IN, true), timeoutMs, `LOG_IN ${this.user}`);
    if (login.status !== OK) throw new Error(`LOG_IN ${this.user}: status ${login.status}`);
    // Waiting messages are not pushed until a new one arrives: fetch them (PROTOCOL.md §11.6).
    if (login.unread > 0) this.drain();
  }

  send(to: string, payload: Uint8Array): void {
    let receiver = this.toCache.get(to);
    if (!receiver) {
      receiver = enc.encode(to);
      this.toCache.set(to, receiver);
    }
    const text = this.text;
    const n = Math.min(16, payload.length);
    for (let i = 0; i < n; i++) {
      text[2 * i] = HEX[payload[i]! >> 4]!;
      text[2 * i + 1] = HEX[payload[i]! & 15]!;
    }
    const requestId = this.takeRequestId();
    const msgId = this.msgIds ? this.nextMsgId++ : 0;
    const body =
      bytesField(1, VERSION) +
      intField(2, SEND_MESSAGE) +
      bytesField(4, receiver) +
      bytesField(5, text) +
      intField(6, requestId) +
      intField(8, msgId);
    const c = this.conn;
    const at = c.reserve(varintLen(body) + body);
    const o = c.out;
    let p = putVarint(o, at, body);
    p = this.head(o, p, SEND_MESSAGE);
    p = putBytes(o, p, 4, receiver);
    p = putBytes(o, p, 5, text);
    p = putInt(o, p, 6, requestId);
    p = putInt(o, p, 8, msgId);
    c.commit(p - at);
  }

  ping(): Promise<void> {
    return this.request(PING, false).then(() => {});
  }

  async close(): Promise<void> {
    if (this.conn.closed) return;
    // The receipts of messages still on their way: a real client stays to confirm them.
    // Bounded: stops once none came for 300 ms (a receiver that is offline sends none).
    let last = -1;
    for (let i = 0; i < 100 && this.receiptsOn && this.receiptsConfirmed < this.accepted; i++) {
      if (this.receiptsConfirmed === last) break;
      last = this.receiptsConfirmed;
      await Bun.sleep(300);
    }
    if (this.conn.closed) return;
    this.writeSimple(QUIT, this.takeRequestId(), false);
    await this.conn.end();
  }

  // --- internal ---

  private takeRequestId(): number {
    const id = this.nextRequest;
    this.nextRequest = id === 0xffffffff ? 1 : id + 1;
    return id;
  }

  /** A request outside the hot path; resolves with its answer. */
  private request(opcode: number, credentials: boolean, pageSize = 0): Promise<Reply> {
    const requestId = this.takeRequestId();
    const answer = new Promise<Reply>((res) => this.waiting.set(requestId, res));
    this.writeSimple(opcode, requestId, credentials, pageSize);
    return answer;
  }

  private writeSimple(opcode: number, requestId: number, credentials: boolean, pageSize = 0): void {
    const user = credentials ? enc.encode(this.user) : null;
    const pw = credentials ? enc.encode(PASSWORD) : null;
    const body =
      bytesField(1, VERSION) +
      intField(2, opcode) +
      (user ? bytesField(3, user) : 0) +
      intField(6, requestId) +
      (pw ? bytesField(7, pw) : 0) +
      intField(11, pageSize);
    const c = this.conn;
    const at = c.reserve(varintLen(body) + body);
    const o = c.out;
    let p = putVarint(o, at, body);
    p = this.head(o, p, opcode);
    if (user) p = putBytes(o, p, 3, user);
    p = putInt(o, p, 6, requestId);
    if (pw) p = putBytes(o, p, 7, pw);
    p = putInt(o, p, 11, pageSize);
    c.commit(p - at);
  }

  private head(o: Uint8Array, p: number, opcode: number): number {
    p = putBytes(o, p, 1, VERSION);
    return putInt(o, p, 2, opcode);
  }

  /** Pipelined CHECK_MESSAGES, two pages in flight, until a page comes back empty. */
  private drain(): void {
    this.draining = true;
    while (this.checksInFlight < 2) {
      this.checksInFlight++;
      void this.request(CHECK_MESSAGES, false, this.maxPageSize).then((r) => {
        this.checksInFlight--;
        if (r.count === 0 && !r.more) this.draining = false;
        else if (this.draining) this.drain();
      });
    }
  }

  private parse(buf: Uint8Array): number {
    let off = 0;
    const len = buf.length;
    let acked = 0;
    for (;;) {
      // Length prefix.
      let size = 0;
      let mul = 1;
      let q = off;
      let complete = false;
      while (q < len) {
        const b = buf[q++]!;
        size += (b & 127) * mul;
        if (b < 128) {
          complete = true;
          break;
        }
        mul *= 128;
      }
      if (!complete || q + size > len) break;
      const r = this.read(buf, q, q + size);
      off = q + size;
      if (r.count) this.deliver(buf, r.count);
      if (r.opcode === RECEIPT) this.takeReceipts(r.receiptCount);
      else if (r.opcode === SEND_MESSAGE) {
        acked++;
        if (r.status === OK) this.accepted++;
      } else if (r.opcode === HELLO) {
        const h = this.hello;
        this.hello = null;
        h?.({ ...r });
      } else if (r.opcode > 0 && r.opcode < 100) {
        const w = this.waiting.get(r.requestId);
        if (w) {
          this.waiting.delete(r.requestId);
          w({ ...r });
        }
      }
    }
    if (acked) this.h.onAck(acked);
    if (this.ackN) this.writeAcks();
    if (this.receiptAckN) this.writeReceiptAcks();
    return off;
  }

  /** Reads one Server2Client body into this.r (messages into ids/textAt/textEnd). */
  private read(buf: Uint8Array, start: number, end: number): Reply {
    const r = this.r;
    r.opcode = 0;
    r.status = OK;
    r.requestId = 0;
    r.unread = 0;
    r.more = false;
    r.maxPageSize = 0;
    r.maxReceipts = 0;
    r.receiptCount = 0;
    r.count = 0;
    cur = start;
    while (cur < end) {
      const tag = readVarint(buf);
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (wire === 0) {
        const v = readVarint(buf);
        if (field === 2) r.opcode = v;
        else if (field === 4) r.status = v;
        else if (field === 5) r.requestId = v;
        else if (field === 8) r.unread = v;
        else if (field === 9) r.more = v !== 0;
      } else if (wire === 2) {
        const n = readVarint(buf);
        const next = cur + n;
        if (field === 6) this.readMessage(buf, cur, next);
        else if (field === 18) readInfo(buf, cur, next, r);
        else if (field === 60) this.readReceipt(buf, cur, next);
        cur = next;
      } else if (wire === 1) cur += 8;
      else if (wire === 5) cur += 4;
      else throw new Error(`chat driver: unexpected wire type ${wire}`);
    }
    return r;
  }

  private readMessage(buf: Uint8Array, start: number, end: number): void {
    const i = this.r.count;
    if (i === this.ids.length) this.grow();
    this.ids[i] = 0;
    this.textAt[i] = 0;
    this.textEnd[i] = 0;
    cur = start;
    while (cur < end) {
      const tag = readVarint(buf);
      if ((tag & 7) === 0) {
        const v = readVarint(buf);
        if (tag >> 3 === 1) this.ids[i] = v;
      } else {
        const n = readVarint(buf);
        if (tag >> 3 === 3) {
          this.textAt[i] = cur;
          this.textEnd[i] = cur + n;
        }
        cur += n;
      }
    }
    this.r.count++;
  }

  /** One Receipt: its message_id (field 1) into receiptIds; leaves cur at end. */
  private readReceipt(buf: Uint8Array, start: number, end: number): void {
    const i = this.r.receiptCount;
    if (i === this.receiptIds.length) {
      const grown = new Float64Array(i * 2);
      grown.set(this.receiptIds);
      this.receiptIds = grown;
    }
    let id = 0;
    cur = start;
    while (cur < end) {
      const tag = readVarint(buf);
      const wire = tag & 7;
      if (wire === 0) {
        const v = readVarint(buf);
        if (tag >> 3 === 1) id = v;
      } else if (wire === 2) {
        const n = readVarint(buf); // read first: `cur += readVarint(buf)` would add to the old cur
        cur += n;
      } else if (wire === 1) cur += 8;
      else if (wire === 5) cur += 4;
      else throw new Error(`chat driver: unexpected wire type ${wire}`);
    }
    this.receiptIds[i] = id;
    this.r.receiptCount++;
  }

  private takeReceipts(count: number): void {
    const need = this.receiptAckN + count;
    if (need > this.receiptAcks.length) {
      const grown = new Float64Array(Math.max(need, this.receiptAcks.length * 2));
      grown.set(this.receiptAcks.subarray(0, this.receiptAckN));
      this.receiptAcks = grown;
    }
    this.receiptAcks.set(this.receiptIds.subarray(0, count), this.receiptAckN);
    this.receiptAckN = need;
  }

  /** One ACK frame confirming every receipt of this read (receipt_ids, field 60, packed). */
  private writeReceiptAcks(): void {
    let packed = 0;
    for (let i = 0; i < this.receiptAckN; i++) packed += varintLen(this.receiptAcks[i]!);
    const tag = (60 << 3) | 2;
    const body = bytesField(1, VERSION) + intField(2, ACK) + varintLen(tag) + varintLen(packed) + packed;
    const c = this.conn;
    const at = c.reserve(varintLen(body) + body);
    const o = c.out;
    let p = putVarint(o, at, body);
    p = this.head(o, p, ACK);
    p = putVarint(o, p, tag);
    p = putVarint(o, p, packed);
    for (let i = 0; i < this.receiptAckN; i++) p = putVarint(o, p, this.receiptAcks[i]!);
    c.commit(p - at);
    this.receiptsConfirmed += this.receiptAckN;
    this.receiptAckN = 0;
  }

  private deliver(buf: Uint8Array, count: number): void {
    const payload = this.payload;
    for (let i = 0; i < count; i++) {
      if (this.ackN === this.acks.length) {
        const grown = new Float64Array(this.acks.length * 2);
        grown.set(this.acks);
        this.acks = grown;
      }
      this.acks[this.ackN++] = this.ids[i]!;
      const at = this.textAt[i]!;
      const n = Math.min(16, (this.textEnd[i]! - at) >> 1, payload.length);
      for (let k = 0; k < n; k++)
        payload[k] = (HEX_VALUE[buf[at + 2 * k]!]! << 4) | HEX_VALUE[buf[at + 2 * k + 1]!]!;
      this.h.onDeliver(payload);
    }
  }

  /** One ACK frame with every id delivered in this read (field 9, packed). */
  private writeAcks(): void {
    let packed = 0;
    for (let i = 0; i < this.ackN; i++) packed += varintLen(this.acks[i]!);
    const body = bytesField(1, VERSION) + intField(2, ACK) + 1 + varintLen(packed) + packed;
    const c = this.conn;
    const at = c.reserve(varintLen(body) + body);
    const o = c.out;
    let p = putVarint(o, at, body);
    p = this.head(o, p, ACK);
    o[p++] = (9 << 3) | 2;
    p = putVarint(o, p, packed);
    for (let i = 0; i < this.ackN; i++) p = putVarint(o, p, this.acks[i]!);
    c.commit(p - at);
    this.ackN = 0;
  }

  private grow(): void {
    const n = this.ids.length * 2;
    const ids = new Float64Array(n);
    ids.set(this.ids);
    const a = new Uint32Array(n);
    a.set(this.textAt);
    const e = new Uint32Array(n);
    e.set(this.textEnd);
    this.ids = ids;
    this.textAt = a;
    this.textEnd = e;
  }
}

/** Read position of readVarint: module-level, so parsing allocates nothing. */
let cur = 0;

function readVarint(buf: Uint8Array): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = buf[cur++]!;
    v += (b & 127) * mul;
    if (b < 128) return v;
    mul *= 128;
  }
}

/** ServerInfo.max_page_size (field 7) and max_receipts (60) from the HELLO's info into r; leaves cur at end. */
function readInfo(buf: Uint8Array, start: number, end: number, r: Reply): void {
  cur = start;
  while (cur < end) {
    const tag = readVarint(buf);
    if ((tag & 7) === 0) {
      const v = readVarint(buf);
      if (tag >> 3 === 7) r.maxPageSize = v;
      else if (tag >> 3 === 60) r.maxReceipts = v;
    } else {
      const n = readVarint(buf);
      cur += n;
    }
  }
}

function putInt(o: Uint8Array, p: number, field: number, v: number): number {
  if (!v) return p;
  p = putVarint(o, p, field << 3);
  return putVarint(o, p, v);
}

function putBytes(o: Uint8Array, p: number, field: number, b: Uint8Array): number {
  p = putVarint(o, p, (field << 3) | 2);
  p = putVarint(o, p, b.length);
  o.set(b, p);
  return p + b.length;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`timeout waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        res(v);
      },
      (e) => {
        clearTimeout(t);
        rej(e);
      },
    );
  });
}

export function chatDriver(cfg: DriverConfig): Driver {
  return {
    name: "chat",
    async connect(user: string, h: ClientHandlers, opts: ConnectOptions): Promise<Client> {
      // Every chat account keeps its queue while offline: `persistent` needs nothing more.
      const timeoutMs = opts.timeoutMs ?? 10000;
      const conn = await TcpConn.open(cfg.host, cfg.port, (b) => b.length, timeoutMs);
      const client = new ChatClient(user, h, conn, cfg.payloadBytes);
      conn.onClose = (err) => h.onClose?.(err);
      try {
        await client.handshake(timeoutMs);
      } catch (e) {
        try {
          conn.sock?.terminate();
        } catch {}
        throw e;
      }
      return client;
    },
  };
}
