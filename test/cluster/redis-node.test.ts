import { describe, expect, test } from "bun:test";
import { serveOptions } from "../../src/cli/serve";
import { defaultNodeName, NODE_NAME } from "../../src/cluster/redis-node";

const opts = (a: Record<string, string>) => serveOptions(a, "/tmp/chat.db");

describe("a node's name and lease", () => {
  test("the default name is unique per process and fits the rules", () => {
    const a = defaultNodeName();
    const b = defaultNodeName();
    expect(a).toMatch(NODE_NAME);
    expect(a).toContain(`-${process.pid}-`);
    expect(a).not.toBe(b);
  });

  test("--node-name and --presence-lease are checked", () => {
    expect(opts({}).presenceLeaseMs).toBe(3000);
    expect(opts({}).nodeName).toBeUndefined();
    expect(opts({ "node-name": "chat-a.lan:1", "presence-lease": "5s" })).toMatchObject({
      nodeName: "chat-a.lan:1",
      presenceLeaseMs: 5000,
    });
    expect(() => opts({ "node-name": "a b" })).toThrow(
      '--node-name wants 1 to 100 letters, digits, dots, dashes, underscores or colons; got "a b"',
    );
    expect(() => opts({ "node-name": "x".repeat(101) })).toThrow("--node-name wants 1 to 100");
    expect(() => opts({ "node-name": "{tag}" })).toThrow("--node-name wants");
    expect(() => opts({ "presence-lease": "100ms" })).toThrow(
      '--presence-lease must be at least 300ms; got "100ms"',
    );
    expect(() => opts({ "presence-lease": "soon" })).toThrow("--presence-lease wants a duration");
  });

  test("--redis-wait-replicas and --redis-wait-timeout are checked", () => {
    expect(opts({})).toMatchObject({ redisWaitReplicas: 0, redisWaitTimeoutMs: 1000 });
    expect(opts({ "redis-wait-replicas": "2", "redis-wait-timeout": "250ms" })).toMatchObject({
      redisWaitReplicas: 2,
      redisWaitTimeoutMs: 250,
    });
    expect(() => opts({ "redis-wait-replicas": "one" })).toThrow(
      "--redis-wait-replicas wants a whole number",
    );
    expect(() => opts({ "redis-wait-replicas": "101" })).toThrow(
      "--redis-wait-replicas must be between 0 and 100",
    );
    expect(() => opts({ "redis-wait-timeout": "5s" })).toThrow(
      '--redis-wait-timeout must be at most 4s; got "5s"',
    );
    expect(() => opts({ "redis-wait-timeout": "0" })).toThrow("--redis-wait-timeout must be more than zero");
  });
});
