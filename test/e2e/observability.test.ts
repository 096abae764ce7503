// What an operator sees: JSON log lines with the fields a log pipeline keys on and no
// message bodies, log levels, /healthz, and /metrics counts that match a scripted scenario.

import { describe, expect, test } from "bun:test";
import {
  type ChatServer,
  type Event,
  freeze,
  loggedIn,
  outputEnded,
  startClient,
  startQuietServer,
  startServer,
} from "./harness";

const HB = ["--heartbeat", "200ms", "--heartbeat-misses", "3"];
const PW = "correct horse";
const SECRET = "the eagle lands at noon";

type LogLine = Record<string, unknown>;
const parse = (l: string): LogLine | null => {
  try {
    const v = JSON.parse(l);
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
};
/** The JSON log lines of the server (stdout) carrying event, matching fields. */
const logged = (s: ChatServer, event: string, fields: LogLine = {}) =>
  s.out.all
    .map(parse)
    .filter((o): o is LogLine => o?.event === event && Object.entries(fields).every(([k, v]) => o[k] === v));
/** Waits until the server has logged `count` such events. */
async function waitLogged(s: ChatServer, event: string, fields: LogLine = {}, count = 1) {
  await s.out.find(
    () => logged(s, event, fields).length >= count,
    `${count}× ${event} ${JSON.stringify(fields)}`,
  );
  return logged(s, event, fields)[count - 1]!;
}
const message = (text: string) => (e: Event) => e.type === "message" && e.text === text;

/** Prometheus text → "name{labels}" → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  const values = new Map<string, number>();
  for (const l of (await res.text()).split("\n")) {
    const m = /^(\S+) (\S+)$/.exec(l);
    if (m && !l.startsWith("#")) values.set(m[1]!, Number(m[2]));
  }
  return values;
}

describe("logs", () => {
  test("--log-format json: every line is JSON; events carry event, account and address; no bodies", async () => {
    const server = await startServer([...HB, "--log-format", "json", "--log-level", "debug"]);
    const alice = await loggedIn(server.port, "alice", PW, HB);
    const bob = await loggedIn(server.port, "bob", PW, HB);
    alice.say(`/send bob ${SECRET}`);
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    await bob.waitFor(message(SECRET), "the message");
    await loggedIn(server.port, "bob", PW, HB); // forces the first bob out
    await waitLogged(server, "forced_logout");
    freeze(alice);
    await waitLogged(server, "dead_peer");
    await waitLogged(server, "logout", { account: "alice" });
    expect(await server.stop()).toBe(0);
    await outputEnded(server);

    const lines = [...server.out.all, ...server.err.all].filter((l) => l.trim());
    expect(lines.filter((l) => parse(l) === null)).toEqual([]);
    for (const o of lines.map(parse))
      expect(o).toMatchObject({
        time: expect.any(String),
        level: expect.any(String),
        msg: expect.any(String),
      });
    const address = "127.0.0.1";
    expect(logged(server, "connect")[0]).toMatchObject({ address, conn: expect.any(Number) });
    for (const account of ["alice", "bob"]) {
      expect(logged(server, "login", { account })[0]).toMatchObject({ address, resumed: false });
      expect(logged(server, "logout", { account })[0]).toMatchObject({ address, reason: expect.any(String) });
      expect(logged(server, "disconnect", { account })[0]).toMatchObject({ address });
    }
    expect(logged(server, "forced_logout")).toEqual([
      expect.objectContaining({ account: "bob", address, byAddress: address, level: "info" }),
    ]);
    expect(logged(server, "dead_peer")).toEqual([
      expect.objectContaining({ account: "alice", address, silentMs: expect.any(Number), level: "info" }),
    ]);
    const everything = lines.join("\n");
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(PW);
  });

  test("--log-level warn shows warnings and hides info lines", async () => {
    const server = await startQuietServer(["--log-level", "warn", "--log-format", "json"]);
    const alice = await loggedIn(server.port, "alice", PW);
    const intruder = startClient(server.port);
    intruder.say("/login alice", "wrong password");
    expect(await intruder.reply("login")).toMatchObject({ status: "BAD_CREDENTIALS" });
    await waitLogged(server, "login_failed");
    alice.say("/quit");
    expect(await alice.exited).toBe(0);
    intruder.end();
    expect(await intruder.exited).toBe(3); // its login failed
    expect(await server.stop()).toBe(0);
    await outputEnded(server);
    const lines = [...server.out.all, ...server.err.all].filter((l) => l.trim()).map(parse);
    expect(lines.map((o) => o?.level)).toEqual(["warn"]);
    expect(lines[0]).toMatchObject({ event: "login_failed", name: "alice", address: "127.0.0.1" });
  });
});

describe("metrics", () => {
  test("/healthz answers; /metrics counts exactly what a scripted scenario did", async () => {
    const server = await startServer([
      ...HB,
      "--log-format",
      "json",
      "--log-level",
      "debug",
      "--metrics-port",
      "0",
    ]);
    const announced = parse(await server.out.find((l) => l.includes('"metrics: '), "the metrics line"));
    const base = /^metrics: (http:\/\/\S+)\/metrics$/.exec(String(announced?.msg))?.[1];
    expect(base).toStartWith("http://127.0.0.1:");
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toStartWith("ok");

    // Sessions: alice and bob stay; carol quits; dave freezes (one heartbeat timeout).
    const [alice, bob, carol, dave] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map((n) => loggedIn(server.port, n, PW, HB)),
    );
    carol!.say("/quit");
    expect(await carol!.exited).toBe(0);
    freeze(dave!);
    await waitLogged(server, "dead_peer", { account: "dave" });
    dave!.proc.kill("SIGKILL");

    // Messages: 3 live to bob (confirmed), 2 queued for carol; then 3 errors.
    for (const t of ["one", "two", "three"]) alice!.say(`/send bob ${t}`);
    for (const t of ["four", "five"]) alice!.say(`/send carol ${t}`);
    for (const d of ["live", "live", "live", "queued", "queued"])
      expect(await alice!.reply("send")).toMatchObject({ ok: true, delivery: d });
    await bob!.waitFor(message("three"), "bob's third message");
    bob!.say("/list bob"); // answered after the ACKs sent before it were taken
    await bob!.reply("list");
    alice!.say("/send nobody hi", `/send bob ${"x".repeat(101)}`);
    expect(await alice!.reply("send")).toMatchObject({ status: "NO_SUCH_ACCOUNT" });
    expect(await alice!.reply("send")).toMatchObject({ status: "INVALID_TEXT" });
    const intruder = startClient(server.port, HB);
    intruder.say("/login alice", "wrong password");
    expect(await intruder.reply("login")).toMatchObject({ status: "BAD_CREDENTIALS" });
    intruder.end();
    expect(await intruder.exited).toBe(3); // its login failed
    await waitLogged(server, "disconnect", {}, 3); // carol, dave, the intruder

    const m = await scrape(`${base}/metrics`);
    const pick = (prefix: string) => Object.fromEntries([...m].filter(([k]) => k.startsWith(prefix)));
    const want = {
      chat_connections: 2,
      chat_connections_opened_total: 5,
      chat_sessions: 2,
      chat_messages_accepted_total: 5,
      chat_messages_queued_total: 2,
      chat_messages_pushed_total: 3,
      chat_messages_delivered_total: 3,
      chat_queue_depth: 2,
      chat_heartbeat_timeouts_total: 1,
      chat_logins_failed_total: 1,
    };
    expect(Object.fromEntries(Object.keys(want).map((k) => [k, m.get(k)]))).toEqual(want);
    expect(pick("chat_errors_total")).toEqual({
      'chat_errors_total{status="BAD_CREDENTIALS"}': 1,
      'chat_errors_total{status="HEARTBEAT_TIMEOUT"}': 1,
      'chat_errors_total{status="INVALID_TEXT"}': 1,
      'chat_errors_total{status="NO_SUCH_ACCOUNT"}': 1,
    });
    expect(m.get("chat_request_duration_seconds_count")).toBeGreaterThan(0);
    expect(m.get('chat_request_duration_seconds_bucket{le="+Inf"}')).toBe(
      m.get("chat_request_duration_seconds_count"),
    );
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect(await server.stop()).toBe(0);
  });
});
