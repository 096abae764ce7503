// `chat migrate` through the real binary: a SQLite file written by `chat serve` is copied
// into a real redis-server (AOF on), and `chat serve --data redis://…` then serves it: the
// same passwords log in and the queued messages come in order; and back into a new file.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { type RedisServer, startRedis } from "../store/redis-server";
import { loggedIn, runChat, startClient, startServer, tempDir } from "./harness";

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
    back.say("/quit");
    await back.exited;
    carol2.say("/send bob for the way back");
    expect(await carol2.reply("send")).toMatchObject({ ok: true, delivery: "queued" });
    carol2.end();
    expect(await server.stop()).toBe(0);

    // And back: Redis into a new SQLite file, served as before.
    const file = join(tempDir(), "back.db");
    const home = await runChat(["migrate", "--from", redis.url, "--to", file]);
    expect(home.err).toBe("");
    expect(home.code).toBe(0);
    expect(home.out).toContain(`to ${file}: 3 accounts, 1 waiting messages`);
    expect((statSync(file).mode & 0o777).toString(8)).toBe("600");
    const sqlite = await startServer([], file);
    const bobAgain = startClient(sqlite.port);
    bobAgain.say("/login bob", "correct horse");
    expect(await bobAgain.reply("login")).toMatchObject({ ok: true, unread: 1 });
    bobAgain.say("/check");
    await bobAgain.reply("check");
    const kept = bobAgain.events.filter((e) => e.type === "message");
    expect(kept.map((e) => e.text)).toEqual(["for the way back"]);
    expect(Number(kept[0]!.id)).toBeGreaterThan(Number(after.id));
    bobAgain.end();
    expect(await sqlite.stop()).toBe(0);
  });

  test("says what is wrong with its arguments, and has its help", async () => {
    const none = await runChat(["migrate"]);
    expect(none.code).toBe(2);
    expect(none.err).toContain("give both --from <sqlite file> and --to redis://host:port");
    const both = await runChat(["migrate", "--from", redis.url, "--to", redis.url]);
    expect(both.code).toBe(2);
    expect(both.err).toContain("one side must be a SQLite file and the other redis://host:port");
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
