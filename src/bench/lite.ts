// The load generator's own view of the wire: hand-written protobuf for the few fields the
// hot path needs, so that measuring the server does not measure a heavy client.
// Field numbers are protocol.proto's; the handshake (create, log in) uses the real codec.

import { Op, PROTOCOL_VERSION, writeVarint } from "../wire";

const VERSION = new TextEncoder().encode(PROTOCOL_VERSION);
const TAG = (field: number, wire: number) => (field << 3) | wire;

/** Fields 1 (version) and 2 (opcode, < 128) at out[p]; returns the offset after them. */
function writeHead(out: Uint8Array, p: number, opcode: number): number {
  out[p++] = TAG(1, 2);
  out[p++] = VERSION.length;
  out.set(VERSION, p);
  p += VERSION.length;
  out[p++] = TAG(2, 0);
  out[p++] = opcode;
  return p;
}

/** Upper bound of an encoded SEND frame for these sizes. */
export function sendFrameBound(to: Uint8Array, text: Uint8Array): number {
  return 5 + 3 + VERSION.length + 2 + 2 + to.length + 2 + text.length + 6 + 9;
}

/**
 * Writes a length-delimited SEND_MESSAGE request at out[at], with client_msg_id unless it is
 * 0; returns the end offset.
 */
export function writeSend(
  out: Uint8Array,
  at: number,
  requestId: number,
  to: Uint8Array,
  text: Uint8Array,
  clientMsgId = 0,
): number {
  const bodyLen =
    2 +
    VERSION.length +
    2 +
    1 +
    varintLen(to.length) +
    to.length +
    1 +
    varintLen(text.length) +
    text.length +
    1 +
    varintLen(requestId) +
    (clientMsgId ? 1 + varintLen(clientMsgId) : 0);
  let p = writeHead(out, writeVarint(out, at, bodyLen), Op.SEND_MESSAGE);
  out[p++] = TAG(4, 2);
  p = writeVarint(out, p, to.length);
  out.set(to, p);
  p += to.length;
  out[p++] = TAG(5, 2);
  p = writeVarint(out, p, text.length);
  out.set(text, p);
  p += text.length;
  out[p++] = TAG(6, 0);
  p = writeVarint(out, p, requestId);
  if (!clientMsgId) return p;
  out[p++] = TAG(8, 0);
  return writeVarint(out, p, clientMsgId);
}

/** Upper bound of an ACK frame for n ids. */
export function ackFrameBound(n: number): number {
  return 5 + 3 + VERSION.length + 2 + 1 + 5 + n * 10;
}

/** Writes a length-delimited ACK of ids[0..n) at out[at]; returns the end offset. */
export function writeAck(out: Uint8Array, at: number, ids: Float64Array, n: number): number {
  let packed = 0;
  for (let i = 0; i < n; i++) packed += varintLen(ids[i]!);
  const bodyLen = 2 + VERSION.length + 2 + 1 + varintLen(packed) + packed;
  let p = writeHead(out, writeVarint(out, at, bodyLen), Op.ACK);
  out[p++] = TAG(9, 2);
  p = writeVarint(out, p, packed);
  for (let i = 0; i < n; i++) p = writeVarint(out, p, ids[i]!);
  return p;
}

/**
 * Writes a length-delimited ACK confirming receipts ids[0..n) (receipt_ids, field 60, packed)
 * at out[at]; returns the end offset.
 */
export function writeReceiptAck(out: Uint8Array, at: number, ids: Float64Array, n: number): number {
  let packed = 0;
  for (let i = 0; i < n; i++) packed += varintLen(ids[i]!);
  const bodyLen = 2 + VERSION.length + 2 + 2 + varintLen(packed) + packed;
  let p = writeHead(out, writeVarint(out, at, bodyLen), Op.ACK);
  p = writeVarint(out, p, TAG(60, 2));
  p = writeVarint(out, p, packed);
  for (let i = 0; i < n; i++) p = writeVarint(out, p, ids[i]!);
  return p;
}

function varintLen(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** What the load generator reads from a Server2Client frame. */
export interface LiteReply {
  opcode: number;
  status: number;
  requestId: number;
  /** Per delivered message: id and [start, end) of its text within the frame buffer. */
  count: number;
  ids: Float64Array;
  textStart: Uint32Array;
  textEnd: Uint32Array;
  more: boolean;
  unread: number;
  /** RECEIPT push: the receipts' message ids. */
  receiptCount: number;
  receiptIds: Float64Array;
}

export function newLiteReply(max = 256): LiteReply {
  return {
    opcode: 0,
    status: 0,
    requestId: 0,
    count: 0,
    ids: new Float64Array(max),
    textStart: new Uint32Array(max),
    textEnd: new Uint32Array(max),
    more: false,
    unread: 0,
    receiptCount: 0,
    receiptIds: new Float64Array(max),
  };
}

/** Read position of rv(): one module-level cursor, so varint reads allocate nothing. */
let cur = 0;

/** Reads a varint (up to 2^53) at cur and advances it. */
function rv(buf: Uint8Array): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const b = buf[cur++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
}

/** Parses buf[start, end) (one frame body) into r, reusing its arrays. */
export function parseReply(buf: Uint8Array, start: number, end: number, r: LiteReply): void {
  r.opcode = 0;
  r.status = 0;
  r.requestId = 0;
  r.count = 0;
  r.more = false;
  r.unread = 0;
  r.receiptCount = 0;
  cur = start;
  while (cur < end) {
    const tag = rv(buf);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      const v = rv(buf);
      if (field === 2) r.opcode = v;
      else if (field === 4) r.status = v;
      else if (field === 5) r.requestId = v;
      else if (field === 8) r.unread = v;
      else if (field === 9) r.more = v !== 0;
    } else if (wire === 2) {
      const len = rv(buf);
      const next = cur + len;
      if (field === 6) parseMessage(buf, cur, next, r);
      else if (field === 60) parseReceiptId(buf, cur, next, r);
      cur = next;
    } else if (wire === 1) cur += 8;
    else if (wire === 5) cur += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
}

/** Reads one Message (id, text position) at buf[start, end); leaves cur at end. */
function parseMessage(buf: Uint8Array, start: number, end: number, r: LiteReply): void {
  const i = r.count;
  if (i >= r.ids.length) grow(r);
  r.ids[i] = 0;
  r.textStart[i] = 0;
  r.textEnd[i] = 0;
  cur = start;
  while (cur < end) {
    const tag = rv(buf);
    const field = tag >>> 3;
    if ((tag & 7) === 0) {
      const v = rv(buf);
      if (field === 1) r.ids[i] = v;
    } else {
      const len = rv(buf);
      if (field === 3) {
        r.textStart[i] = cur;
        r.textEnd[i] = cur + len;
      }
      cur += len;
    }
  }
  r.count++;
}

/** Reads one Receipt's message_id (field 1) at buf[start, end); leaves cur at end. */
function parseReceiptId(buf: Uint8Array, start: number, end: number, r: LiteReply): void {
  if (r.receiptCount === r.receiptIds.length) {
    const grown = new Float64Array(r.receiptIds.length * 2);
    grown.set(r.receiptIds);
    r.receiptIds = grown;
  }
  let id = 0;
  cur = start;
  while (cur < end) {
    const tag = rv(buf);
    const wire = tag & 7;
    if (wire === 0) {
      const v = rv(buf);
      if (tag >>> 3 === 1) id = v;
    } else if (wire === 2) {
      const len = rv(buf); // read first: `cur += rv(buf)` would add to the old cur
      cur += len;
    } else if (wire === 1) cur += 8;
    else if (wire === 5) cur += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
  r.receiptIds[r.receiptCount++] = id;
}

function grow(r: LiteReply): void {
  const n = r.ids.length * 2;
  const ids = new Float64Array(n);
  ids.set(r.ids);
  const ts = new Uint32Array(n);
  ts.set(r.textStart);
  const te = new Uint32Array(n);
  te.set(r.textEnd);
  r.ids = ids;
  r.textStart = ts;
  r.textEnd = te;
}

/** The length prefix at buf[p]: [length, offset of the body], or null if incomplete. */
export function framePrefix(buf: Uint8Array, p: number, end: number): [number, number] | null {
  let v = 0;
  let mul = 1;
  while (p < end) {
    const b = buf[p++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, p];
    mul *= 128;
  }
  return null;
}
