// The server's logs as an operator reads them: timestamps when written to a file, standard
// JSON level names, routine events at debug, and client strings short and escaped.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Op, Status } from "../../src/wire";
import { track } from "../processes";
import { BIN, freePort, RawClient, serverLine, startServer, tempDir } from "./harness";

const ISO_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN |INFO |DEBUG|TRACE) \S/;

/** Polls a file until pred holds for its text (bounded). */
async function fileText(path: string, pred: (text: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(path, "utf8");
    } catch {}
    if (pred(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} in ${path}:\n${text}`);
    await Bun.sleep(20);
  }
}

describe("text logs written to a file", () => {
  test("every line starts with an ISO-8601 time and a level name", async () => {
    const dir = tempDir();
    const outFile = join(dir, "out.log");
    const errFile = join(dir, "err.log");
    const port = freePort();
    const proc = track(
      Bun.spawn(
        [BIN, "serve", "--host", "127.0.0.1", "--port", String(port), "--data", join(dir, "chat.db")],
        { stdin: "ignore", stdout: Bun.file(outFile), stderr: Bun.file(errFile) },
      ),
    );
    await fileText(outFile, (t) => t.includes("listening on port"), "the listening line");
    const c = await RawClient.open(port);
    expect(
      (await c.request({ opcode: Op.LOG_IN, sender: "nobody", password: "wrong password" })).status,
    ).toBe(Status.BAD_CREDENTIALS);
    await fileText(errFile, (t) => t.includes("failed login"), "the failed login");
    c.close();
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const out = readFileSync(outFile, "utf8").trimEnd().split("\n");
    const err = readFileSync(errFile, "utf8").trimEnd().split("\n");
    expect(out.length).toBeGreaterThanOrEqual(4);
    for (const line of [...out, ...err]) expect(line).toMatch(ISO_LINE);
    expect(out[0]).toMatch(/INFO {2}chat server \S+ listening on port \d+$/);
    expect(out.at(-1)).toMatch(/INFO {2}server stopped$/);
    expect(err).toEqual([
      expect.stringMatching(/WARN {2}chat: failed login for "nobody" from 127\.0\.0\.1: no such account$/),
    ]);
    // Times are the real ones, in order.
    const times = [...out, ...err].map((l) => Date.parse(l.slice(0, 24)));
    for (const t of times) expect(Math.abs(t - Date.now())).toBeLessThan(60_000);
  });
});

type LogLine = Record<string, unknown>;
const json = (lines: string[]) => lines.filter((l) => l.trim()).map((l) => JSON.parse(l) as LogLine);

describe("JSON logs", () => {
  test("standard level names, time and msg on every line; routine events at debug", async () => {
    // Cheap hashes, and a login timeout alice's create + login beat even on a loaded machine.
    const server = await startServer([
      ...["--log-format", "json", "--log-level", "debug", "--login-timeout", "1500ms"],
      ...["--argon2-memory-kib", "64", "--argon2-time", "1"],
    ]);
    const idle = await RawClient.open(server.port); // never logs in: a routine timeout
    await idle.whenClosed(5000);
    const alice = await RawClient.open(server.port);
    expect((await alice.login("alice")).status).toBe(Status.OK);
    alice.close();
    await server.out.find(
      (l) => l.includes('"event":"disconnect"') && l.includes('"account":"alice"'),
      "alice's close",
    );
    expect(await server.stop()).toBe(0);
    const lines = json([...server.out.all, ...server.err.all]);
    for (const o of lines) {
      expect(Object.keys(o).slice(0, 2)).toEqual(["time", "level"]);
      expect(o.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(["debug", "info", "warn", "error"]).toContain(o.level as string);
      expect(typeof o.msg).toBe("string");
    }
    expect(lines.find((o) => String(o.msg).includes("listening on port"))).toMatchObject({ level: "info" });
    const levelOf = (event: string, extra: LogLine = {}) =>
      lines
        .filter((o) => o.event === event && Object.entries(extra).every(([k, v]) => o[k] === v))
        .map((o) => o.level);
    expect(levelOf("limit", { limit: "login_timeout" })).toEqual(["debug"]);
    expect(levelOf("connect")).toEqual(["debug", "debug"]);
    expect(levelOf("disconnect")).toEqual(["debug", "debug"]);
    expect(levelOf("account_created")).toEqual(["info"]);
    expect(levelOf("login")).toEqual(["info"]);
    expect(levelOf("logout")).toEqual(["info"]);
  });

  test("at the default level, a client that never logs in leaves no line at all", async () => {
    const server = await startServer(["--log-format", "json", "--login-timeout", "300ms"]);
    const before = server.out.all.length + server.err.all.length;
    const idle = await RawClient.open(server.port);
    await idle.whenClosed(5000);
    expect(await server.stop()).toBe(0);
    const during = json([...server.out.all, ...server.err.all]).slice(before);
    expect(during.filter((o) => o.event)).toEqual([]);
  });
});

describe("client strings in logs", () => {
  const hostile = `\u001b]52;c;${"A".repeat(4)}\u0007\u202e\u200b\u2028[12:00] admin: ok\n${"x".repeat(60_000)}`;

  for (const format of ["text", "json"]) {
    test(`a 60 KB hostile name in a failed login is logged short and escaped (${format})`, async () => {
      const server = await startServer(["--log-format", format]);
      const c = await RawClient.open(server.port);
      const answer = await c.request({ opcode: Op.LOG_IN, sender: hostile, password: "whatever123" });
      expect(answer.status).not.toBe(Status.OK);
      const line = await serverLine(server, (l) => l.includes("failed login"), "the failed login");
      expect(await server.stop()).toBe(0);
      const all = [...server.out.all, ...server.err.all];
      for (const l of all) expect(Buffer.byteLength(l)).toBeLessThan(600);
      // Nothing a terminal or a log viewer would interpret or hide.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: that is what is checked.
      expect(all.filter((l) => /[\u0000-\u001f\u007f\u202e\u200b\u2028]/.test(l))).toEqual([]);
      const name = format === "json" ? String((JSON.parse(line) as LogLine).name) : line;
      expect(name).toContain("\\u001b]52;c;AAAA");
      expect(name).toContain("\\u202e\\u200b\\u2028[12:00] admin: ok\\n");
      expect(name).toMatch(/…\(\+\d+ more\)/);
    });
  }
});
