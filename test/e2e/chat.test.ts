// Two people chatting through the real binary: live messages, the offline queue, forced
// logout, deletion with unread messages, listing, quitting.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChatServer, loggedIn, startClient, startServer } from "./harness";

let server: ChatServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

describe("chat connect against chat serve", () => {
  test("two users chat live, in order, each message confirmed", async () => {
    const alice = await loggedIn(server.port, "alice");
    const bob = await loggedIn(server.port, "bob");
    alice.say("/send bob hi bob", "second line goes to bob too");
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    const first = await bob.waitFor((e) => e.type === "message" && e.text === "hi bob", "hi bob");
    const second = await bob.waitFor(
      (e) => e.type === "message" && e.text === "second line goes to bob too",
      "line 2",
    );
    expect(first).toMatchObject({ from: "alice" });
    expect(Number(second.id)).toBeGreaterThan(Number(first.id));
    bob.say("/send alice hello alice");
    await alice.waitFor(
      (e) => e.type === "message" && e.from === "bob" && e.text === "hello alice",
      "bob's answer",
    );
    alice.say("/quit");
    bob.say("/quit");
    expect(await alice.exited).toBe(0);
    expect(await bob.exited).toBe(0);
  });

  test("messages to an offline user are queued, then fetched with /check oldest first", async () => {
    const carol = await loggedIn(server.port, "carol");
    carol.say("/quit");
    await carol.exited;
    const dave = await loggedIn(server.port, "dave");
    for (const text of ["one", "two", "three"]) dave.say(`/send carol ${text}`);
    for (let i = 0; i < 3; i++)
      expect(await dave.reply("send")).toMatchObject({ ok: true, delivery: "queued" });
    const back = startClient(server.port);
    back.say("/login carol", "correct horse");
    expect(await back.reply("login")).toMatchObject({ ok: true, unread: 3 });
    back.say("/check");
    const check = await back.reply("check");
    expect(check).toMatchObject({ ok: true });
    const texts = back.events.filter((e) => e.type === "message").map((e) => e.text);
    expect(texts).toEqual(["one", "two", "three"]);
    back.say("/check");
    expect((await back.reply("check")).msg).toBe("no unread messages");
    back.end();
    dave.end();
    expect(await back.exited).toBe(0);
  });

  test("logging in elsewhere forces the other session out and tells it why", async () => {
    const first = await loggedIn(server.port, "erin");
    const second = startClient(server.port);
    second.say("/login erin", "correct horse");
    expect(await second.reply("login")).toMatchObject({ ok: true });
    const ended = await first.waitFor((e) => e.type === "session_ended", "forced logout notice");
    expect(String(ended.msg)).toContain("logged in elsewhere");
    // Messages now reach only the new session.
    const frank = await loggedIn(server.port, "frank");
    frank.say("/send erin for the new session");
    await second.waitFor(
      (e) => e.type === "message" && e.text === "for the new session",
      "message at new session",
    );
    expect(first.events.some((e) => e.type === "message")).toBe(false);
    first.say("/check");
    expect(await first.reply("check")).toMatchObject({ ok: false, status: "NOT_LOGGED_IN" });
    for (const c of [first, second, frank]) c.end();
  });

  test("deleting an account hands over unread messages first, then the name is free (--name-reuse-after 0)", async () => {
    // Names of deleted accounts are reserved by default (test/e2e/identity.test.ts).
    const server = await startServer(["--name-reuse-after", "0"]);
    const gina = await loggedIn(server.port, "gina");
    gina.say("/quit");
    await gina.exited;
    const hank = await loggedIn(server.port, "hank");
    hank.say("/send gina before you go");
    await hank.reply("send");
    const back = startClient(server.port);
    back.say("/login gina", "correct horse", "/delete", "correct horse");
    await back.reply("login");
    const del = await back.reply("delete");
    expect(del).toMatchObject({ ok: true });
    expect(String(del.msg)).toContain("1 unread message was handed over");
    expect(back.events.find((e) => e.type === "message")).toMatchObject({
      from: "hank",
      text: "before you go",
    });
    hank.say("/send gina anyone there?");
    expect(await hank.reply("send")).toMatchObject({ ok: false, status: "NO_SUCH_ACCOUNT" });
    const reborn = await loggedIn(server.port, "GINA", "another password");
    expect(reborn.events.find((e) => e.type === "reply" && e.command === "login")).toMatchObject({
      name: "GINA",
    });
    reborn.say("/check");
    expect((await reborn.reply("check")).msg).toBe("no unread messages");
    for (const c of [back, hank, reborn]) c.end();
    await server.stop();
  });

  test("listing accounts with patterns, sorted, with online marks", async () => {
    const names = ["Zed_1", "zara", "zoe.x"];
    const clients = await Promise.all(names.map((n) => loggedIn(server.port, n)));
    clients[2]!.say("/quit");
    await clients[2]!.exited;
    const me = clients[0]!;
    me.say("/list z*");
    const all = await me.reply("list");
    expect(all.accounts).toEqual([
      { name: "zara", online: true },
      { name: "Zed_1", online: true },
      { name: "zoe.x", online: false },
    ]);
    me.say("/list z?e*");
    expect((await me.reply("list")).accounts).toEqual([{ name: "zoe.x", online: false }]);
    me.say("/list nobody*");
    expect(await me.reply("list")).toMatchObject({ ok: true, msg: 'no accounts matching "nobody*"' });
    for (const c of clients) c.end();
  });

  test("quit without a session says so and still exits 0", async () => {
    const c = startClient(server.port);
    c.say("/quit");
    expect(await c.reply("quit")).toMatchObject({
      ok: false,
      status: "NOT_LOGGED_IN",
      msg: "there was no session to log out of; bye",
    });
    expect(await c.exited).toBe(0);
  });

  test("errors are specific: bad names, long messages, unknown recipients, wrong passwords", async () => {
    const c = startClient(server.port);
    c.say("/create bad name", "/create x", "short", "/login nobody_here", "whatever pw");
    expect((await c.waitFor((e) => e.type === "error", "bad /create")).msg).toContain("one name");
    expect(await c.reply("create")).toMatchObject({ ok: false, status: "WEAK_PASSWORD" });
    expect(await c.reply("login")).toMatchObject({
      ok: false,
      status: "BAD_CREDENTIALS",
      msg: "wrong account name or password",
    });
    c.say("/create ivan", "correct horse");
    await c.reply("login");
    c.say(`/send ivan ${"x".repeat(101)}`, "/send nobody_here hi", "/frobnicate");
    expect(await c.reply("send")).toMatchObject({ ok: false, status: "INVALID_TEXT" });
    expect(await c.reply("send")).toMatchObject({
      ok: false,
      status: "NO_SUCH_ACCOUNT",
      msg: "no account named nobody_here",
    });
    expect(
      (await c.waitFor((e) => e.type === "error" && String(e.msg).includes("frobnicate"), "unknown command"))
        .msg,
    ).toContain("/help");
    c.end();
    // Some commands failed: a script learns it from the exit status.
    expect(await c.exited).toBe(3);
  });
});
