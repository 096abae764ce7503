import { describe, expect, test } from "bun:test";
import {
  backoffMs,
  firstConnectBackoffMs,
  formatAddress,
  isIpLiteral,
  parseServerList,
  roundOrder,
  roundTries,
} from "../../src/client/servers";

describe("parseServerList", () => {
  test("one host takes the default port; host:port its own", () => {
    expect(parseServerList("localhost", 8080)).toEqual([{ host: "localhost", port: 8080 }]);
    expect(parseServerList("chat.example.org:9000", 8080)).toEqual([
      { host: "chat.example.org", port: 9000 },
    ]);
    expect(parseServerList("10.0.0.2", 8080)).toEqual([{ host: "10.0.0.2", port: 8080 }]);
  });

  test("a comma-separated list keeps its order; spaces around entries are fine", () => {
    expect(parseServerList("host1:8080, host2:8081,host3", 7000)).toEqual([
      { host: "host1", port: 8080 },
      { host: "host2", port: 8081 },
      { host: "host3", port: 7000 },
    ]);
  });

  test("IPv6: in brackets with or without a port, or bare without one", () => {
    expect(parseServerList("[::1]:8080,[fe80::1%eth0],2001:db8::5", 9)).toEqual([
      { host: "::1", port: 8080 },
      { host: "fe80::1%eth0", port: 9 },
      { host: "2001:db8::5", port: 9 },
    ]);
  });

  test("duplicates are dropped (names compared without case)", () => {
    expect(parseServerList("a:1,A:1,a:2", 8080)).toEqual([
      { host: "a", port: 1 },
      { host: "a", port: 2 },
    ]);
  });

  test("bad entries are named in the error", () => {
    expect(() => parseServerList("a,,b", 1, "HOST")).toThrow('HOST: an empty entry in "a,,b" (two commas?)');
    expect(() => parseServerList("", 1, "HOST")).toThrow("HOST: no server given");
    expect(() => parseServerList("a:0", 1)).toThrow('"a:0" has no valid port after the colon (1-65535)');
    expect(() => parseServerList("a:70000", 1)).toThrow("has no valid port");
    expect(() => parseServerList("a:", 1)).toThrow("has no valid port");
    expect(() => parseServerList("a:http", 1)).toThrow("has no valid port");
    expect(() => parseServerList("[::1", 1)).toThrow("is not [IPv6 address] or [IPv6 address]:port");
    expect(() => parseServerList("[host]:1", 1)).toThrow("has no IPv6 address between the brackets");
    expect(() => parseServerList("a b", 1)).toThrow('"a b" is not a host name or address');
    expect(() => parseServerList("http://a/", 1)).toThrow("has no valid port");
    expect(() => parseServerList("x:y:z", 1)).toThrow("is not an IPv6 address");
  });
});

test("formatAddress brackets IPv6 and round-trips through the parser", () => {
  for (const a of [
    { host: "::1", port: 8080 },
    { host: "example.org", port: 1 },
    { host: "127.0.0.1", port: 65535 },
  ]) {
    expect(parseServerList(formatAddress(a), 2)).toEqual([a]);
  }
  expect(formatAddress({ host: "::1", port: 8080 })).toBe("[::1]:8080");
});

test("isIpLiteral tells addresses from names", () => {
  expect(isIpLiteral("127.0.0.1")).toBe(true);
  expect(isIpLiteral("::1")).toBe(true);
  expect(isIpLiteral("localhost")).toBe(false);
  expect(isIpLiteral("1.2.3.example")).toBe(false);
});

describe("roundOrder", () => {
  test("the first connection starts with the first server", () => {
    expect(roundOrder(3, null)).toEqual([0, 1, 2]);
    expect(roundOrder(1, null)).toEqual([0]);
  });

  test("after losing a server, the next one comes first and the lost one last", () => {
    expect(roundOrder(3, 0)).toEqual([1, 2, 0]);
    expect(roundOrder(3, 2)).toEqual([0, 1, 2]);
    expect(roundOrder(2, 1)).toEqual([0, 1]);
    expect(roundOrder(1, 0)).toEqual([0]);
  });
});

test("roundTries lists every address of each server in order, once", () => {
  const addresses: Record<number, string[]> = { 0: ["::1", "127.0.0.1", "::1"], 1: [], 2: ["10.0.0.3"] };
  expect(roundTries([2, 0, 1], (i) => addresses[i]!)).toEqual([
    { server: 2, address: "10.0.0.3" },
    { server: 0, address: "::1" },
    { server: 0, address: "127.0.0.1" },
  ]);
});

describe("backoff", () => {
  test("between reconnection rounds: doubles from 100-200 ms to a 2.5-5 s ceiling", () => {
    expect(backoffMs(0, () => 0)).toBe(100);
    expect(backoffMs(0, () => 1)).toBe(200);
    expect(backoffMs(3, () => 1)).toBe(1600);
    expect(backoffMs(10, () => 0)).toBe(2500);
    expect(backoffMs(50, () => 1)).toBe(5000);
  });

  test("between the first connection's rounds: short", () => {
    expect(firstConnectBackoffMs(0, () => 0)).toBe(50);
    expect(firstConnectBackoffMs(1, () => 1)).toBe(200);
  });
});
