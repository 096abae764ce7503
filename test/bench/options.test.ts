// `chat bench` options for its targets: one server, or the nodes of one service.

import { expect, test } from "bun:test";
import { benchOptions } from "../../src/cli/bench";

test("without --host the bench starts its own server, over TCP unless --transport ws", () => {
  expect(benchOptions({}).nodes).toBeUndefined();
  expect(benchOptions({}).transport).toBe("tcp");
  expect(benchOptions({ transport: "ws" }).transport).toBe("ws");
  expect(() => benchOptions({ transport: "udp" })).toThrow("transport");
});

test("--host and --port as before: one node", () => {
  expect(benchOptions({ host: ["10.0.0.1"], port: "9000", pid: ["42"] }).nodes).toEqual([
    { host: "10.0.0.1", port: 9000, pid: 42 },
  ]);
  expect(benchOptions({ host: ["10.0.0.1"] }).nodes).toEqual([{ host: "10.0.0.1", port: 8080, pid: 0 }]);
});

test("several nodes: comma-separated or repeated, each with its pid in the same order", () => {
  const o = benchOptions({ host: ["a:1,b:2", "[::1]"], port: "7", pid: ["10,11"] });
  expect(o.nodes).toEqual([
    { host: "a", port: 1, pid: 10 },
    { host: "b", port: 2, pid: 11 },
    { host: "::1", port: 7, pid: 0 },
  ]);
  expect(benchOptions({ host: ["a:1", "b:2"], pid: ["10", "11"] }).nodes?.map((n) => n.pid)).toEqual([
    10, 11,
  ]);
});

test("bad lists are usage errors that name the option", () => {
  expect(() => benchOptions({ host: ["a:1,,b"] })).toThrow("--host: an empty entry");
  expect(() => benchOptions({ host: ["a:99999"] })).toThrow("--host:");
  expect(() => benchOptions({ host: ["a:1"], pid: ["1,2"] })).toThrow(
    "--pid: 2 process ids for 1 --host servers",
  );
  expect(() => benchOptions({ host: ["a:1"], pid: ["x"] })).toThrow("pid");
});
