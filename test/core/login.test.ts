import { describe, expect, test } from "bun:test";
import { Delivery, Op, Push, Status } from "../../src/wire";
import { Harness, pw } from "./helpers";

describe("LOG_IN", () => {
  test("answers with the account's spelling, the unread count and a session token", async () => {
    const h = new Harness();
    await h.offline("Bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "one");
    await alice.sendTo("bob", "two");
    const r = await h.connect().login("BOB", pw("Bob"));
    expect(r).toMatchObject({ opcode: Op.LOG_IN, status: Status.OK, name: "Bob", unread: 2 });
    expect(r.msg).toBe("logged in as Bob — 2 unread");
    expect(r.token.length).toBeGreaterThanOrEqual(32);
  });

  test("an unknown account and a wrong password get the same BAD_CREDENTIALS answer", async () => {
    const h = new Harness();
    await h.offline("alice");
    const c = h.connect();
    const unknown = await c.login("nobody", "some-password");
    const wrong = await c.login("alice", "not-the-password");
    expect(unknown).toMatchObject({ status: Status.BAD_CREDENTIALS, msg: "wrong account name or password" });
    expect(wrong).toMatchObject({ status: Status.BAD_CREDENTIALS, msg: unknown.msg });
    expect(await c.check()).toMatchObject({ status: Status.NOT_LOGGED_IN });
  });

  test("no name is INVALID_NAME", async () => {
    const r = await new Harness().connect().login("", "whatever-pw");
    expect(r).toMatchObject({ status: Status.INVALID_NAME, msg: "give the account name to log in to" });
  });

  test("logging in again to the same account on the same connection is ALREADY_LOGGED_IN", async () => {
    const h = new Harness();
    const alice = await h.user("alice");
    const r = await alice.login("ALICE");
    expect(r).toMatchObject({ status: Status.ALREADY_LOGGED_IN, msg: "already logged in as alice" });
  });

  test("a failed login leaves the connection's session as it was", async () => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    expect(await alice.login("bob", "not-bobs-password")).toMatchObject({ status: Status.BAD_CREDENTIALS });
    expect(await alice.sendTo("alice", "still me")).toMatchObject({ status: Status.OK });
    expect(alice.delivered()).toMatchObject([{ sender: "alice" }]);
  });

  test("logging in to another account switches: the first account goes offline", async () => {
    const h = new Harness();
    await h.offline("bob");
    const carol = await h.user("carol");
    const c = await h.user("alice");
    expect(await c.login("bob")).toMatchObject({ status: Status.OK, name: "bob" });
    expect((await carol.list("*")).accounts).toEqual([
      { name: "alice", online: false },
      { name: "bob", online: true },
      { name: "carol", online: true },
    ]);
    expect(await carol.sendTo("alice", "hi")).toMatchObject({ delivery: Delivery.QUEUED });
    expect(h.eventsOf("logout")).toMatchObject([{ account: "alice", reason: "switched to bob" }]);
  });

  test("logging in elsewhere pushes LOGGED_IN_ELSEWHERE to the old connection, which gets no more messages", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const old = await h.user("alice", "203.0.113.1");
    const fresh = h.connect("203.0.113.2");
    await fresh.login("alice");
    expect(old.pushes(Push.LOGGED_OUT)).toMatchObject([
      {
        status: Status.LOGGED_IN_ELSEWHERE,
        requestId: 0,
        msg: "logged out: alice logged in elsewhere (203.0.113.2)",
      },
    ]);
    expect(await bob.sendTo("alice", "where are you")).toMatchObject({ delivery: Delivery.LIVE });
    expect(fresh.texts()).toEqual(["where are you"]);
    expect(old.texts()).toEqual([]);
    expect(await old.sendTo("bob", "hi")).toMatchObject({ status: Status.NOT_LOGGED_IN });
  });

  test("failed logins per account and address: RATE_LIMITED with retryAfterMs, even for the right password", async () => {
    const h = new Harness({ loginFailuresPerAccountAddress: 2 });
    await h.offline("alice");
    const at = "198.51.100.7";
    await h.connect(at).login("alice", "guess-one");
    await h.connect(at).login("alice", "guess-two");
    const r = await h.connect(at).login("alice");
    expect(r).toMatchObject({ status: Status.RATE_LIMITED, retryAfterMs: 30_000 });
    expect(r.msg).toBe("too many failed attempts; try again in 30 s");
    expect(await h.connect(at).login("bob", "other-name")).toMatchObject({ status: Status.BAD_CREDENTIALS });
    // The owner, from an address without failures, is not kept out.
    expect(await h.connect("198.51.100.8").login("alice")).toMatchObject({ status: Status.OK });
    h.clock.now += 30_000;
    expect(await h.connect(at).login("alice")).toMatchObject({ status: Status.OK });
  });

  test("per account: once spent, addresses that failed recently are refused; a fresh address still gets in", async () => {
    const h = new Harness({ loginFailuresPerAccount: 2 });
    await h.offline("alice");
    await h.connect("203.0.113.1").login("alice", "guess-one");
    await h.connect("203.0.113.2").login("alice", "guess-two");
    // The budget is spent: 203.0.113.1 failed recently, so it waits even with the right password.
    const r = await h.connect("203.0.113.1").login("alice");
    expect(r).toMatchObject({ status: Status.RATE_LIMITED });
    expect(r.retryAfterMs).toBeGreaterThan(0);
    // A new address gets one guess; then it too has failed recently.
    expect(await h.connect("203.0.113.3").login("alice", "guess-three")).toMatchObject({
      status: Status.BAD_CREDENTIALS,
    });
    expect(await h.connect("203.0.113.3").login("alice", "guess-four")).toMatchObject({
      status: Status.RATE_LIMITED,
    });
    // The owner, from an address that has not failed, logs in whatever the attack.
    expect(await h.connect("198.51.100.20").login("alice")).toMatchObject({ status: Status.OK });
    // After RECENT_FAILURE_MS (15 min) the failures are forgotten.
    h.clock.now += 15 * 60_000;
    expect(await h.connect("203.0.113.1").login("alice")).toMatchObject({ status: Status.OK });
  });

  test("failed logins per address: RATE_LIMITED for every account from that address only", async () => {
    const h = new Harness({ loginFailuresPerAddress: 2 });
    await h.offline("alice");
    const c = h.connect("198.51.100.9");
    await c.login("ghost1", "guess-one");
    await c.login("ghost2", "guess-two");
    const r = await h.connect("198.51.100.9").login("alice");
    expect(r).toMatchObject({ status: Status.RATE_LIMITED });
    expect(r.retryAfterMs).toBeGreaterThan(0);
    expect(await h.connect("198.51.100.10").login("alice")).toMatchObject({ status: Status.OK });
  });

  test("guesses made at once on many connections still get only the budget of their address", async () => {
    const h = new Harness({ loginFailuresPerAccountAddress: 2 });
    await h.offline("alice");
    const release = h.passwords.hold();
    const guesses = Array.from({ length: 10 }, (_, i) => {
      const c = h.connect("198.51.100.30");
      return { c, id: c.post({ opcode: Op.LOG_IN, sender: "alice", password: `guess-${i}-pw` }) };
    });
    await h.settle();
    release();
    await h.settle();
    const statuses = guesses.map(({ c, id }) => c.reply(id).status);
    expect(statuses.filter((s) => s === Status.BAD_CREDENTIALS).length).toBeLessThanOrEqual(2);
    expect(statuses.filter((s) => s === Status.RATE_LIMITED).length).toBeGreaterThanOrEqual(8);
  });

  test("guesses at once from many addresses: past the account's budget, one per address", async () => {
    const h = new Harness({ loginFailuresPerAccount: 2 });
    await h.offline("alice");
    const release = h.passwords.hold();
    const guesses = Array.from({ length: 15 }, (_, i) => {
      const c = h.connect(`203.0.113.${50 + (i % 5)}`);
      return { c, id: c.post({ opcode: Op.LOG_IN, sender: "alice", password: `guess-${i}-pw` }) };
    });
    await h.settle();
    release();
    await h.settle();
    const statuses = guesses.map(({ c, id }) => c.reply(id).status);
    expect(statuses.filter((s) => s === Status.BAD_CREDENTIALS).length).toBeLessThanOrEqual(2 + 5);
    expect(statuses.filter((s) => s === Status.RATE_LIMITED).length).toBeGreaterThanOrEqual(8);
  });

  test("successful logins cost nothing from the failure budgets", async () => {
    const h = new Harness({ loginFailuresPerAccount: 1, loginFailuresPerAddress: 1 });
    await h.offline("alice");
    for (let i = 0; i < 10; i++) {
      const c = h.connect("198.51.100.11");
      expect(await c.login("alice")).toMatchObject({ status: Status.OK });
      c.hangUp();
    }
  });
});

describe("RESUME and session tokens", () => {
  test("RESUME with the login's token logs in without the password", async () => {
    const h = new Harness();
    const first = await h.user("alice");
    const { token } = first.reply(2);
    first.hangUp();
    const r = await h.connect().resumeWith(token);
    expect(r).toMatchObject({ opcode: Op.RESUME, status: Status.OK, name: "alice", unread: 0, token: "" });
    expect(r.msg).toBe("resumed session as alice — no unread");
    expect(h.eventsOf("login").at(-1)).toMatchObject({ account: "alice", resumed: true });
  });

  test("an unknown, empty or expired token is INVALID_TOKEN", async () => {
    const h = new Harness({ sessionTtlMs: 60_000 });
    const { token } = await (await h.user("alice")).reply(2);
    const c = h.connect();
    expect(await c.resumeWith("made-up-token")).toMatchObject({
      status: Status.INVALID_TOKEN,
      msg: "the session has expired or was ended; log in with your password",
    });
    expect(await c.resumeWith("")).toMatchObject({
      status: Status.INVALID_TOKEN,
      msg: "no valid session token given; log in with your password",
    });
    h.clock.now += 60_000;
    expect(await c.resumeWith(token)).toMatchObject({ status: Status.INVALID_TOKEN });
  });

  test("RESUME of the account this connection is already logged in as is ALREADY_LOGGED_IN", async () => {
    const h = new Harness();
    const alice = await h.user("alice");
    expect(await alice.resumeWith(alice.reply(2).token)).toMatchObject({ status: Status.ALREADY_LOGGED_IN });
  });

  test("a login elsewhere revokes the forced-out session's token", async () => {
    const h = new Harness();
    const old = await h.user("alice");
    const { token } = old.reply(2);
    const fresh = h.connect();
    const { token: freshToken } = await fresh.login("alice");
    expect(await h.connect().resumeWith(token)).toMatchObject({ status: Status.INVALID_TOKEN });
    expect(await h.connect().resumeWith(freshToken)).toMatchObject({ status: Status.OK });
  });

  test("a RESUME that forces out a half-open connection with the same token keeps the token", async () => {
    const h = new Harness();
    const halfOpen = await h.user("alice");
    const { token } = halfOpen.reply(2);
    const back = h.connect();
    expect(await back.resumeWith(token)).toMatchObject({ status: Status.OK });
    expect(halfOpen.pushes(Push.LOGGED_OUT)).toMatchObject([{ status: Status.LOGGED_IN_ELSEWHERE }]);
    expect(halfOpen.last().msg).toContain("alice resumed elsewhere");
    expect(await h.connect().resumeWith(token)).toMatchObject({ status: Status.OK });
  });

  test("QUIT revokes the token; a dropped connection does not", async () => {
    const h = new Harness();
    const dropped = await h.user("alice");
    const { token: kept } = dropped.reply(2);
    dropped.hangUp();
    expect(await h.connect().resumeWith(kept)).toMatchObject({ status: Status.OK });
    const quitter = h.connect();
    const { token } = await quitter.login("alice");
    await quitter.request({ opcode: Op.QUIT });
    expect(await h.connect().resumeWith(token)).toMatchObject({ status: Status.INVALID_TOKEN });
  });

  test("a RESUME with a token from before a password LOG_IN fails, and does not log that LOG_IN out", async () => {
    const h = new Harness();
    const earlier = await h.user("alice");
    const { token } = earlier.reply(2);
    earlier.hangUp();
    const c = h.connect();
    const release = h.store.hold("countPending");
    const id = c.post({ opcode: Op.LOG_IN, sender: "alice", password: pw("alice") });
    await h.settle();
    const other = h.connect();
    const resumed = other.post({ opcode: Op.RESUME, token });
    await h.settle();
    release();
    await h.settle();
    expect(other.reply(resumed)).toMatchObject({ status: Status.INVALID_TOKEN });
    expect(c.pushes(Push.LOGGED_OUT)).toEqual([]);
    expect(c.reply(id)).toMatchObject({ status: Status.OK });
  });

  test("a password login revokes the tokens of dropped connections; QUIT revokes every token", async () => {
    const h = new Harness();
    const first = await h.user("alice");
    const stale = first.reply(2).token;
    first.hangUp();
    const live = h.connect();
    expect(await live.login("alice")).toMatchObject({ status: Status.OK });
    expect(await h.connect().resumeWith(stale)).toMatchObject({ status: Status.INVALID_TOKEN });
    expect(live.pushes(Push.LOGGED_OUT)).toEqual([]);
    const fresh = live.responses().find((r) => r.opcode === Op.LOG_IN && r.token)!.token;
    expect(await live.request({ opcode: Op.QUIT })).toMatchObject({ status: Status.OK });
    expect(await h.connect().resumeWith(fresh)).toMatchObject({ status: Status.INVALID_TOKEN });
  });

  test("switching accounts revokes the token of the account left", async () => {
    const h = new Harness();
    await h.offline("bob");
    const c = await h.user("alice");
    await c.login("bob", pw("bob"));
    expect(await h.connect().resumeWith(c.reply(2).token)).toMatchObject({ status: Status.INVALID_TOKEN });
  });
});
