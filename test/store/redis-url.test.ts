import { describe, expect, it } from "bun:test";
import { isRedisData, parseRedisTarget, redact } from "../../src/store/redis-url";

const ok = (data: string, env?: string) => {
  const r = parseRedisTarget(data, env);
  if (!r.ok) throw new Error(r.reason);
  return r.target;
};
const reason = (data: string) => {
  const r = parseRedisTarget(data);
  if (r.ok) throw new Error(`${data} was accepted`);
  return r.reason;
};

describe("--data redis://…", () => {
  it("tells Redis URLs from file paths", () => {
    expect(["redis://h:1", "rediss://h:1", "REDIS://h"].map(isRedisData)).toEqual([true, true, true]);
    expect(["chat.db", ":memory:", "./redis://x", "/var/redis/chat.db"].map(isRedisData)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it("describes the server without the password, with the default port and database", () => {
    expect(ok("redis://127.0.0.1")).toEqual({
      url: "redis://127.0.0.1",
      display: "redis://127.0.0.1:6379/0",
      tls: false,
    });
    const t = ok("rediss://chat:s3cret@cache.example:6380/2");
    expect(t.display).toBe("rediss://chat@cache.example:6380/2");
    expect(t.tls).toBe(true);
    expect(t.url).toBe("rediss://chat:s3cret@cache.example:6380/2");
  });

  it("takes the password from CHAT_REDIS_PASSWORD when the URL has none, encoded", () => {
    expect(ok("redis://h:1", "p@ss/w:rd").url).toBe("redis://:p%40ss%2Fw%3Ard@h:1");
    expect(ok("redis://u@h:1", "pw").url).toBe("redis://u:pw@h:1");
    // The URL's own password wins.
    expect(ok("redis://:mine@h:1", "env").url).toBe("redis://:mine@h:1");
  });

  it("refuses what it cannot use, never echoing a password", () => {
    expect(reason("redis://:pw@h:1/x")).toBe(
      "redis://:***@h:1/x: the database must be a number, as in redis://host:6379/0",
    );
    expect(reason("redis://h:1/0?tls=1")).toContain("query parameters and fragments are not supported");
    expect(reason("redis://:pw@h:99999")).toBe(
      "redis://:***@h:99999 is not a valid URL (expected redis://[user:password@]host:port[/db])",
    );
    expect(redact("rediss://user:pw@h:1/0")).toBe("rediss://user:***@h:1/0");
  });
});
