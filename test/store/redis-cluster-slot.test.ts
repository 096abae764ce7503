import { describe, expect, it } from "bun:test";
import { nodeTarget, redirection } from "../../src/store/redis-cluster";
import { crc16, hashTag, keySlot } from "../../src/store/redis-cluster-slot";
import { DIR_KEYS, messages, ops, token, tokenExpiry, userKeys } from "../../src/store/redis-keys";
import { parseRedisTarget } from "../../src/store/redis-url";
import { StorageError } from "../../src/store/store";

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

describe("Redis Cluster redirections and node addresses", () => {
  it("reads MOVED, ASK and TRYAGAIN from the errors the connection makes of them", () => {
    const refused = (m: string) => new StorageError(`the message store (Redis) refused the request: ${m}`);
    expect(redirection(refused("MOVED 3999 127.0.0.1:6381"))).toEqual({
      kind: "MOVED",
      slot: 3999,
      address: "127.0.0.1:6381",
    });
    expect(redirection(refused("ASK 12 10.0.0.2:7000"))).toEqual({
      kind: "ASK",
      slot: 12,
      address: "10.0.0.2:7000",
    });
    expect(redirection(refused("TRYAGAIN Multiple keys request during rehashing of slot"))).toEqual({
      kind: "TRYAGAIN",
    });
    expect(redirection(refused("ERR unknown command"))).toBeNull();
    expect(
      redirection(new StorageError("the message store (Redis) is unavailable (MOVED 1 a:1)")),
    ).toBeNull();
    expect(redirection(new Error("refused the request: MOVED 1 a:1"))).toBeNull();
  });

  it("points the seed's URL, with its user, password and TLS, at another master", () => {
    const seed = parseRedisTarget("rediss://chat:s3cret@10.0.0.1:6379");
    if (!seed.ok) throw new Error(seed.reason);
    const t = nodeTarget(seed.target, "10.0.0.2:7001");
    expect(t).toEqual({
      url: "rediss://chat:s3cret@10.0.0.2:7001",
      display: "rediss://chat@10.0.0.2:7001/0",
      tls: true,
    });
    const v6 = nodeTarget(seed.target, "::1:7002");
    expect(v6.url).toBe("rediss://chat:s3cret@[::1]:7002");
  });
});
