import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import protobuf from "protobufjs";
import { DEFAULT_OPTIONS } from "../../src/core/options";
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  type Reply,
  type ReplyInit,
  type Request,
  type RequestInit,
} from "../../src/wire/codec";
import { ProtocolError } from "../../src/wire/errors";
import { encodeFrame, FrameDecoder } from "../../src/wire/frame";
import { Delivery, Op, PROTOCOL_VERSION, Push, Status } from "../../src/wire/protocol";
import { root } from "../../src/wire/schema";

// --- helpers ---

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));

/** mulberry32: a tiny seeded PRNG, so every run sees the same "random" inputs. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const REQUEST_DEFAULTS: Request = {
  version: "",
  opcode: 0,
  sender: "",
  receiver: "",
  msg: "",
  requestId: 0,
  password: "",
  clientMsgId: 0,
  ackIds: [],
  ackIdsSkipped: 0,
  token: "",
  pageSize: 0,
  cursor: "",
};

const REPLY_DEFAULTS: Reply = {
  version: "",
  opcode: 0,
  msg: "",
  status: 0,
  requestId: 0,
  messages: [],
  accounts: [],
  unread: 0,
  more: false,
  messageId: 0,
  sentAt: 0,
  delivery: 0,
  retryAfterMs: 0,
  name: "",
  token: "",
  duplicate: false,
  nextCursor: "",
  info: null,
};

/** Every field of the typed interface, read as callers read it (defaults included). */
function plainRequest(r: Request): Request {
  return Object.fromEntries(
    Object.keys(REQUEST_DEFAULTS).map((k) => [k, r[k as keyof Request]]),
  ) as unknown as Request;
}

const pick = <T extends object>(o: T, keys: (keyof T)[]): T =>
  Object.fromEntries(keys.map((k) => [k, o[k]])) as T;

function plainReply(r: Reply): Reply {
  const out = Object.fromEntries(
    Object.keys(REPLY_DEFAULTS).map((k) => [k, r[k as keyof Reply]]),
  ) as unknown as Reply;
  out.messages = r.messages.map((m) => pick(m, ["id", "sender", "text", "sentAt"]));
  out.accounts = r.accounts.map((a) => pick(a, ["name", "online"]));
  if (r.info) out.info = pick(r.info, Object.keys(FULL_INFO) as (keyof typeof FULL_INFO)[]);
  return out;
}

const FULL_INFO = {
  serverVersion: "1.2.3",
  heartbeatMs: 15000,
  maxFrameBytes: 65536,
  maxNameChars: 25,
  maxTextChars: 100,
  minPasswordChars: 8,
  maxPageSize: 500,
  ackTimeoutMs: 10_000,
  loginTimeoutMs: 10_000,
  heartbeatMisses: 3,
  deliveryWindow: 256,
  maxBacklogBytes: 1 << 20,
  maxAckIds: 10_000,
  requestRate: 20_000,
  requestBurst: 20_000,
  ackIdsPerToken: 64,
  maxSlowDowns: 100,
  maxPasswordBytes: 1024,
  maxQueuedPerAccount: 10_000,
  sessionTtlMs: 86_400_000,
  maxPatternChars: 64,
  maxUnansweredSends: 128,
};

function expectDecodeError(decode: (b: Uint8Array) => unknown, bytes: string, message: RegExp): unknown {
  let caught: unknown;
  try {
    decode(unhex(bytes));
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as Error).message).toMatch(message);
  return caught;
}

// --- fixtures: (name, message, hex bytes) ---

const REQUESTS: { name: string; message: RequestInit; bytes: string }[] = [
  {
    name: "LOG_IN",
    message: { opcode: Op.LOG_IN, sender: "alice", password: "secretpw", requestId: 1 },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 02" + // 2 opcode LOG_IN
      "1a 05 616c696365" + // 3 sender "alice"
      "30 01" + // 6 request_id 1
      "3a 08 7365637265747077", // 7 password "secretpw"
  },
  {
    name: "SEND_MESSAGE with a client_msg_id above 2^32",
    message: { opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "hi 👋", requestId: 2, clientMsgId: 2 ** 32 },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 03" + // 2 opcode SEND_MESSAGE
      "22 03 626f62" + // 4 receiver "bob"
      "2a 07 686920f09f918b" + // 5 msg "hi 👋" (the emoji is 4 UTF-8 bytes)
      "30 02" + // 6 request_id 2
      "40 8080808010", // 8 client_msg_id 2^32
  },
  {
    name: "ACK with packed ids",
    message: { opcode: Op.ACK, ackIds: [1, 300, 2 ** 40] },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 08" + // 2 opcode ACK
      "4a 09 01 ac02 808080808020", // 9 ack_ids, packed: 1, 300, 2^40
  },
  {
    name: "LIST_ACCOUNTS",
    message: { opcode: Op.LIST_ACCOUNTS, msg: "a*", pageSize: 10, cursor: "bob", requestId: 3 },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 06" + // 2 opcode LIST_ACCOUNTS
      "2a 02 612a" + // 5 msg (pattern) "a*"
      "30 03" + // 6 request_id 3
      "58 0a" + // 11 page_size 10
      "62 03 626f62", // 12 cursor "bob"
  },
  {
    name: "RESUME",
    message: { opcode: Op.RESUME, token: "tok", requestId: 4294967295 },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 0a" + // 2 opcode RESUME
      "30 ffffffff0f" + // 6 request_id 2^32 - 1 (largest uint32)
      "52 03 746f6b", // 10 token "tok"
  },
];

const REPLIES: { name: string; message: ReplyInit; bytes: string }[] = [
  {
    name: "PING answered OK (status 0 is not written)",
    message: { opcode: Op.PING, requestId: 5, msg: "pong" },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 09" + // 2 opcode PING
      "1a 04 706f6e67" + // 3 msg "pong"
      "28 05", // 5 request_id 5
  },
  {
    name: "CREATE_ACCOUNT refused",
    message: { opcode: Op.CREATE_ACCOUNT, status: Status.NAME_TAKEN, msg: "taken", requestId: 1 },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 01" + // 2 opcode CREATE_ACCOUNT
      "1a 05 74616b656e" + // 3 msg "taken"
      "20 07" + // 4 status NAME_TAKEN
      "28 01", // 5 request_id 1
  },
  {
    name: "DELIVER push with a 64-bit id",
    message: {
      opcode: Push.DELIVER,
      messages: [{ id: 2 ** 33, sender: "bob", text: "hi", sentAt: 1_700_000_000_000 }],
    },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 64" + // 2 opcode DELIVER (100)
      "32 16" + // 6 messages[0], 22 bytes:
      "08 8080808020" + //   1 id 2^33
      "12 03 626f62" + //   2 sender "bob"
      "1a 02 6869" + //   3 text "hi"
      "20 80d095ffbc31", //   4 sent_at 1700000000000
  },
  {
    name: "SEND_MESSAGE answered",
    message: {
      opcode: Op.SEND_MESSAGE,
      requestId: 2,
      messageId: 2 ** 32 + 7,
      sentAt: 1_700_000_000_000,
      delivery: Delivery.QUEUED,
      duplicate: true,
    },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 03" + // 2 opcode SEND_MESSAGE
      "28 02" + // 5 request_id 2
      "50 8780808010" + // 10 message_id 2^32 + 7
      "58 80d095ffbc31" + // 11 sent_at
      "60 02" + // 12 delivery QUEUED
      "8001 01", // 16 duplicate true (a two-byte tag)
  },
  {
    name: "LIST_ACCOUNTS answered",
    message: {
      opcode: Op.LIST_ACCOUNTS,
      accounts: [
        { name: "ann", online: true },
        { name: "bob", online: false },
      ],
      more: true,
      nextCursor: "bob",
    },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 06" + // 2 opcode LIST_ACCOUNTS
      "3a 07 0a03616e6e 1001" + // 7 accounts[0]: name "ann", online true
      "3a 05 0a03626f62" + // 7 accounts[1]: name "bob" (online false is not written)
      "48 01" + // 9 more true
      "8a01 03 626f62", // 17 next_cursor "bob"
  },
  {
    name: "HELLO push",
    message: {
      opcode: Push.HELLO,
      info: {
        ...FULL_INFO,
        heartbeatMs: 1,
        maxPageSize: 0,
        ackTimeoutMs: 0,
        loginTimeoutMs: 0,
        heartbeatMisses: 0,
        deliveryWindow: 0,
        maxBacklogBytes: 0,
        requestRate: 0,
        requestBurst: 0,
        maxSlowDowns: 0,
        maxPasswordBytes: 0,
        maxQueuedPerAccount: 0,
        sessionTtlMs: 0,
        maxPatternChars: 0,
        maxUnansweredSends: 0,
      },
    },
    bytes:
      "0a 01 31" + // 1 version "1"
      "10 68" + // 2 opcode HELLO (104)
      "9201 19" + // 18 info, 25 bytes:
      "0a 05 312e322e33" + //   1 server_version "1.2.3"
      "10 01" + //   2 heartbeat_ms 1
      "18 808004" + //   3 max_frame_bytes 65536
      "20 19" + //   4 max_name_chars 25
      "28 64" + //   5 max_text_chars 100
      "30 08" + //   6 min_password_chars 8 (max_page_size 0 is not written)
      "68 904e" + //   13 max_ack_ids 10000
      "8001 40", //   16 ack_ids_per_token 64 (a two-byte tag)
  },
];

describe("codec: request fixtures", () => {
  for (const c of REQUESTS) {
    describe(c.name, () => {
      const expected = { ...REQUEST_DEFAULTS, version: PROTOCOL_VERSION, ...c.message };
      it("decodes", () => expect(plainRequest(decodeRequest(unhex(c.bytes)))).toEqual(expected));
      it("encodes", () => expect(hex(encodeRequest({ ...c.message }))).toBe(hex(unhex(c.bytes))));
      it("round trips", () =>
        expect(plainRequest(decodeRequest(encodeRequest({ ...c.message })))).toEqual(expected));
    });
  }
});

describe("codec: reply fixtures", () => {
  for (const c of REPLIES) {
    describe(c.name, () => {
      const expected = { ...REPLY_DEFAULTS, version: PROTOCOL_VERSION, ...c.message };
      it("decodes", () => expect(plainReply(decodeReply(unhex(c.bytes)))).toEqual(expected));
      it("encodes", () => expect(hex(encodeReply({ ...c.message }))).toBe(hex(unhex(c.bytes))));
      it("round trips", () =>
        expect(plainReply(decodeReply(encodeReply({ ...c.message })))).toEqual(expected));
    });
  }
});

describe("codec: every field", () => {
  it("round trips a request with every field set", () => {
    const full: Request = {
      version: "1",
      opcode: Op.SEND_MESSAGE,
      sender: "Zoë",
      receiver: "東京",
      msg: "line one\nline two\t👋",
      requestId: 4294967295,
      password: "pässwörd-long",
      clientMsgId: 2 ** 40 + 5,
      ackIds: [1, 2 ** 33, 2 ** 53 - 1, 7, 7],
      ackIdsSkipped: 0,
      token: "t".repeat(64),
      pageSize: 500,
      cursor: "ann",
    };
    const got = decodeRequest(encodeRequest({ ...full }));
    expect(plainRequest(got)).toEqual(full);
    expect(typeof got.clientMsgId).toBe("number");
    expect(got.ackIds.every((id) => typeof id === "number")).toBe(true);
  });

  it("round trips a reply with every field set", () => {
    const full: Reply = {
      version: "1",
      opcode: Op.CHECK_MESSAGES,
      msg: "2 messages",
      status: Status.INTERNAL_ERROR,
      requestId: 77,
      messages: [
        { id: 2 ** 32 + 1, sender: "ann", text: "first", sentAt: 1_700_000_000_000 },
        { id: 2 ** 52, sender: "Ωmega", text: "👋\n", sentAt: -1 },
      ],
      accounts: [
        { name: "ann", online: true },
        { name: "bob", online: false },
      ],
      unread: 12,
      more: true,
      messageId: 2 ** 45,
      sentAt: 1_700_000_000_123,
      delivery: Delivery.LIVE,
      retryAfterMs: 250,
      name: "Ann",
      token: "opaque",
      duplicate: true,
      nextCursor: "bob",
      info: FULL_INFO,
    };
    const got = decodeReply(encodeReply({ ...full, info: FULL_INFO }));
    expect(plainReply(got)).toEqual(full);
    expect(typeof got.messages[0]!.id).toBe("number");
    expect(typeof got.messageId).toBe("number");
  });

  it("reads absent fields as proto3 defaults", () => {
    expect(plainRequest(decodeRequest(new Uint8Array(0)))).toEqual(REQUEST_DEFAULTS);
    expect(plainReply(decodeReply(new Uint8Array(0)))).toEqual(REPLY_DEFAULTS);
  });

  it("writes this protocol's version unless told another", () => {
    expect(decodeRequest(encodeRequest({ opcode: Op.PING })).version).toBe(PROTOCOL_VERSION);
    expect(decodeRequest(encodeRequest({ opcode: Op.PING, version: "2" })).version).toBe("2");
    expect(decodeReply(encodeReply({ opcode: Push.HEARTBEAT })).version).toBe(PROTOCOL_VERSION);
  });

  it("keeps unpacked repeated ids too (accepted by any protobuf reader)", () => {
    // 9 ack_ids written one per tag, as a proto2 writer would.
    expect(decodeRequest(unhex("4801 4802 4803")).ackIds).toEqual([1, 2, 3]);
  });
});

describe("codec: bytes that are not a message", () => {
  // Requests go through the server's own reader, replies through protobufjs (with the cause).
  const req = (bytes: string, message: RegExp) => {
    expectDecodeError(decodeRequest, bytes, message);
  };
  const rep = (bytes: string, message: RegExp) => {
    expect((expectDecodeError(decodeReply, bytes, message) as Error).cause).toBeInstanceOf(Error);
  };
  const C2S = (detail: string) => new RegExp(`^frame is not a valid Client2Server message \\(${detail}\\)$`);

  it("truncated string", () => req("0a 05 3132", C2S("field of 5 bytes runs past the end of the message")));
  it("truncated varint", () => req("10 ff", C2S("truncated varint")));
  it("a tag with no value", () => req("12", C2S("truncated varint")));
  it("a length past the end", () => req("0a", C2S("truncated varint")));
  it("truncated packed ids", () => req("4a 03 01", C2S("field of 3 bytes runs past the end of the message")));
  it("a varint longer than 10 bytes", () =>
    req("4a 0b 8080808080808080808001", C2S("varint longer than 10 bytes")));
  it("wire type 7", () => req("0f", C2S("wire type 7 is not used by this protocol")));
  it("wire type 6", () => req("16", C2S("wire type 6 is not used by this protocol")));
  it("groups (wire types 3 and 4)", () => req("1b 1c", C2S("wire type 3 is not used by this protocol")));
  it("field number 0", () => req("00 01", C2S("field number 0")));
  it("invalid UTF-8 in version", () => req("0a 02 ffff", C2S("a string field is not valid UTF-8")));
  it("a truncated UTF-8 sequence in msg", () => req("2a 02 61e2", C2S("a string field is not valid UTF-8")));
  it("an overlong UTF-8 encoding", () => req("1a 02 c080", C2S("a string field is not valid UTF-8")));
  it("a UTF-8 encoded surrogate", () => req("2a 03 eda080", C2S("a string field is not valid UTF-8")));
  it("reply: truncated nested message", () =>
    rep("32 0a 0801", /^frame is not a valid Server2Client message/));
  it("reply: invalid UTF-8 inside a message", () => rep("32 03 1201ff", /utf-8/));
  it("reply: invalid UTF-8 in an account name", () => rep("3a 03 0a01c3", /utf-8/));
  it("reply: invalid wire type inside info", () => rep("9201 01 0f", /invalid wire type 7/));

  it("skips a known field sent with another (valid) wire type, as protobuf does", () => {
    // opcode (2) as length-delimited, version (1) as a varint: unknown fields, not errors.
    expect(plainRequest(decodeRequest(unhex("12 0100 08 01 10 05")))).toEqual({
      ...REQUEST_DEFAULTS,
      opcode: 5,
    });
  });

  it("skips unknown field numbers", () => {
    expect(decodeRequest(unhex("a006 01 10 09")).opcode).toBe(Op.PING); // field 100, varint
  });

  it("throws only ProtocolError on random bytes", () => {
    const rand = prng(20240601);
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(rand() * 24) }, () => Math.floor(rand() * 256));
      for (const decode of [decodeRequest, decodeReply]) {
        try {
          decode(bytes);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(1000);
  });
});

describe("codec: the original schema (Client2Server 1-5, Server2Client 1-3) still interoperates", () => {
  // The original design's two messages, nothing else.
  const original = protobuf.parse(`
    syntax = "proto3";
    package chat;
    message Client2Server {
      string version = 1;
      int32 opcode = 2;
      string sender = 3;
      string receiver = 4;
      string msg = 5;
    }
    message Server2Client {
      string version = 1;
      int32 opcode = 2;
      string msg = 3;
    }
  `).root;
  const OldRequest = original.lookupType("chat.Client2Server");
  const OldReply = original.lookupType("chat.Server2Client");

  it("our schema keeps the original fields number for number and type for type", () => {
    for (const name of ["Client2Server", "Server2Client"]) {
      const ours = root.lookupType(`chat.${name}`);
      for (const old of original.lookupType(`chat.${name}`).fieldsArray) {
        const field = ours.fieldsById[old.id]!;
        expect(field.name).toBe(old.name);
        expect(field.type).toBe(old.type);
      }
    }
  });

  it("decodes a request from an original client, new fields at their defaults", () => {
    const old = { version: "1", opcode: Op.SEND_MESSAGE, sender: "ann", receiver: "bob", msg: "hi" };
    const frame = OldRequest.encodeDelimited(OldRequest.create(old)).finish();
    const [body] = new FrameDecoder(1024).push(frame);
    expect(plainRequest(decodeRequest(body!))).toEqual({ ...REQUEST_DEFAULTS, ...old });
  });

  it("our full Server2Client frames decode with the original schema", () => {
    const init: ReplyInit = {
      opcode: Push.DELIVER,
      msg: "1 message",
      status: Status.SLOW_DOWN,
      requestId: 99,
      messages: [{ id: 2 ** 40, sender: "bob", text: "hi 👋", sentAt: 1_700_000_000_000 }],
      accounts: [{ name: "ann", online: true }],
      unread: 3,
      more: true,
      messageId: 2 ** 33,
      sentAt: 5,
      delivery: Delivery.LIVE,
      retryAfterMs: 10,
      name: "Ann",
      token: "tok",
      duplicate: true,
      nextCursor: "c",
      info: FULL_INFO,
    };
    const frame = encodeFrame(encodeReply(init));
    const old = OldReply.toObject(OldReply.decodeDelimited(frame));
    expect(old).toEqual({ version: "1", opcode: Push.DELIVER, msg: "1 message" });
  });

  it("our requests decode with the original schema", () => {
    const bytes = encodeRequest({
      opcode: Op.LOG_IN,
      sender: "ann",
      password: "secretpw",
      requestId: 3,
      ackIds: [2 ** 40],
      token: "t",
      clientMsgId: 9,
      pageSize: 4,
      cursor: "x",
    });
    expect(OldRequest.toObject(OldRequest.decode(bytes))).toEqual({
      version: "1",
      opcode: Op.LOG_IN,
      sender: "ann",
    });
  });
});

describe("codec: docs/PROTOCOL.md's HELLO example", () => {
  it("is what a default server version 0.1.0 sends", () => {
    const doc = readFileSync(resolve(import.meta.dir, "../../docs/PROTOCOL.md"), "utf8");
    const block = /HELLO as sent by a default server, version 0\.1\.0:\n\n```\n([\s\S]*?)```/.exec(doc)![1]!;
    // Each line: hex bytes first, then what they mean.
    const bytes = block
      .split("\n")
      .flatMap((line) => {
        const out: string[] = [];
        for (const t of line.trim().split(/\s+/)) {
          if (!/^[0-9a-f]{2}$/.test(t)) break;
          out.push(t);
        }
        return out;
      })
      .join("");
    const o = DEFAULT_OPTIONS;
    const info = {
      serverVersion: "0.1.0",
      heartbeatMs: o.heartbeatMs,
      maxFrameBytes: o.maxFrameBytes,
      maxNameChars: 25,
      maxTextChars: 100,
      minPasswordChars: 8,
      maxPageSize: o.maxPageSize,
      ackTimeoutMs: o.ackTimeoutMs,
      loginTimeoutMs: o.loginTimeoutMs,
      heartbeatMisses: o.heartbeatMisses,
      deliveryWindow: o.deliveryWindow,
      maxBacklogBytes: 1 << 20,
      maxAckIds: 10_000,
      requestRate: o.requestRate,
      requestBurst: o.requestBurst,
      ackIdsPerToken: 64,
      maxSlowDowns: o.maxSlowDowns,
      maxPasswordBytes: 1024,
      maxQueuedPerAccount: o.maxQueuedPerAccount,
      sessionTtlMs: o.sessionTtlMs,
      maxPatternChars: 64,
      maxUnansweredSends: o.maxUnansweredSends,
      maxReceipts: o.maxReceiptsPerAccount,
    };
    const frame = encodeFrame(
      encodeReply({ opcode: Push.HELLO, msg: "chat server 0.1.0, protocol 1", info }),
    );
    expect(bytes).toBe(hex(frame));
  });
});
