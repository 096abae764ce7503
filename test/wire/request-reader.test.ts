// The server's request reader against protobufjs: on random requests and on mutations of
// them, both give the same result, or both refuse (the reader alone also refuses groups).

import { describe, expect, test } from "bun:test";
import { encodeRequest, MAX_ACK_IDS, ProtocolError, type RequestInit, UNSAFE_ID } from "../../src/wire";
import { readRequest } from "../../src/wire/request-reader";
import { Client2Server } from "../../src/wire/schema";

function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const STRINGS = ["", "alice", "héllo wörld", "日本", "😀", "x".repeat(200)];

function randomRequest(r: () => number): RequestInit {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const init: RequestInit = { opcode: pick([0, 1, 3, 8, 9, 77, -5, 2 ** 31 - 1]) };
  if (r() < 0.5) init.version = pick(["1", "", "2"]);
  if (r() < 0.5) init.sender = pick(STRINGS);
  if (r() < 0.5) init.receiver = pick(STRINGS);
  if (r() < 0.5) init.msg = pick(STRINGS);
  if (r() < 0.5) init.requestId = pick([0, 1, 300, 2 ** 32 - 1]);
  if (r() < 0.3) init.password = pick(STRINGS);
  if (r() < 0.3) init.clientMsgId = pick([1, 2 ** 40 + 3, 2 ** 53 - 1]);
  if (r() < 0.3)
    init.ackIds = Array.from({ length: Math.floor(r() * 5) }, () => pick([1, 127, 128, 2 ** 35]));
  if (r() < 0.3) init.token = pick(STRINGS);
  if (r() < 0.3) init.pageSize = pick([0, 50, 1000]);
  if (r() < 0.3) init.cursor = pick(STRINGS);
  if (r() < 0.3)
    init.receiptIds = Array.from({ length: Math.floor(r() * 5) }, () => pick([1, 127, 128, 2 ** 35]));
  return init;
}

/** protobufjs's reading, with the reader's two differences: ids of 2^53 or more, and the ACK cap. */
function reference(bytes: Uint8Array, maxAckIds = MAX_ACK_IDS): Record<string, unknown> | "error" {
  try {
    const o = Client2Server.toObject(Client2Server.decode(bytes), { defaults: true, arrays: true });
    const exact = (n: number) => (n >= 2 ** 53 ? UNSAFE_ID : n);
    o.clientMsgId = exact(o.clientMsgId);
    const ids = (o.ackIds as number[]).map(exact);
    o.ackIds = ids.slice(0, maxAckIds);
    o.ackIdsSkipped = Math.max(0, ids.length - maxAckIds);
    const receipts = (o.receiptIds as number[]).map(exact);
    o.receiptIds = receipts.slice(0, maxAckIds);
    o.receiptIdsSkipped = Math.max(0, receipts.length - maxAckIds);
    return o;
  } catch {
    return "error";
  }
}

function ours(bytes: Uint8Array): Record<string, unknown> | "error" {
  try {
    return { ...readRequest(bytes) };
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return "error";
  }
}

/** Uses wire types 3 or 4 (groups), which protobufjs skips and this protocol refuses. */
function hasGroup(bytes: Uint8Array): boolean {
  return bytes.some((b) => (b & 7) === 3 || (b & 7) === 4);
}

describe("readRequest", () => {
  test("decodes random requests exactly as protobufjs does", () => {
    const r = prng(11);
    for (let i = 0; i < 3000; i++) {
      const bytes = encodeRequest(randomRequest(r));
      expect(ours(bytes)).toEqual(reference(bytes));
    }
  });

  test("agrees with protobufjs on mutated requests", () => {
    const r = prng(12);
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      const bytes = [...encodeRequest(randomRequest(r))];
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        const at = Math.floor(r() * (bytes.length + 1));
        const op = r();
        if (op < 0.4) bytes[at] = Math.floor(r() * 256);
        else if (op < 0.7) bytes.splice(at, 0, Math.floor(r() * 256));
        else bytes.splice(at, 1);
      }
      const mutated = Uint8Array.from(bytes);
      const mine = ours(mutated);
      if (mine === "error") refused++;
      if (mine === "error" && hasGroup(mutated)) continue;
      expect(mine).toEqual(reference(mutated));
    }
    expect(refused).toBeGreaterThan(500);
  });
});

/** A varint of any uint64, written by hand: protobufjs's encoder takes only doubles here. */
function varint64(v: bigint): number[] {
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

const header = [...encodeRequest({ opcode: 3, requestId: 5 })];

describe("readRequest: 64-bit ids", () => {
  test("a client_msg_id below 2^53 is exact; 2^53 and above read as UNSAFE_ID, never rounded", () => {
    const read = (v: bigint) => readRequest(Uint8Array.from([...header, 0x40, ...varint64(v)])).clientMsgId;
    expect(read(2n ** 53n - 1n)).toBe(2 ** 53 - 1);
    expect(read(2n ** 32n + 7n)).toBe(2 ** 32 + 7);
    for (const v of [2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) expect(read(v)).toBe(UNSAFE_ID);
    // Rounding would make these two one id: the reader keeps them apart from every real id.
    expect(read(2n ** 53n + 1n)).not.toBe(read(2n ** 53n - 1n));
  });

  test("ACK ids of 2^53 and more read as UNSAFE_ID too", () => {
    const ids = [1n, 2n ** 53n, 2n ** 53n - 1n];
    const packed = ids.flatMap(varint64);
    const r = readRequest(Uint8Array.from([...header, 0x4a, packed.length, ...packed]));
    expect(r.ackIds).toEqual([1, UNSAFE_ID, 2 ** 53 - 1]);
  });
});

describe("readRequest: the ACK id cap", () => {
  /** A 64 KB frame of 60,000 packed one-byte ids, then a request_id after them. */
  const flood = (() => {
    const ids = new Array<number>(60_000).fill(5);
    const w = [...encodeRequest({ opcode: 8 }), 0x4a, ...varint64(BigInt(ids.length)), ...ids];
    return Uint8Array.from([...w, 0x30, 0x07]);
  })();

  test("60,000 packed ids: the first 10,000 are decoded, the rest skipped unread, later fields still read", () => {
    expect(flood.length).toBeGreaterThan(60_000);
    const r = readRequest(flood);
    expect(r.ackIds).toHaveLength(MAX_ACK_IDS);
    expect(r.ackIdsSkipped).toBe(60_000 - MAX_ACK_IDS);
    expect(r.requestId).toBe(7);
  });

  test("a cap of 0 decodes no id at all", () => {
    const r = readRequest(flood, 0);
    expect(r.ackIds).toEqual([]);
    expect(r.ackIdsSkipped).toBe(60_000);
    expect(r.requestId).toBe(7);
  });

  test("skipping a packed run costs far less than decoding it", () => {
    const time = (cap: number) => {
      const t = performance.now();
      for (let i = 0; i < 50; i++) readRequest(flood, cap);
      return performance.now() - t;
    };
    time(60_000); // warm up both paths
    time(0);
    expect(time(0) * 5).toBeLessThan(time(60_000));
  });

  test("unpacked ids past the cap are counted one by one", () => {
    const bytes = [...header];
    for (let i = 1; i <= 5; i++) bytes.push(0x48, i);
    const r = readRequest(Uint8Array.from(bytes), 3);
    expect(r.ackIds).toEqual([1, 2, 3]);
    expect(r.ackIdsSkipped).toBe(2);
  });

  test("packed and unpacked runs share one cap", () => {
    const bytes = [...header, 0x4a, 3, 1, 2, 3, 0x48, 4, 0x4a, 2, 5, 6];
    expect(readRequest(Uint8Array.from(bytes), 4)).toMatchObject({ ackIds: [1, 2, 3, 4], ackIdsSkipped: 2 });
    expect(readRequest(Uint8Array.from(bytes), 10)).toMatchObject({
      ackIds: [1, 2, 3, 4, 5, 6],
      ackIdsSkipped: 0,
    });
  });
});

describe("readRequest: repeated names and versions", () => {
  test("the same short field again reads the same string; other bytes of the same length read as themselves", () => {
    const names = [
      "recv12",
      "recv12",
      "recv13",
      "réc12",
      "recv13",
      "bob",
      "bob",
      "",
      "b".repeat(32),
      "b".repeat(33),
    ];
    for (const name of names) {
      for (const version of ["1", "1", "2"]) {
        const got = readRequest(
          encodeRequest({ version, opcode: 3, receiver: name, sender: name, msg: "hi" }),
        );
        expect(got.receiver).toBe(name);
        expect(got.sender).toBe(name);
        expect(got.version).toBe(version);
      }
    }
  });

  test("invalid UTF-8 of the same length as the last name is refused, not read as that name", () => {
    readRequest(encodeRequest({ opcode: 3, receiver: "ab", msg: "x" }));
    // field 4 (receiver), length 2, bytes 0xc3 0x28: not UTF-8
    expect(() => readRequest(new Uint8Array([0x22, 2, 0xc3, 0x28]))).toThrow(ProtocolError);
    expect(readRequest(encodeRequest({ opcode: 3, receiver: "ab", msg: "x" })).receiver).toBe("ab");
  });
});
