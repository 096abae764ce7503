// The hand-written reply encoder against protobufjs: random frames must decode, with the
// protocol's own schema, to exactly what was written, and replySize must be exact.

import { describe, expect, test } from "bun:test";
import { type ReplyInit, replySize, utf8Length, writeReply } from "../../src/wire";
import { Server2Client } from "../../src/wire/schema";

function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const SAMPLES = [
  "",
  "a",
  "héllo",
  "日本語",
  "😀 emoji",
  "x".repeat(100),
  "\n\t",
  "\ud800 lone",
  "mixed ß ü 🎉 z",
  // Either side of the length up to which ASCII strings are copied by a loop.
  "y".repeat(64),
  "z".repeat(65),
  `${"a".repeat(63)}é`,
];

function randomFrame(r: () => number): ReplyInit {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const maybe = <T>(v: T): T | undefined => (r() < 0.5 ? v : undefined);
  const int = (max: number) => Math.floor(r() * max);
  const frame: ReplyInit = { opcode: pick([0, 1, 3, 4, 6, 100, 101, 104, -1]) };
  const fields: Partial<ReplyInit> = {
    version: maybe(pick(["1", "2", ""])),
    msg: maybe(pick(SAMPLES)),
    status: maybe(int(30)),
    requestId: maybe(pick([0, 1, 127, 128, 2 ** 32 - 1])),
    messages: maybe(
      Array.from({ length: int(4) }, () => ({
        id: pick([0, 1, 300, 2 ** 40 + 5, 2 ** 53 - 1]),
        sender: pick(SAMPLES),
        text: pick(SAMPLES),
        sentAt: pick([0, Date.now(), -5]),
      })),
    ),
    accounts: maybe(Array.from({ length: int(3) }, () => ({ name: pick(SAMPLES), online: r() < 0.5 }))),
    unread: maybe(int(100000)),
    more: maybe(r() < 0.5),
    messageId: maybe(pick([0, 5, 2 ** 50])),
    sentAt: maybe(pick([0, Date.now()])),
    delivery: maybe(int(3)),
    retryAfterMs: maybe(int(70000)),
    name: maybe(pick(SAMPLES)),
    token: maybe(pick(SAMPLES)),
    duplicate: maybe(r() < 0.5),
    nextCursor: maybe(pick(SAMPLES)),
    receipts: maybe(
      Array.from({ length: int(3) }, () => ({
        messageId: pick([0, 1, 300, 2 ** 53 - 1]),
        recipient: pick(SAMPLES),
        confirmedAt: pick([0, Date.now()]),
        clientMsgId: pick([0, 7, 2 ** 40]),
      })),
    ),
  };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) (frame as Record<string, unknown>)[k] = v;
  if (r() < 0.3) {
    frame.info = {
      serverVersion: pick(SAMPLES),
      heartbeatMs: int(60000),
      maxFrameBytes: 65536,
      maxNameChars: 25,
      maxTextChars: 100,
      minPasswordChars: int(20),
      maxPageSize: 100,
      ackTimeoutMs: int(100_000),
      loginTimeoutMs: int(100_000),
      heartbeatMisses: int(10),
      deliveryWindow: int(100_000),
      maxBacklogBytes: 1 << 20,
      maxAckIds: int(20_000),
      requestRate: int(1_000_000),
      requestBurst: int(1_000_000),
      ackIdsPerToken: int(100),
      maxSlowDowns: int(200),
      maxPasswordBytes: 1024,
      maxQueuedPerAccount: int(100_000),
      sessionTtlMs: 0xffffffff,
      maxPatternChars: int(100),
      maxUnansweredSends: int(10000),
      maxReceipts: int(10000),
    };
  }
  return frame;
}

/** What a decoder sees: proto3 defaults for absent fields, lone surrogates as U+FFFD. */
function expected(f: ReplyInit) {
  const t = (s: string | undefined) =>
    (s ?? "").replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
  return {
    version: f.version ?? "1",
    opcode: f.opcode,
    msg: t(f.msg),
    status: f.status ?? 0,
    requestId: f.requestId ?? 0,
    messages: (f.messages ?? []).map((m) => ({
      id: m.id,
      sender: t(m.sender),
      text: t(m.text),
      sentAt: m.sentAt,
    })),
    accounts: (f.accounts ?? []).map((a) => ({ name: t(a.name), online: a.online })),
    unread: f.unread ?? 0,
    more: f.more ?? false,
    messageId: f.messageId ?? 0,
    sentAt: f.sentAt ?? 0,
    delivery: f.delivery ?? 0,
    retryAfterMs: f.retryAfterMs ?? 0,
    name: t(f.name),
    token: t(f.token),
    duplicate: f.duplicate ?? false,
    nextCursor: t(f.nextCursor),
    info: f.info ? { ...f.info, serverVersion: t(f.info.serverVersion) } : null,
    receipts: (f.receipts ?? []).map((x) => ({ ...x, recipient: t(x.recipient) })),
  };
}

function decoded(bytes: Uint8Array) {
  const o = Server2Client.toObject(Server2Client.decode(bytes), { defaults: true, arrays: true }) as Record<
    string,
    unknown
  >;
  return { ...o, info: o.info ?? null };
}

describe("writeReply", () => {
  test("random frames decode with protobufjs to what was written, and replySize is exact", () => {
    const r = prng(7);
    for (let i = 0; i < 3000; i++) {
      const frame = randomFrame(r);
      const size = replySize(frame);
      const out = new Uint8Array(size + 8).fill(0xee);
      const end = writeReply(out, 3, frame);
      expect(end - 3).toBe(size);
      expect(out[end]).toBe(0xee);
      expect(decoded(out.subarray(3, end))).toEqual(expected(frame));
    }
  });

  test("the same bytes as protobufjs for a typical DELIVER push and SEND answer", () => {
    const deliver: ReplyInit = {
      opcode: 100,
      messages: [{ id: 42, sender: "alice", text: "hi ✓", sentAt: 1_700_000_000_000 }],
    };
    const answer: ReplyInit = {
      opcode: 3,
      requestId: 9,
      messageId: 42,
      sentAt: 1_700_000_000_000,
      delivery: 1,
      msg: "sent to bob",
    };
    for (const f of [deliver, answer]) {
      const out = new Uint8Array(replySize(f));
      writeReply(out, 0, f);
      expect([...out]).toEqual([...Server2Client.encode({ version: "1", ...f }).finish()]);
    }
  });

  test("lengths measured for one frame are never used for another: writeReply alone, or after replySize of a different frame", () => {
    const r = prng(11);
    for (let i = 0; i < 500; i++) {
      const a = randomFrame(r);
      const b = randomFrame(r);
      const want = new Uint8Array(replySize(a));
      writeReply(want, 0, a);
      replySize(b); // measured b last: writing a must measure a again
      const got = new Uint8Array(want.length);
      expect(writeReply(got, 0, a)).toBe(want.length);
      expect([...got]).toEqual([...want]);
      // Written twice without measuring in between: the same bytes.
      expect(writeReply(got.fill(0), 0, a)).toBe(want.length);
      expect([...got]).toEqual([...want]);
    }
  });

  test("utf8Length agrees with TextEncoder", () => {
    for (const s of SAMPLES) expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
  });
});
