import { describe, expect, it } from "bun:test";
import { crc16, hashTag, keySlot } from "../../src/store/redis-cluster-slot";
import { DIR_KEYS, messages, ops, token, tokenExpiry, userKeys } from "../../src/store/redis-keys";

describe("Redis Cluster key slots", () => {
  it("computes CRC16-XMODEM as Redis does (the check value, and slots from the Redis docs)", () => {
    expect(crc16(Buffer.from("123456789"))).toBe(0x31c3);
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("bar")).toBe(5061);
  });

  it("hashes only the first non-empty hash tag", () => {
    expect(hashTag("chat:{u:7}:q")).toBe("u:7");
    expect(keySlot("chat:{u:7}:q")).toBe(keySlot("u:7"));
    expect(hashTag("a{}b{c}")).toBe("a{}b{c}");
    expect(hashTag("a{b")).toBe("a{b");
    expect(hashTag("x{y}{z}")).toBe("y");
  });

  it("puts the keys of each script in one slot", () => {
    const one = (keys: readonly string[]) => new Set(keys.map(keySlot)).size;
    expect(one([...DIR_KEYS, ops.lastLogin])).toBe(1);
    expect(one(userKeys(42))).toBe(1);
    expect(one([messages.nextId, messages.queued])).toBe(1);
    expect(one([token("abc")])).toBe(1);
    expect(keySlot(tokenExpiry)).toBeGreaterThanOrEqual(0);
  });
});
