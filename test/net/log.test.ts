// The logger's line formats and the level each server event is logged at.

import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import type { ServerEvent } from "../../src/core/events";
import { createLogger, eventLevel, eventLogger, levelName, safeEvent } from "../../src/net/log";

const written: { stream: "out" | "err"; text: string }[] = [];
let spies: { mockRestore(): void }[] = [];
beforeEach(() => {
  written.length = 0;
  spies = (["out", "err"] as const).map((stream) =>
    spyOn(stream === "out" ? process.stdout : process.stderr, "write").mockImplementation(
      (chunk: unknown) => {
        written.push({ stream, text: String(chunk) });
        return true;
      },
    ),
  );
});
afterEach(() => {
  for (const s of spies) s.mockRestore();
});

describe("levels", () => {
  test("consola's types map onto the standard names", () => {
    for (const t of ["info", "log", "success", "ready", "start", "box"]) expect(levelName(t)).toBe("info");
    for (const t of ["error", "fatal", "fail"]) expect(levelName(t)).toBe("error");
    expect(levelName("warn")).toBe("warn");
    expect(levelName("debug")).toBe("debug");
    expect(levelName("trace")).toBe("trace");
  });

  test("routine events are debug; sessions info; client faults warn; failures error", () => {
    const base = { conn: 1, address: "203.0.113.1" };
    const cases: [ServerEvent, string][] = [
      [{ type: "connect", ...base }, "debug"],
      [{ type: "disconnect", ...base, reason: "closed" }, "debug"],
      [{ type: "limit", ...base, limit: "login_timeout", detail: "no login within 10000 ms" }, "debug"],
      [{ type: "limit", ...base, limit: "request_rate", detail: "over 20 requests/s" }, "warn"],
      [{ type: "login", ...base, account: "a", resumed: false }, "info"],
      [{ type: "dead_peer", ...base, silentMs: 45_000 }, "info"],
      [{ type: "login_failed", ...base, name: "a", reason: "wrong password" }, "warn"],
      [{ type: "protocol_error", ...base, status: "MALFORMED_FRAME", detail: "x" }, "warn"],
      [{ type: "storage_error", detail: "disk full" }, "error"],
    ];
    for (const [e, level] of cases) expect(`${e.type} ${eventLevel(e)}`).toBe(`${e.type} ${level}`);
  });
});

describe("formats", () => {
  test("json: time, level (never success), msg, then fields; all on stdout", () => {
    const log = createLogger("debug", "json");
    log.success("up");
    log.warn("careful", { event: "limit", conn: 3 });
    const lines = written.map((w) => ({ stream: w.stream, ...JSON.parse(w.text) }));
    expect(lines).toEqual([
      { stream: "out", time: expect.any(String), level: "info", msg: "up" },
      { stream: "out", time: expect.any(String), level: "warn", msg: "careful", event: "limit", conn: 3 },
    ]);
    expect(Object.keys(lines[1]!)).toEqual(["stream", "time", "level", "msg", "event", "conn"]);
  });

  test("a burst of identical entries is one line with its count", async () => {
    const log = createLogger("info", "json");
    for (let i = 0; i < 12; i++) log.warn("same", { event: "limit", conn: 1 });
    log.info("different");
    const lines = written.map((w) => JSON.parse(w.text));
    expect(lines.length).toBeLessThan(12);
    const counted = lines.filter((l) => l.msg === "same");
    expect(counted.reduce((n, l) => n + (l.repeated ?? 1), 0)).toBe(12);
    expect(counted.at(-1)).toMatchObject({
      level: "warn",
      event: "limit",
      conn: 1,
      repeated: expect.any(Number),
    });
    expect(lines.at(-1)).toMatchObject({ msg: "different" });
  });

  test("text off a terminal: ISO time and level name; warnings and errors on stderr", () => {
    const log = createLogger("info", "text", false);
    log.success("chat server listening on port 8080");
    log.withTag("chat").warn("limit x");
    log.debug("hidden at info");
    expect(written).toEqual([
      {
        stream: "out",
        text: expect.stringMatching(
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}chat server listening on port 8080\n$/,
        ),
      },
      { stream: "err", text: expect.stringMatching(/^\S+Z WARN {2}chat: limit x\n$/) },
    ]);
  });
});

describe("events below the level", () => {
  test("are dropped before they are formatted; the level is read at each event (reload changes it)", () => {
    const log = createLogger("warn", "text", false);
    const toLog = eventLogger(log, "text");
    toLog({ type: "login", conn: 1, address: "a", account: "alice", resumed: false });
    toLog({ type: "login_failed", conn: 1, address: "a", name: "bob", reason: "wrong password" });
    expect(written.map((w) => w.text)).toEqual([expect.stringMatching(/failed login for "bob" from a/)]);
    log.level = 3; // info, as a reload to --log-level info sets it
    toLog({ type: "login", conn: 1, address: "a", account: "alice", resumed: false });
    expect(written.at(-1)!.text).toMatch(/alice logged in from a/);
  });
});

describe("client strings", () => {
  test("every string field is escaped and bounded before it reaches a line", () => {
    const e = safeEvent({
      type: "login_failed",
      conn: 1,
      address: "203.0.113.1",
      name: `\u001b[31m${"n".repeat(60_000)}`,
      reason: "no such account",
    });
    expect(e.name.length).toBeLessThan(90);
    expect(e.name).toStartWith("\\u001b[31mnnn");
    expect(e.reason).toBe("no such account");
    const log = createLogger("info", "text", false);
    eventLogger(log, "text")({ type: "login_failed", conn: 1, address: "a", name: "x\ny", reason: "r" });
    expect(written.map((w) => w.text)).toEqual([
      expect.stringMatching(/failed login for "x\\ny" from a: r\n$/),
    ]);
  });
});
