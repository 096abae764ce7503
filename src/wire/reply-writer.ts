// A Server2Client encoder that writes straight into a connection's output buffer: no
// intermediate objects or buffers per frame. It produces the same bytes protobufjs
// would for these messages (field order, proto3 defaults left out), which
// test/wire/reply-writer.test.ts checks on random frames. Field numbers: protocol.proto.

import type { ReplyInit, ServerInfo, WireAccount, WireMessage, WireReceipt } from "./messages";
import { PROTOCOL_VERSION } from "./protocol";
import { varintSize, writeVarint } from "./varint";

const LEN = 2;
const VARINT = 0;
const tag = (field: number, wire: number) => (field << 3) | wire;

/** UTF-8 length of s (lone surrogates count as U+FFFD, as TextEncoder writes them). */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** Buffer's native UTF-8 writer is several times faster than a loop here. */
function asBuffer(out: Uint8Array): Buffer {
  return Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Varint size of an int32/enum/int64 value: negative numbers take 10 bytes, as in protobuf. */
function intSize(v: number): number {
  return v < 0 ? 10 : varintSize(v);
}

function writeInt(out: Uint8Array, at: number, v: number): number {
  if (v >= 0) return writeVarint(out, at, v);
  // Two's complement over 64 bits, 10 bytes.
  let lo = v >>> 0;
  let hi = Math.floor(v / 2 ** 32) >>> 0;
  for (let i = 0; i < 9; i++) {
    out[at++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[at++] = lo & 1;
  return at;
}

/** Fields 1-15 have one-byte tags, 16-2047 two. */
const tagSize = (field: number) => (field < 16 ? 1 : 2);

/**
 * The UTF-8 lengths (and nested message sizes) replySize measured, in the order writeReply
 * needs them again: measuring a string is a pass over it, and a DELIVER's text was measured
 * three times per frame. Filled only inside replySize, for the frame in `measured`.
 */
const sizes: number[] = [];
let recording = false;
let measured: ReplyInit | null = null;
let nextSize = 0;

const strSize = (field: number, s: string | undefined) => {
  if (!s) return 0;
  const n = utf8Length(s);
  if (recording) sizes.push(n);
  return tagSize(field) + varintSize(n) + n;
};
const intField = (field: number, v: number | undefined) => (v ? tagSize(field) + intSize(v) : 0);
const boolField = (field: number, v: boolean | undefined) => (v ? tagSize(field) + 1 : 0);

function messageSize(m: WireMessage): number {
  return intField(1, m.id) + strSize(2, m.sender) + strSize(3, m.text) + intField(4, m.sentAt);
}

/** Bytes one message adds to a reply's `messages` (tag and length included). */
export function messageFieldSize(m: WireMessage): number {
  const k = messageSize(m);
  return 1 + varintSize(k) + k;
}

/** Bytes one account adds to a reply's `accounts`. */
export function accountFieldSize(a: WireAccount): number {
  const k = accountSize(a);
  return 1 + varintSize(k) + k;
}

function receiptSize(r: WireReceipt): number {
  return (
    intField(1, r.messageId) +
    strSize(2, r.recipient) +
    intField(3, r.confirmedAt) +
    intField(4, r.clientMsgId)
  );
}

/** Bytes one receipt adds to a reply's `receipts` (field 60: a two-byte tag). */
export function receiptFieldSize(r: WireReceipt): number {
  const k = receiptSize(r);
  return 2 + varintSize(k) + k;
}

function accountSize(a: WireAccount): number {
  return strSize(1, a.name) + boolField(2, a.online);
}

function infoSize(i: ServerInfo): number {
  return (
    strSize(1, i.serverVersion) +
    intField(2, i.heartbeatMs) +
    intField(3, i.maxFrameBytes) +
    intField(4, i.maxNameChars) +
    intField(5, i.maxTextChars) +
    intField(6, i.minPasswordChars) +
    intField(7, i.maxPageSize) +
    intField(8, i.ackTimeoutMs) +
    intField(9, i.loginTimeoutMs) +
    intField(10, i.heartbeatMisses) +
    intField(11, i.deliveryWindow) +
    intField(12, i.maxBacklogBytes) +
    intField(13, i.maxAckIds) +
    intField(14, i.requestRate) +
    intField(15, i.requestBurst) +
    intField(16, i.ackIdsPerToken) +
    intField(17, i.maxSlowDowns) +
    intField(18, i.maxPasswordBytes) +
    intField(19, i.maxQueuedPerAccount) +
    intField(20, i.sessionTtlMs) +
    intField(21, i.maxPatternChars) +
    intField(45, i.maxUnansweredSends) +
    intField(60, i.maxReceipts)
  );
}

/** Encoded size of the frame body (without the length prefix). */
export function replySize(r: ReplyInit): number {
  sizes.length = 0;
  recording = true;
  try {
    return measure(r);
  } finally {
    recording = false;
    measured = r;
  }
}

function measure(r: ReplyInit): number {
  let n =
    (r.version === undefined ? VERSION_FIELD.length : strSize(1, r.version)) +
    intField(2, r.opcode) +
    strSize(3, r.msg) +
    intField(4, r.status) +
    intField(5, r.requestId);
  if (r.messages) n += measureMessages(r.messages);
  if (r.accounts) n += measureAccounts(r.accounts);
  n += measureAnswer(r);
  if (r.info) {
    const k = infoSize(r.info);
    sizes.push(k);
    n += 2 + varintSize(k) + k;
  }
  if (r.receipts) n += measureReceipts(r.receipts);
  return n;
}

// One loop per kind rather than one taking a size function: each call site stays
// monomorphic, so the JIT compiles each small and inlines its size.
function measureMessages(messages: readonly WireMessage[]): number {
  let n = 0;
  for (let i = 0; i < messages.length; i++) {
    const k = messageSize(messages[i]!);
    sizes.push(k);
    n += 1 + varintSize(k) + k;
  }
  return n;
}

function measureAccounts(accounts: readonly WireAccount[]): number {
  let n = 0;
  for (let i = 0; i < accounts.length; i++) {
    const k = accountSize(accounts[i]!);
    sizes.push(k);
    n += 1 + varintSize(k) + k;
  }
  return n;
}

function measureReceipts(receipts: readonly WireReceipt[]): number {
  let n = 0;
  for (let i = 0; i < receipts.length; i++) {
    const k = receiptSize(receipts[i]!);
    sizes.push(k);
    n += 2 + varintSize(k) + k;
  }
  return n;
}

/** Fields 8-17: a request's answer. */
function measureAnswer(r: ReplyInit): number {
  return (
    intField(8, r.unread) +
    boolField(9, r.more) +
    intField(10, r.messageId) +
    intField(11, r.sentAt) +
    intField(12, r.delivery) +
    intField(13, r.retryAfterMs) +
    strSize(14, r.name) +
    strSize(15, r.token) +
    boolField(16, r.duplicate) +
    strSize(17, r.nextCursor)
  );
}

function putTag(out: Uint8Array, at: number, field: number, wire: number): number {
  const t = tag(field, wire);
  if (t < 0x80) {
    out[at] = t;
    return at + 1;
  }
  return writeVarint(out, at, t);
}

/**
 * Strings up to this long whose UTF-8 length equals their length (all ASCII) are copied by
 * a loop: for short strings Buffer.write's native call costs several times the copy.
 */
const LOOP_WRITE_CHARS = 64;

function putStr(out: Buffer, at: number, field: number, s: string | undefined): number {
  if (!s) return at;
  at = putTag(out, at, field, LEN);
  const n = sizes[nextSize++]!;
  at = writeVarint(out, at, n);
  if (n === s.length && n <= LOOP_WRITE_CHARS) {
    for (let i = 0; i < n; i++) out[at + i] = s.charCodeAt(i);
    return at + n;
  }
  return at + out.write(s, at, "utf8");
}

/** Field 1 (version) as every reply carries it: measured and encoded once. */
const VERSION_FIELD = (() => {
  const v = Buffer.from(PROTOCOL_VERSION, "utf8");
  return Uint8Array.of(tag(1, LEN), v.length, ...v);
})();

function putInt(out: Uint8Array, at: number, field: number, v: number | undefined): number {
  if (!v) return at;
  at = putTag(out, at, field, VARINT);
  return writeInt(out, at, v);
}

function putBool(out: Uint8Array, at: number, field: number, v: boolean | undefined): number {
  if (!v) return at;
  at = putTag(out, at, field, VARINT);
  out[at++] = 1;
  return at;
}

/** Writes the frame body at out[at]; returns the end. out must have replySize(r) bytes free. */
export function writeReply(target: Uint8Array, at: number, r: ReplyInit): number {
  // The lengths replySize measured, if it was last called for this frame (as send does).
  if (measured !== r) replySize(r);
  nextSize = 0;
  const out = asBuffer(target);
  if (r.version === undefined) {
    for (let i = 0; i < VERSION_FIELD.length; i++) out[at++] = VERSION_FIELD[i]!;
  } else at = putStr(out, at, 1, r.version);
  at = putInt(out, at, 2, r.opcode);
  at = putStr(out, at, 3, r.msg);
  at = putInt(out, at, 4, r.status);
  at = putInt(out, at, 5, r.requestId);
  if (r.messages) at = putMessages(out, at, r.messages);
  if (r.accounts) at = putAccounts(out, at, r.accounts);
  at = putAnswer(out, at, r);
  if (r.info) at = putInfo(out, at, r.info);
  if (r.receipts) at = putReceipts(out, at, r.receipts);
  measured = null;
  return at;
}

function putMessages(out: Buffer, at: number, messages: readonly WireMessage[]): number {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    // measure() recorded the message's strings, then its size.
    const strings = (m.sender ? 1 : 0) + (m.text ? 1 : 0);
    out[at++] = tag(6, LEN);
    at = writeVarint(out, at, sizes[nextSize + strings]!);
    at = putInt(out, at, 1, m.id);
    at = putStr(out, at, 2, m.sender);
    at = putStr(out, at, 3, m.text);
    at = putInt(out, at, 4, m.sentAt);
    nextSize++;
  }
  return at;
}

function putAccounts(out: Buffer, at: number, accounts: readonly WireAccount[]): number {
  for (let i = 0; i < accounts.length; i++) {
    const a = accounts[i]!;
    out[at++] = tag(7, LEN);
    at = writeVarint(out, at, sizes[nextSize + (a.name ? 1 : 0)]!);
    at = putStr(out, at, 1, a.name);
    at = putBool(out, at, 2, a.online);
    nextSize++;
  }
  return at;
}

function putAnswer(out: Buffer, at: number, r: ReplyInit): number {
  at = putInt(out, at, 8, r.unread);
  at = putBool(out, at, 9, r.more);
  at = putInt(out, at, 10, r.messageId);
  at = putInt(out, at, 11, r.sentAt);
  at = putInt(out, at, 12, r.delivery);
  at = putInt(out, at, 13, r.retryAfterMs);
  at = putStr(out, at, 14, r.name);
  at = putStr(out, at, 15, r.token);
  at = putBool(out, at, 16, r.duplicate);
  return putStr(out, at, 17, r.nextCursor);
}

function putInfo(out: Buffer, at: number, i: ServerInfo): number {
  at = putTag(out, at, 18, LEN);
  at = writeVarint(out, at, sizes[nextSize + (i.serverVersion ? 1 : 0)]!);
  at = putStr(out, at, 1, i.serverVersion);
  nextSize++;
  at = putInt(out, at, 2, i.heartbeatMs);
  at = putInt(out, at, 3, i.maxFrameBytes);
  at = putInt(out, at, 4, i.maxNameChars);
  at = putInt(out, at, 5, i.maxTextChars);
  at = putInt(out, at, 6, i.minPasswordChars);
  at = putInt(out, at, 7, i.maxPageSize);
  at = putInt(out, at, 8, i.ackTimeoutMs);
  at = putInt(out, at, 9, i.loginTimeoutMs);
  at = putInt(out, at, 10, i.heartbeatMisses);
  at = putInt(out, at, 11, i.deliveryWindow);
  at = putInt(out, at, 12, i.maxBacklogBytes);
  at = putInt(out, at, 13, i.maxAckIds);
  at = putInt(out, at, 14, i.requestRate);
  at = putInt(out, at, 15, i.requestBurst);
  at = putInt(out, at, 16, i.ackIdsPerToken);
  at = putInt(out, at, 17, i.maxSlowDowns);
  at = putInt(out, at, 18, i.maxPasswordBytes);
  at = putInt(out, at, 19, i.maxQueuedPerAccount);
  at = putInt(out, at, 20, i.sessionTtlMs);
  at = putInt(out, at, 21, i.maxPatternChars);
  at = putInt(out, at, 45, i.maxUnansweredSends);
  return putInt(out, at, 60, i.maxReceipts);
}

function putReceipts(out: Buffer, at: number, receipts: readonly WireReceipt[]): number {
  for (let i = 0; i < receipts.length; i++) {
    const x = receipts[i]!;
    // measure() recorded the receipt's string, then its size.
    at = putTag(out, at, 60, LEN);
    at = writeVarint(out, at, sizes[nextSize + (x.recipient ? 1 : 0)]!);
    at = putInt(out, at, 1, x.messageId);
    at = putStr(out, at, 2, x.recipient);
    at = putInt(out, at, 3, x.confirmedAt);
    at = putInt(out, at, 4, x.clientMsgId);
    nextSize++;
  }
  return at;
}
