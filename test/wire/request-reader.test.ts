// The server's request reader against protobufjs: on random requests and on mutations of
// them, both give the same result, or both refuse (the reader alone also refuses groups).

import { describe, expect, test } from "bun:test";
import { encodeRequest, ProtocolError, type RequestInit } from "../../src/wire";
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
  return init;
}

function reference(bytes: Uint8Array): Record<string, unknown> | "error" {
  try {
    return Client2Server.toObject(Client2Server.decode(bytes), { defaults: true, arrays: true });
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
