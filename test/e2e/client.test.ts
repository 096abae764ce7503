// `chat connect` in script mode through the real binary: exit statuses, --follow, colour,
// a client killed before it could print a message, and a hostile server's text.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { track } from "../processes";
import { EVIL_NAME, EVIL_TEXT, hostileServer as fakeServer } from "./client-hostile-server";
import { BIN, type ChatServer, freePort, loggedIn, startClient, startServer, tempDir } from "./harness";

let server: ChatServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

/** Runs `chat connect` with these lines on stdin, to completion (killed after timeoutMs). */
async function script(port: number, lines: string[], args: string[] = [], env: Record<string, string> = {}) {
  const p = track(
    Bun.spawn([BIN, "connect", "127.0.0.1", String(port), ...args], {
      stdin: Buffer.from(lines.map((l) => `${l}\n`).join("")),
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ...env },
    }),
  );
  const guard = setTimeout(() => p.kill("SIGKILL"), 15_000);
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  clearTimeout(guard);
  return { out, err, code };
}

// Everything a terminal would act on, or that hides or reorders text.
const UNSAFE_CLASS = String.raw`\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060\u2066-\u2069\ufeff`;
const RAW_UNSAFE = new RegExp(`[${UNSAFE_CLASS}]`, "u");

describe("script mode exit status", () => {
  test("0 when every command succeeded", async () => {
    (await loggedIn(server.port, "exit_ok")).end();
    const r = await script(server.port, [
      "/login exit_ok",
      "correct horse",
      "/check",
      "/who",
      "/list exit_*",
    ]);
    expect(r.err).toBe("");
    expect(r.out).toContain("✓ logged in as exit_ok");
    expect(r.out).toContain("online:");
    expect(r.code).toBe(0);
  });

  test("a long script: every line runs, the end of input after the read-ahead bound is clean", async () => {
    const r = await script(server.port, Array(2500).fill("/help"));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.split("\n").filter((l) => l.startsWith("Commands (or a menu number"))).toHaveLength(2500);
  });

  test("3 when a command failed; --json says which", async () => {
    const r = await script(server.port, ["/login nobody_at_all", "some password", "/check"], ["--json"]);
    expect(r.code).toBe(3);
    const events = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === "reply" && !e.ok).map((e) => [e.command, e.status])).toEqual([
      ["login", "BAD_CREDENTIALS"],
      ["check", "NOT_LOGGED_IN"],
    ]);
    const local = await script(server.port, ["/", "/frobnicate"], ["--json"]);
    expect(local.code).toBe(3);
    expect(
      local.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).type),
    ).toEqual(["connected", "error", "error"]);
  });

  test("1 when the server cannot be reached, 2 for a usage error", async () => {
    const unreachable = await script(freePort(), ["/check"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.out + unreachable.err).toContain("connection refused");
    const usage = await script(server.port, [], ["--color", "sometimes"]);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain("--color wants always, never or auto");
  });

  test("colour only when asked on a pipe; NO_COLOR does not override --color always", async () => {
    const lines = ["/frobnicate"];
    expect((await script(server.port, lines)).out).not.toContain("\x1b[");
    expect((await script(server.port, lines, ["--color", "always"])).out).toContain("\x1b[31m✗");
    expect((await script(server.port, lines, ["--color", "auto"], { NO_COLOR: "" })).out).not.toContain(
      "\x1b[",
    );
  });
});

describe("--follow", () => {
  test("stays connected after the end of input, prints messages as they arrive, exits 0 on SIGINT", async () => {
    (await loggedIn(server.port, "follower")).end();
    const f = startClient(server.port, ["--follow"]);
    f.say("/login follower", "correct horse");
    f.end();
    await f.reply("login");
    const sender = await loggedIn(server.port, "followed");
    sender.say("/send follower one", "/send follower two");
    await f.waitFor((e) => e.type === "message" && e.text === "two", "the second message");
    expect(f.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual(["one", "two"]);
    f.proc.kill("SIGINT");
    expect(await f.exited).toBe(0);
    // It logged out on the way: the next message waits in the queue.
    sender.say("/send follower three");
    expect(await sender.reply("send")).toMatchObject({ ok: true });
    expect(await sender.reply("send")).toMatchObject({ ok: true });
    expect(await sender.reply("send")).toMatchObject({ delivery: "queued" });
    sender.end();
  });

  test("SIGTERM ends it too, with exit 0", async () => {
    const f = startClient(server.port, ["--follow"]);
    f.say("/create follow_term", "correct horse");
    f.end();
    await f.reply("login");
    f.proc.kill("SIGTERM");
    expect(await f.exited).toBe(0);
  });
});

describe("a message is confirmed only once written", () => {
  test("a client killed while its output is blocked shows the message once after a restart", async () => {
    const server = await startServer(["--metrics-port", "0"]);
    const announced = await server.out.find(
      (l) => /metrics: http:\/\/\S+\/metrics/.test(l),
      "the metrics line",
    );
    const metricsUrl = /metrics: (http:\/\/\S+\/metrics)/.exec(announced)![1]!;
    const metric = async (name: string) => {
      const text = await (await fetch(metricsUrl)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    };
    (await loggedIn(server.port, "blocked")).end();
    const alice = await loggedIn(server.port, "blocker");
    // The client's stdout is a FIFO this test opens but does not read: after 64 KiB the
    // client's writes stay pending, as they would on a stalled terminal or pipe.
    const fifo = join(tempDir(), "out");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    // A ping every 100 ms: the server keeps hearing from it while its output is blocked (50
    // misses before it gives up on the server: a login on a loaded machine takes a while).
    const bob = track(
      Bun.spawn(
        [
          "sh",
          "-c",
          `exec "$0" connect 127.0.0.1 ${server.port} --heartbeat 100ms --heartbeat-misses 50 > "$1"`,
          BIN,
          fifo,
        ],
        {
          stdin: "pipe",
          stdout: "ignore",
          stderr: "pipe",
        },
      ),
    );
    // Output enough to fill the pipe, then a marker through the server: once it arrives,
    // every line before it has run and its output is queued behind the full pipe.
    bob.stdin.write(
      ["/login blocked", "correct horse", ...Array(100).fill("/help"), "/send blocker marker", ""].join("\n"),
    );
    bob.stdin.flush();
    await alice.waitFor((e) => e.type === "message" && e.text === "marker", "the marker");
    await until(async () => (await metric("chat_messages_delivered_total")) === 1, "the marker's ACK");
    alice.say("/send blocked seen once");
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    // Three more of its pings answered: the client has had the message well before, and an
    // ACK sent on receipt would have reached the server ahead of them. None did.
    const answered = await metric("chat_request_duration_seconds_count");
    await until(async () => (await metric("chat_request_duration_seconds_count")) >= answered + 3, "3 pings");
    expect(await metric("chat_messages_delivered_total")).toBe(1);
    bob.kill("SIGKILL");
    await bob.exited;
    const written = drain(reader);
    expect(written).toContain("Commands (or a menu number");
    expect(written).not.toContain("seen once");

    const again = startClient(server.port);
    again.say("/login blocked", "correct horse");
    expect(await again.reply("login")).toMatchObject({ ok: true, unread: 1 });
    again.say("/check");
    await again.reply("check");
    expect(again.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual(["seen once"]);
    again.end();
    alice.end();
    await server.stop();
  });
});

/** Polls cond (a metric) every 10 ms for up to 5 s. */
async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** Everything in the FIFO, read until its writer is gone. */
function drain(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") continue;
      throw error;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  closeSync(fd);
  return Buffer.concat(chunks).toString("utf8");
}

describe("a hostile server", () => {
  test("escapes, OSC, bidi, zero-width and a forged line are shown inert; the message is confirmed", async () => {
    const fake = fakeServer();
    const r = await script(fake.port, ["/login bob", "a password", "/list", "/who"]);
    fake.stop();
    expect(r.out).not.toMatch(RAW_UNSAFE);
    expect(r.out).toContain(
      "\\u202eevil\\x1b]0;pwned\\x07: hi \\x1b]52;c;cGF5bG9hZA==\\x07 \\x1b[2J \\u2067x\\u2069",
    );
    expect(r.out).toContain("zero\\u200bwidth \\x9b31m\\u2028sep");
    const lines = r.out.split("\n");
    const forged = lines.find((l) => l.includes("[14:05] bob: forged line"))!;
    expect(forged).toMatch(/^ +┆ \[14:05\] bob: forged line$/);
    expect([...new Set(fake.acks)]).toEqual([7]);
  });

  test("--json stays valid, with the same values, and no raw unsafe character", async () => {
    const fake = fakeServer();
    const r = await script(fake.port, ["/login bob", "a password", "/list"], ["--json"]);
    fake.stop();
    expect(r.out).not.toMatch(RAW_UNSAFE);
    const events = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === "message")).toMatchObject({ from: EVIL_NAME, text: EVIL_TEXT });
    expect(events.find((e) => e.command === "list").accounts).toEqual([{ name: EVIL_NAME, online: true }]);
  });
});
