// Liveness through the real binary: heartbeats find frozen clients and half-open
// connections, clients reconnect and resume after a server crash, shut down gracefully,
// and do not reconnect when the session was ended on purpose.

import { describe, expect, test } from "bun:test";
import {
  type ChatClient,
  type Event,
  freeze,
  loggedIn,
  outputEnded,
  serverLine,
  startServer,
} from "./harness";
import { startProxy } from "./proxy";

/** Short heartbeats on both sides: a silent peer is dead after 600 ms. */
const HB = ["--heartbeat", "200ms", "--heartbeat-misses", "3"];
const DEAD_MS = 600;
/** Timer granularity (50 ms ticks), process scheduling and log pipes. */
const MARGIN_MS = 500;
const PW = "correct horse";

const is = (type: string) => (e: Event) => e.type === type;
const message = (text: string) => (e: Event) => e.type === "message" && e.text === text;
const line = (re: RegExp) => (l: string) => re.test(l);
/** Milliseconds from `since` until p resolves. */
const timed = async (p: Promise<unknown>, since: number) => {
  await p;
  return Date.now() - since;
};
/** Index of the first event of type in c's output (-1 if none). */
const indexOf = (c: ChatClient, type: string) => c.events.findIndex(is(type));

describe("heartbeats", () => {
  test("a client following the server's announced heartbeat stays connected while idle", async () => {
    const server = await startServer(HB);
    // No --heartbeat on the client: its own default (15 s) is far longer than the server's.
    const alice = await loggedIn(server.port, "alice");
    const bob = await loggedIn(server.port, "bob", PW, HB);
    await Bun.sleep(DEAD_MS * 2); // must NOT be dropped in this time
    expect([...server.out.all, ...server.err.all].filter(line(/dead peer|logged out/))).toEqual([]);
    expect(alice.events.filter(is("lost"))).toEqual([]);
    bob.say("/send alice still there?");
    expect(await bob.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    await alice.waitFor(message("still there?"), "the live message");
    await server.stop();
  });

  test("a frozen client is logged out within heartbeat × misses; its messages wait for it", async () => {
    const server = await startServer(HB);
    const alice = await loggedIn(server.port, "alice", PW, HB);
    const bob = await loggedIn(server.port, "bob", PW, HB);
    const frozenAt = Date.now();
    freeze(bob);
    const dead = serverLine(server, line(/dead peer: bob connection \d+/), "bob's dead peer", 5000);
    expect(await timed(dead, frozenAt)).toBeLessThan(DEAD_MS + MARGIN_MS);
    await serverLine(server, line(/bob logged out on connection \d+/), "bob's logout", 1000);
    alice.say("/send bob are you frozen?");
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "queued" });

    bob.proc.kill("SIGCONT");
    expect(await bob.waitFor(is("lost"), "bob noticing the loss")).toMatchObject({ reconnecting: true });
    // bob had seen everything before the outage, so what waited is shown at once.
    expect(await bob.waitFor(is("reconnected"), "bob's reconnection")).toMatchObject({
      resumed: "bob",
      unread: 1,
      showing: true,
    });
    await bob.waitFor(message("are you frozen?"), "the waiting message");
    bob.say("/check");
    expect(await bob.reply("check")).toMatchObject({ ok: true, msg: "no unread messages" });
    expect(bob.events.filter(message("are you frozen?"))).toHaveLength(1);
    await server.stop();
  });

  test("a half-open connection is detected by both sides within heartbeat × misses", async () => {
    const server = await startServer(HB);
    const proxy = startProxy(server.port);
    const bob = await loggedIn(proxy.port, "bob", PW, [...HB, "--no-reconnect"]);
    const droppedAt = Date.now();
    proxy.drop();
    const [serverMs, clientMs] = await Promise.all([
      timed(
        serverLine(server, line(/dead peer: bob connection \d+/), "the server's dead peer", 5000),
        droppedAt,
      ),
      timed(bob.waitFor(is("lost"), "the client's loss report", 5000), droppedAt),
    ]);
    expect(serverMs).toBeLessThan(DEAD_MS + MARGIN_MS);
    expect(clientMs).toBeLessThan(DEAD_MS + MARGIN_MS);
    await serverLine(server, line(/bob logged out on connection \d+/), "bob's logout", 1000);
    const lost = bob.events.find(is("lost"))!;
    expect(lost).toMatchObject({ reconnecting: false });
    expect(String(lost.msg)).toContain("no answer from the server");
    expect(await bob.exited).toBe(1);
    proxy.stop();
    await server.stop();
  });
});

describe("reconnection", () => {
  test("after a SIGKILL and restart clients resume, resend once and keep chatting", async () => {
    let server = await startServer(HB);
    const { port, dataFile } = server;
    const alice = await loggedIn(port, "alice", PW, HB);
    const bob = await loggedIn(port, "bob", PW, HB);
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    for (const c of [alice, bob])
      expect(await c.waitFor(is("lost"), "the loss")).toMatchObject({ reconnecting: true });
    alice.say("/send bob sent while the server was down");
    // An attempt against the dead server has failed: alice has been waiting for a while.
    await alice.waitFor((e) => e.type === "reconnecting" && e.attempt === 2, "a failed attempt");

    server = await startServer(["--port", String(port), ...HB], dataFile);
    for (const [c, name] of [
      [alice, "alice"],
      [bob, "bob"],
    ] as const)
      expect(await c.waitFor(is("reconnected"), `${name}'s reconnection`)).toMatchObject({ resumed: name });
    const first = await alice.reply("send");
    expect(first).toMatchObject({ ok: true });
    if (first.delivery === "queued") bob.say("/check"); // bob resumed after it was stored
    await bob.waitFor(message("sent while the server was down"), "the waiting message");

    alice.say("/send bob after the restart");
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    await bob.waitFor(message("after the restart"), "the live message");
    bob.say("/send alice got both");
    expect(await bob.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    await alice.waitFor(message("got both"), "bob's answer");
    // Everything before the later message has arrived by now: nothing came twice.
    expect(bob.events.filter(message("sent while the server was down"))).toHaveLength(1);
    expect(alice.events.filter((e) => e.type === "reply" && e.command === "send")).toHaveLength(2);
    await server.stop();
  });
});

describe("graceful shutdown", () => {
  test.each(["SIGTERM", "SIGINT"] as const)(
    "%s: the server exits 0 promptly; clients are told, retry, then give up",
    async (signal) => {
      const server = await startServer(HB);
      const clients = await Promise.all(
        ["a", "b", "c"].map((n) =>
          loggedIn(server.port, `${signal}_${n}`, PW, [...HB, "--give-up-after", "1s"]),
        ),
      );
      const started = Date.now();
      expect(await server.stop(signal)).toBe(0);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(server.out.all.join("\n")).toContain("server stopped");
      for (const c of clients) {
        expect(await c.exited).toBe(1);
        expect(Date.now() - started).toBeLessThan(1000 + 1500); // --give-up-after, and margin
        expect(c.events.find(is("notice"))).toMatchObject({
          status: "SHUTTING_DOWN",
          msg: "the server is shutting down; try again later",
        });
        expect(c.events.find(is("lost"))).toMatchObject({ reconnecting: true });
        const order = ["notice", "lost", "reconnecting", "gave_up"].map((t) => indexOf(c, t));
        expect(order.every((i) => i >= 0)).toBe(true);
        expect([...order].sort((x, y) => x - y)).toEqual(order);
        expect(String(c.events.find(is("gave_up"))!.msg)).toContain("gave up reconnecting");
      }
    },
  );

  test("two signals in quick succession end the server at once", async () => {
    // Default heartbeats: this is about signals, and a loaded machine must not drop a client first.
    const server = await startServer();
    await Promise.all(["x", "y", "z"].map((n) => loggedIn(server.port, n, PW)));
    const started = Date.now();
    server.proc.kill("SIGTERM");
    server.proc.kill("SIGINT");
    const code = await server.proc.exited;
    expect(Date.now() - started).toBeLessThan(1000);
    // Both are pending at once, so either may be taken first. The graceful stop can finish
    // within the first signal's turn of the event loop (rarely, ~1 run in 100): then the
    // second one is never taken and the exit is the graceful one.
    await outputEnded(server);
    const output = [...server.out.all, ...server.err.all].join("\n");
    if (code === 1) expect(output).toMatch(/SIG(INT|TERM) again: exiting at once/);
    else expect({ code, stopped: output.includes("server stopped") }).toEqual({ code: 0, stopped: true });
  });
});

describe("reconnect policy", () => {
  test("a session ended by a login elsewhere is not resumed, and the new one is not kicked", async () => {
    const server = await startServer([...HB, "--login-timeout", "1s", "--log-level", "debug"]);
    // The clients' own liveness is not what this is about: a loaded machine must not make the
    // logged-out one look lost (and reconnect) before the server closes it.
    const calm = ["--heartbeat", "2s", "--heartbeat-misses", "3"];
    const first = await loggedIn(server.port, "erin", PW, calm);
    const second = await loggedIn(server.port, "erin", PW, calm);
    const ended = await first.waitFor(is("session_ended"), "the forced logout notice");
    expect(String(ended.msg)).toContain("logged in elsewhere");
    // The server closes the logged-out connection at the login timeout: still no reconnection.
    const forced = await serverLine(server, line(/erin on connection \d+ .* forced out/), "forced out");
    const conn = /connection (\d+)/.exec(forced)![1];
    await serverLine(server, line(new RegExp(`connection ${conn} from \\S+ closed`)), "its close", 3000);
    await Bun.sleep(600); // longer than the first reconnection backoff (at most 200 ms)
    expect(first.events.filter((e) => ["lost", "reconnecting", "reconnected"].includes(e.type))).toEqual([]);
    expect(first.proc.exitCode).toBeNull(); // still running, quietly logged out
    expect(server.out.all.filter(line(/forced out/))).toHaveLength(1);
    expect(second.events.filter(is("session_ended"))).toEqual([]);
    second.say("/check");
    expect(await second.reply("check")).toMatchObject({ ok: true });
    await server.stop();
  });

  test("/quit exits 0 and does not reconnect", async () => {
    const server = await startServer([...HB, "--log-level", "debug"]); // connections are logged at debug
    const frank = await loggedIn(server.port, "frank", PW, HB);
    frank.say("/quit");
    expect(await frank.reply("quit")).toMatchObject({ ok: true, msg: "logged out of frank; bye" });
    expect(await frank.exited).toBe(0);
    expect(frank.events.filter((e) => ["lost", "reconnecting"].includes(e.type))).toEqual([]);
    await serverLine(server, line(/frank logged out on connection \d+: quit/), "frank's logout");
    expect(server.out.all.filter(line(/connection \d+ from [\d.]+$/))).toHaveLength(1);
    await server.stop();
  });
});
