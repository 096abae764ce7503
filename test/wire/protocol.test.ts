import { describe, expect, it } from "bun:test";
import {
  Delivery,
  FIRST_PUSH_OPCODE,
  Op,
  opcodeName,
  PROTOCOL_VERSION,
  Push,
  Status,
  statusName,
} from "../../src/wire/protocol";
import { root } from "../../src/wire/schema";

// --- helpers ---

/** An enum of protocol.proto as name -> number, without its *_UNSPECIFIED zero. */
function protoEnum(name: string): Record<string, number> {
  const values = { ...root.lookupEnum(`chat.${name}`).values };
  for (const key of Object.keys(values)) if (key.endsWith("_UNSPECIFIED")) delete values[key];
  return values;
}

// (enum in protocol.proto, its `as const` mirror in protocol.ts)
const MIRRORS: [string, Record<string, number>][] = [
  ["Opcode", Op],
  ["Push", Push],
  ["Status", Status],
  ["Delivery", Delivery],
];

describe("protocol.ts mirrors protocol.proto", () => {
  it.each(MIRRORS)("every %s value of protocol.proto is in protocol.ts", (name, mirror) => {
    for (const [key, value] of Object.entries(protoEnum(name)))
      expect([key, mirror[key]]).toEqual([key, value]);
  });

  it.each(MIRRORS)("every %s value of protocol.ts is in protocol.proto", (name, mirror) => {
    const proto = protoEnum(name);
    for (const [key, value] of Object.entries(mirror)) expect([key, proto[key]]).toEqual([key, value]);
  });

  it.each(MIRRORS)("%s: the only proto value left out is the zero *_UNSPECIFIED", (name) => {
    const all = root.lookupEnum(`chat.${name}`).values;
    const left = Object.keys(all).filter((k) => !(k in protoEnum(name)));
    expect(left.map((k) => all[k])).toEqual(name === "Status" ? [] : [0]);
  });

  it("the messages use these enums for status and delivery", () => {
    const s2c = root.lookupType("chat.Server2Client");
    expect(s2c.fields.status!.type).toBe("Status");
    expect(s2c.fields.delivery!.type).toBe("Delivery");
  });
});

describe("protocol numbers", () => {
  it("requests are below FIRST_PUSH_OPCODE and pushes at or above it", () => {
    for (const op of Object.values(Op)) expect(op).toBeLessThan(FIRST_PUSH_OPCODE);
    for (const push of Object.values(Push)) expect(push).toBeGreaterThanOrEqual(FIRST_PUSH_OPCODE);
  });

  it("no two names share a number", () => {
    const ops = [...Object.values(Op), ...Object.values(Push)];
    expect(new Set(ops).size).toBe(ops.length);
    expect(new Set(Object.values(Status)).size).toBe(Object.keys(Status).length);
  });

  it("the version is 1", () => expect(PROTOCOL_VERSION).toBe("1"));

  it("names statuses and opcodes, and unknown numbers too", () => {
    expect(statusName(Status.MAILBOX_FULL)).toBe("MAILBOX_FULL");
    expect(statusName(0)).toBe("OK");
    expect(statusName(999)).toBe("STATUS_999");
    expect(opcodeName(Op.RESUME)).toBe("RESUME");
    expect(opcodeName(Push.HELLO)).toBe("HELLO");
    expect(opcodeName(55)).toBe("OPCODE_55");
  });
});
