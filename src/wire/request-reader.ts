// A Client2Server decoder for the server's hot path: one object per request and the
// strings, nothing else. It accepts what protobufjs accepts for this message, except
// the long-deprecated group wire types, and rejects truncated data, over-long varints and
// invalid UTF-8; test/wire/request-reader.test.ts compares the two on random input.
// Two differences by design: a uint64 of 2^53 or more, which no double holds exactly, reads
// as UNSAFE_ID (-1) instead of a rounded number that could equal another id; and ACK ids
// past the caller's cap are skipped, not decoded, so a frame packed with ids costs the
// server no more than the cap. Field numbers: protocol.proto.

import { ProtocolError } from "./errors";
import type { Request } from "./messages";
import { MAX_ACK_IDS } from "./protocol";

/** What a client_msg_id or ACK id of 2^53 or more reads as: no double holds it exactly. */
export const UNSAFE_ID = -1;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The id lists of a request without ids (most requests): one shared, frozen empty array, so
 * a SEND allocates none; the reader gives a request its own list at its first id.
 */
const NO_IDS: number[] = Object.freeze([]) as unknown as number[];

/** Read position, module-level so that reading a varint allocates nothing. */
let pos = 0;
let end = 0;
let buf: Buffer;

function fail(detail: string): never {
  throw new ProtocolError(`frame is not a valid Client2Server message (${detail})`);
}

/** An unsigned varint up to 2^64 (exact up to 2^53), as protobufjs reads uint64 into a number. */
function varint(): number {
  let lo = 0;
  let hi = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) fail("truncated varint");
    const b = buf[pos++]!;
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (shift - 32);
    if (b < 0x80) return (hi >>> 0) * 0x100000000 + (lo >>> 0);
  }
  return fail("varint longer than 10 bytes");
}

/** An unsigned varint as an exact number, or UNSAFE_ID when it is 2^53 or more. */
function uint53(): number {
  let lo = 0;
  let hi = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) fail("truncated varint");
    const b = buf[pos++]!;
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (shift - 32);
    if (b < 0x80) {
      hi >>>= 0;
      return hi >= 0x200000 ? UNSAFE_ID : hi * 0x100000000 + (lo >>> 0);
    }
  }
  return fail("varint longer than 10 bytes");
}

/** The low 32 bits of a varint as a signed int32 (protobuf's int32 on the wire). */
function int32(): number {
  let lo = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) fail("truncated varint");
    const b = buf[pos++]!;
    if (shift < 32) lo |= (b & 0x7f) << shift;
    if (b < 0x80) return lo | 0;
  }
  return fail("varint longer than 10 bytes");
}

function length(): number {
  const n = varint();
  if (n > end - pos) fail(`field of ${n} bytes runs past the end of the message`);
  return n;
}

function string(): string {
  return readAt(length());
}

/** The n bytes at pos as a string (n already checked against the end). */
function readAt(n: number): string {
  const start = pos;
  pos += n;
  for (let i = start; i < pos; i++) {
    if (buf[i]! >= 0x80) {
      try {
        return utf8.decode(buf.subarray(start, pos));
      } catch {
        return fail("a string field is not valid UTF-8");
      }
    }
  }
  // ASCII: every byte is its own character, and Buffer's latin1 decoding is native.
  return n === 0 ? "" : buf.toString("latin1", start, pos);
}

/**
 * The last short string read for each of the fields that repeat from request to request
 * (version, names): the same bytes again give the same string without a native call.
 */
const SHORT = 32;
class Recent {
  bytes = new Uint8Array(SHORT);
  length = -1;
  value = "";
}
const recentVersion = new Recent();
const recentName = new Recent();

function repeated(recent: Recent): string {
  const n = length();
  if (n > SHORT || n === 0) return readAt(n);
  const start = pos;
  if (n === recent.length) {
    const bytes = recent.bytes;
    let i = 0;
    while (i < n && buf[start + i] === bytes[i]) i++;
    if (i === n) {
      pos += n;
      return recent.value;
    }
  }
  const value = readAt(n);
  recent.bytes.set(buf.subarray(start, start + n));
  recent.length = n;
  recent.value = value;
  return value;
}

function skip(wire: number): void {
  if (wire === 0) varint();
  else if (wire === 1) pos += 8;
  else if (wire === 2) {
    const n = length();
    pos += n;
  } else if (wire === 5) pos += 4;
  else fail(`wire type ${wire} is not used by this protocol`);
  if (pos > end) fail("truncated field");
}

/**
 * Decodes one request body. At most maxAckIds ACK ids are decoded; the rest are skipped
 * and counted in ackIdsSkipped (a packed run is skipped whole, counting a byte per id).
 */
export function readRequest(body: Uint8Array, maxAckIds = MAX_ACK_IDS): Request {
  buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  pos = 0;
  end = body.length;
  const r: Request & { receiptIds: number[]; receiptIdsSkipped: number } = {
    version: "",
    opcode: 0,
    sender: "",
    receiver: "",
    msg: "",
    requestId: 0,
    password: "",
    clientMsgId: 0,
    ackIds: NO_IDS,
    ackIdsSkipped: 0,
    token: "",
    pageSize: 0,
    cursor: "",
    receiptIds: NO_IDS,
    receiptIdsSkipped: 0,
  };
  while (pos < end) {
    const tag = varint();
    if (tag > 0xffffffff) fail("a field tag over 32 bits");
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) fail("field number 0");
    switch (field) {
      case 1:
        if (wire !== 2) break;
        r.version = repeated(recentVersion);
        continue;
      case 2:
        if (wire !== 0) break;
        r.opcode = int32();
        continue;
      case 3:
        if (wire !== 2) break;
        r.sender = repeated(recentName);
        continue;
      case 4:
        if (wire !== 2) break;
        r.receiver = repeated(recentName);
        continue;
      case 5:
        if (wire !== 2) break;
        r.msg = string();
        continue;
      case 6:
        if (wire !== 0) break;
        r.requestId = int32() >>> 0;
        continue;
      case 7:
        if (wire !== 2) break;
        r.password = string();
        continue;
      case 8:
        if (wire !== 0) break;
        r.clientMsgId = uint53();
        continue;
      case 9:
        if (readAckIds(r, wire, maxAckIds)) continue;
        break;
      case 10:
        if (wire !== 2) break;
        r.token = string();
        continue;
      case 11:
        if (wire !== 0) break;
        r.pageSize = int32() >>> 0;
        continue;
      case 12:
        if (wire !== 2) break;
        r.cursor = string();
        continue;
      case 60:
        if (wire === 0 || wire === 2) {
          readReceiptIds(r, wire, maxAckIds);
          continue;
        }
        break;
    }
    // Unknown fields, and known ones with an unexpected wire type, are skipped.
    skip(wire);
  }
  return r;
}

/**
 * Field 9 (ack_ids), packed or not: past the cap, skipped unread and counted (a packed run
 * counts each remaining byte as one id, its upper bound). False for another wire type.
 */
function readAckIds(r: Request, wire: number, maxAckIds: number): boolean {
  if (r.ackIds === NO_IDS) r.ackIds = [];
  if (wire === 2) {
    const n = length();
    const stop = pos + n;
    const outer = end;
    end = stop;
    while (pos < end && r.ackIds.length < maxAckIds) r.ackIds.push(uint53());
    end = outer;
    r.ackIdsSkipped += stop - pos;
    pos = stop;
    return true;
  }
  if (wire !== 0) return false;
  if (r.ackIds.length < maxAckIds) r.ackIds.push(uint53());
  else {
    varint();
    r.ackIdsSkipped++;
  }
  return true;
}

/** Field 60 (receipt_ids), packed or not: capped like ack_ids, the rest skipped and counted. */
function readReceiptIds(
  r: Request & { receiptIds: number[]; receiptIdsSkipped: number },
  wire: number,
  maxAckIds: number,
): void {
  if (r.receiptIds === NO_IDS) r.receiptIds = [];
  const room = () => r.receiptIds.length < maxAckIds;
  if (wire === 0) {
    if (room()) r.receiptIds.push(uint53());
    else {
      varint();
      r.receiptIdsSkipped++;
    }
    return;
  }
  const n = length();
  const stop = pos + n;
  const outer = end;
  end = stop;
  while (pos < end && room()) r.receiptIds.push(uint53());
  end = outer;
  r.receiptIdsSkipped += stop - pos;
  pos = stop;
}
