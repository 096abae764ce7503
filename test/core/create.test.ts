import { describe, expect, test } from "bun:test";
import { Op, Status } from "../../src/wire";
import { Harness } from "./helpers";

describe("CREATE_ACCOUNT", () => {
  test.each([
    ["", "invalid name: the name is empty"],
    [
      "has space",
      "invalid name: the name has a space at position 4; names may use letters, digits, _ - and .",
    ],
    ["x".repeat(26), "invalid name: the name is longer than 25 characters"],
    ["semi;colon", "invalid name: the name has ';' (U+003B) at position 5"],
    ["\u0301mark", "invalid name: the name has the combining mark U+0301 at position 1"],
  ])("the name %j is INVALID_NAME with the reason", async (name, msg) => {
    const c = new Harness().connect();
    const r = await c.create(name, "long-enough-pw");
    expect(r).toMatchObject({ opcode: Op.CREATE_ACCOUNT, status: Status.INVALID_NAME });
    expect(r.msg).toStartWith(msg);
  });

  test("a password under 8 characters is WEAK_PASSWORD and creates nothing", async () => {
    const c = new Harness().connect();
    expect(await c.create("alice", "1234567")).toMatchObject({
      status: Status.WEAK_PASSWORD,
      msg: "the password must be at least 8 characters",
    });
    expect(await c.login("alice", "1234567")).toMatchObject({ status: Status.BAD_CREDENTIALS });
    expect(await c.create("alice", "12345678")).toMatchObject({ status: Status.OK });
  });

  test("a password over 1024 bytes is WEAK_PASSWORD", async () => {
    const c = new Harness().connect();
    expect(await c.create("alice", "é".repeat(513))).toMatchObject({
      status: Status.WEAK_PASSWORD,
      msg: "the password must be at most 1024 bytes",
    });
  });

  test("a name taken in any case is NAME_TAKEN", async () => {
    const c = new Harness().connect();
    expect(await c.create("Alice")).toMatchObject({ status: Status.OK, name: "Alice" });
    const r = await c.create("aLICE");
    expect(r).toMatchObject({ status: Status.NAME_TAKEN, msg: "the name aLICE is taken" });
  });

  test("without a password the name alone is judged: NAME_TAKEN or INVALID_NAME, else NAME_AVAILABLE", async () => {
    const c = new Harness().connect();
    expect(await c.create("alice")).toMatchObject({ status: Status.OK });
    expect(await c.create("ALICE", "")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name ALICE is taken",
    });
    expect(await c.create("\u0430lice", "")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name \u0430lice is taken: it looks like the existing account alice",
    });
    expect(await c.create("p\u0430ypal", "")).toMatchObject({
      status: Status.INVALID_NAME,
      msg: "invalid name: the name mixes Latin and Cyrillic letters",
    });
    expect(await c.create("bob", "")).toMatchObject({
      status: Status.NAME_AVAILABLE,
      msg: "the name bob is free; send a password to create the account",
    });
    // Nothing was created by asking.
    expect(await c.create("bob", "long-enough-pw")).toMatchObject({ status: Status.OK });
  });

  test("the spelling at creation is kept (in NFC) and logging in ignores case", async () => {
    const h = new Harness();
    const c = h.connect();
    const r = await c.create("Zoe\u0308_Åberg", "long-enough-pw");
    expect(r).toMatchObject({ status: Status.OK, name: "Zoë_Åberg", msg: "created account Zoë_Åberg" });
    const login = await c.login("ZOË_åBERG", "long-enough-pw");
    expect(login).toMatchObject({ status: Status.OK, name: "Zoë_Åberg" });
    expect((await c.list("zoë*")).accounts).toEqual([{ name: "Zoë_Åberg", online: true }]);
  });

  test("creating does not log in", async () => {
    const c = new Harness().connect();
    await c.create("alice");
    expect(await c.check()).toMatchObject({ status: Status.NOT_LOGGED_IN, msg: "log in first" });
  });

  test("an address gets accountCreationsPerAddress new accounts, then RATE_LIMITED", async () => {
    const h = new Harness({ accountCreationsPerAddress: 2 });
    const c = h.connect("198.51.100.7");
    expect(await c.create("one")).toMatchObject({ status: Status.OK });
    expect(await c.create("two")).toMatchObject({ status: Status.OK });
    const r = await h.connect("198.51.100.7").create("three");
    expect(r).toMatchObject({ status: Status.RATE_LIMITED, retryAfterMs: 30_000 });
    expect(r.msg).toBe("too many new accounts; try again in 30 s");
    expect(await h.connect("198.51.100.8").create("three")).toMatchObject({ status: Status.OK });
    h.clock.now += 30_000;
    expect(await c.create("four")).toMatchObject({ status: Status.OK });
  });

  test("creations at once on many connections from one address still get only the address's budget", async () => {
    const h = new Harness({ accountCreationsPerAddress: 2 });
    const release = h.passwords.hold();
    const tries = Array.from({ length: 5 }, (_, i) => {
      const c = h.connect("198.51.100.7");
      return { c, id: c.post({ opcode: Op.CREATE_ACCOUNT, sender: `user${i}`, password: "long-enough-pw" }) };
    });
    await h.settle();
    release();
    await h.settle();
    const statuses = tries.map(({ c, id }) => c.reply(id).status);
    expect(statuses.filter((s) => s === Status.OK)).toHaveLength(2);
    expect(statuses.filter((s) => s === Status.RATE_LIMITED)).toHaveLength(3);
  });
});
