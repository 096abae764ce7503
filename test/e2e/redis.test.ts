// `chat serve --data redis://…` through the real binary against a real redis-server (AOF
// on): start-up errors, a chat with the offline queue kept across a server restart, and
// Redis itself stopping and coming back under a running server.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type RedisServer, startRedis } from "../store/redis-server";
import { type ChatClient, freePort, loggedIn, runChat, startClient, startServer } from "./harness";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

/** Sends until the server accepts (Redis coming back), answering every refusal seen on the way. */
async function sendUntilAccepted(c: ChatClient, line: string, timeoutMs = 15_000) {
  const refusals: Record<string, unknown>[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    c.say(line);
    const r = await c.reply("send");
    if (r.ok) return { accepted: r, refusals };
    refusals.push(r);
    if (Date.now() > deadline) throw new Error(`never accepted: ${JSON.stringify(refusals.slice(-3))}`);
    await Bun.sleep(100);
  }
}

describe("chat serve --data redis://", () => {
  test("an unreachable Redis or a bad URL stops the start with a clear error and exit 1", async () => {
    const port = freePort();
    const down = await runChat([
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--data",
      `redis://127.0.0.1:${port}`,
    ]);
    expect(down.code).toBe(1);
    expect(down.err + down.out).toContain(`cannot use Redis at redis://127.0.0.1:${port}/0: unreachable`);
    const bad = await runChat(["serve", "--port", "0", "--data", "redis://:hunter2@127.0.0.1:1/x"]);
    expect(bad.code).toBe(1);
    expect(bad.err + bad.out).toContain("the database must be a number");
    expect(bad.err + bad.out).not.toContain("hunter2");
  });

  test("accounts and queued messages live in Redis: they are there after the chat server restarts", async () => {
    await redis.cli("FLUSHALL");
    const first = await startServer([], redis.url);
    await first.out.find((l) => l.includes(`data: redis redis://127.0.0.1:${redis.port}/0`), "the data line");
    const alice = await loggedIn(first.port, "alice");
    const bob = await loggedIn(first.port, "bob");
    alice.say("/send bob live one");
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    await bob.waitFor((e) => e.type === "message" && e.text === "live one", "the live message");
    bob.say("/quit");
    await bob.exited;
    for (const text of ["queued one", "queued two"]) alice.say(`/send bob ${text}`);
    for (let i = 0; i < 2; i++)
      expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "queued" });
    alice.end();
    expect(await first.stop()).toBe(0);

    const second = await startServer([], redis.url);
    const back = startClient(second.port);
    back.say("/login bob", "correct horse");
    expect(await back.reply("login")).toMatchObject({ ok: true, unread: 2 });
    back.say("/check");
    await back.reply("check");
    expect(back.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual([
      "queued one",
      "queued two",
    ]);
    back.say("/check");
    expect((await back.reply("check")).msg).toBe("no unread messages");
    back.end();
    expect(await second.stop()).toBe(0);
  });

  test("while Redis is down requests fail clearly and connections stay; then it works again by itself", async () => {
    await redis.cli("FLUSHALL");
    const server = await startServer([], redis.url);
    const carol = await loggedIn(server.port, "carol");
    const dave = await loggedIn(server.port, "dave");
    await redis.stop();
    carol.say("/send dave are you there?");
    const refused = await carol.reply("send");
    expect(refused).toMatchObject({ ok: false, status: "STORAGE_FAILED" });
    expect(String(refused.msg)).toContain("the message store (Redis) is unavailable");
    // The log says why, on whichever stream the logger writes errors to.
    const logged = (l: string) =>
      l.includes("storage: ") && l.includes("the message store (Redis) is unavailable");
    await Promise.any([
      server.out.find(logged, "the logged error"),
      server.err.find(logged, "the logged error"),
    ]);
    await redis.start();
    const { accepted } = await sendUntilAccepted(carol, "/send dave back again");
    expect(accepted).toMatchObject({ ok: true, delivery: "live" });
    await dave.waitFor(
      (e) => e.type === "message" && e.text === "back again",
      "the message after Redis came back",
    );
    // Nothing refused was stored: dave got exactly one message.
    expect(dave.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual(["back again"]);
    for (const c of [carol, dave]) c.end();
    expect(await server.stop()).toBe(0);
  });

  test("the password may come from CHAT_REDIS_PASSWORD", async () => {
    const locked = await startRedis({ password: "pa ss" });
    const bare = `redis://127.0.0.1:${locked.port}`;
    const refused = await runChat(["serve", "--host", "127.0.0.1", "--port", "0", "--data", bare]);
    expect(refused.code).toBe(1);
    expect(refused.err + refused.out).toContain("check the password");
    try {
      const server = await startServer([], bare, { prefix: ["env", "CHAT_REDIS_PASSWORD=pa ss"] });
      const erin = await loggedIn(server.port, "erin");
      erin.end();
      expect(await server.stop()).toBe(0);
    } finally {
      await locked.stop();
    }
  });
});

describe("chat serve --data rediss://", () => {
  test("speaks TLS to Redis, checking its certificate", async () => {
    const tls = await startRedis({ tls: true });
    try {
      const untrusted = await runChat(["serve", "--host", "127.0.0.1", "--port", "0", "--data", tls.url]);
      expect(untrusted.code).toBe(1);
      expect(untrusted.err + untrusted.out).toContain("a certificate for this host that this machine trusts");
      const server = await startServer([], tls.url, { prefix: ["env", `NODE_EXTRA_CA_CERTS=${tls.caFile}`] });
      await server.out.find(
        (l) => l.includes(`data: redis rediss://127.0.0.1:${tls.port}/0`),
        "the data line",
      );
      const frank = await loggedIn(server.port, "frank");
      frank.end();
      expect(await tls.cli("HLEN", "chat:{d}:key")).toBe("1");
      expect(await server.stop()).toBe(0);
    } finally {
      await tls.stop();
    }
  });
});
