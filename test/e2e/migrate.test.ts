// `chat migrate` through the real binary: a SQLite file written by `chat serve` is copied
// into a real redis-server (AOF on), and `chat serve --data redis://…` then serves it: the
// same passwords log in and the queued messages come in order.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type RedisServer, startRedis } from "../store/redis-server";
import { loggedIn, runChat, startClient, startServer } from "./harness";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

describe("chat migrate", () => {
  test("moves a SQLite deployment onto Redis: same passwords, queued messages in order", async () => {
    const old = await startServer();
    const alice = await loggedIn(old.port, "alice");
    const bob = await loggedIn(old.port, "bob");
    const carol = await loggedIn(old.port, "carol", "another secret");
    bob.say("/quit");
    await bob.exited;
    const texts = ["one", "two", "three"];
    for (const t of texts) alice.say(`/send bob ${t}`);
    for (const _ of texts) expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "queued" });
    // The running server holds the file: refused.
    const busy = await runChat(["migrate", "--from", old.dataFile, "--to", redis.url]);
    expect(busy.code).toBe(1);
    expect(busy.err).toContain("is in use by another chat server");
    alice.end();
    carol.end();
    expect(await old.stop()).toBe(0);

    const moved = await runChat(["migrate", "--from", old.dataFile, "--to", redis.url]);
    expect(moved.err).toBe("");
    expect(moved.code).toBe(0);
    expect(moved.out).toContain(
      `to redis://127.0.0.1:${redis.port}/0: 3 accounts, 3 waiting messages, 0 reserved names`,
    );
    expect(moved.out).toContain("(counted again in Redis: they match)");
    const again = await runChat(["migrate", "--from", old.dataFile, "--to", redis.url]);
    expect(again.code).toBe(1);
    expect(again.err).toContain(
      "already holds chat data; to replace it (everything there is deleted), run again with --force",
    );

    const server = await startServer([], redis.url);
    const back = startClient(server.port);
    back.say("/login bob", "correct horse");
    expect(await back.reply("login")).toMatchObject({ ok: true, unread: 3 });
    back.say("/check");
    await back.reply("check");
    const got = back.events.filter((e) => e.type === "message");
    expect(got.map((e) => [e.from, e.text])).toEqual(texts.map((t) => ["alice", t]));
    const ids = got.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const wrong = startClient(server.port);
    wrong.say("/login carol", "correct horse");
    expect(await wrong.reply("login")).toMatchObject({ ok: false });
    wrong.end();
    const carol2 = startClient(server.port);
    carol2.say("/login carol", "another secret");
    expect(await carol2.reply("login")).toMatchObject({ ok: true });
    carol2.say("/send bob after the move");
    expect(await carol2.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    const after = await back.waitFor(
      (e) => e.type === "message" && e.text === "after the move",
      "the new message",
    );
    expect(Number(after.id)).toBeGreaterThan(Math.max(...ids));
    for (const c of [back, carol2]) c.end();
    expect(await server.stop()).toBe(0);
  });

  test("says what is wrong with its arguments, and has its help", async () => {
    const none = await runChat(["migrate"]);
    expect(none.code).toBe(2);
    expect(none.err).toContain("give both --from <sqlite file> and --to redis://host:port");
    const backwards = await runChat(["migrate", "--from", redis.url, "--to", "/tmp/x.db"]);
    expect(backwards.code).toBe(2);
    expect(backwards.err).toContain("only from a SQLite file to Redis");
    const missing = await runChat(["migrate", "--from", "/nonexistent/chat.db", "--to", redis.url]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("/nonexistent/chat.db does not exist");
    const help = await runChat(["help", "migrate"]);
    expect(help.code).toBe(0);
    for (const flag of ["--from", "--to", "--force", "--skip-tokens"]) expect(help.out).toContain(flag);
    const main = await runChat(["help"]);
    expect(main.out).toContain("migrate");
  });
});
