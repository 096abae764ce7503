import { describe, expect, test } from "bun:test";
import { DEFAULT_OPTIONS } from "../../src/core/options";
import { Op, Status } from "../../src/wire";
import { type Client, Harness } from "./helpers";

/** Accounts ALBERT alfred Alice Bob bobby carol (Alice online), and zed logged in. */
async function directory(h: Harness): Promise<Client> {
  for (const name of ["Bob", "carol", "ALBERT", "bobby", "alfred"]) await h.offline(name);
  await h.user("Alice");
  return h.user("zed");
}

const LIST_TOKENS = DEFAULT_OPTIONS.listRequestTokens;
const names = (r: { accounts: { name: string }[] }) => r.accounts.map((a) => a.name);

describe("LIST_ACCOUNTS", () => {
  test("no pattern lists everyone, sorted ignoring case, with online flags", async () => {
    const zed = await directory(new Harness());
    const r = await zed.list("");
    expect(r).toMatchObject({ opcode: Op.LIST_ACCOUNTS, status: Status.OK, more: false, nextCursor: "" });
    expect(r.msg).toBe("7 accounts");
    expect(r.accounts).toEqual([
      { name: "ALBERT", online: false },
      { name: "alfred", online: false },
      { name: "Alice", online: true },
      { name: "Bob", online: false },
      { name: "bobby", online: false },
      { name: "carol", online: false },
      { name: "zed", online: true },
    ]);
  });

  test.each([
    ["*", ["ALBERT", "alfred", "Alice", "Bob", "bobby", "carol", "zed"]],
    ["al*", ["ALBERT", "alfred", "Alice"]],
    ["AL*", ["ALBERT", "alfred", "Alice"]],
    ["b?b", ["Bob"]],
    ["B?B*", ["Bob", "bobby"]],
    ["*Y", ["bobby"]],
    ["*r*", ["ALBERT", "alfred", "carol"]],
    ["?l*e?", ["alfred"]],
    ["bob", ["Bob"]],
    ["nobody*", []],
  ])("the pattern %j matches %j", async (pattern, expected) => {
    const zed = await directory(new Harness());
    expect(names(await zed.list(pattern))).toEqual(expected);
  });

  test("says when nothing matches", async () => {
    const zed = await directory(new Harness());
    expect(await zed.list("nobody*")).toMatchObject({
      status: Status.OK,
      msg: 'no accounts matching "nobody*"',
    });
  });

  test("pages with page_size, more, and next_cursor passed back as cursor", async () => {
    const zed = await directory(new Harness());
    const first = await zed.list("*", { pageSize: 3 });
    expect([names(first), first.more, first.msg]).toEqual([
      ["ALBERT", "alfred", "Alice"],
      true,
      '3 accounts matching "*" (more follow)',
    ]);
    const second = await zed.list("*", { pageSize: 3, cursor: first.nextCursor });
    expect([names(second), second.more]).toEqual([["Bob", "bobby", "carol"], true]);
    const third = await zed.list("*", { pageSize: 3, cursor: second.nextCursor });
    expect([names(third), third.more, third.nextCursor]).toEqual([["zed"], false, ""]);
  });

  test("paging works with a pattern too", async () => {
    const zed = await directory(new Harness());
    const first = await zed.list("*l*", { pageSize: 2 });
    const second = await zed.list("*l*", { pageSize: 2, cursor: first.nextCursor });
    expect([names(first), names(second), second.more]).toEqual([
      ["ALBERT", "alfred"],
      ["Alice", "carol"],
      false,
    ]);
  });

  test("a pattern over 64 characters is INVALID_PATTERN; 64 is fine", async () => {
    const zed = await directory(new Harness());
    expect(await zed.list("a".repeat(65))).toMatchObject({
      status: Status.INVALID_PATTERN,
      msg: "invalid pattern: the pattern is longer than 64 characters",
    });
    expect(await zed.list("*".repeat(64))).toMatchObject({ status: Status.OK });
  });

  test("a control character in the pattern is INVALID_PATTERN", async () => {
    const zed = await new Harness().user("zed");
    expect(await zed.list("a\u0000*")).toMatchObject({
      status: Status.INVALID_PATTERN,
      msg: "invalid pattern: the pattern has a control character",
    });
  });

  test("page_size over the maximum and an over-long cursor are INVALID_ARGUMENT", async () => {
    const zed = await new Harness({ maxPageSize: 5 }).user("zed");
    expect(await zed.list("*", { pageSize: 6 })).toMatchObject({ status: Status.INVALID_ARGUMENT });
    const r = await zed.list("*", { cursor: "c".repeat(201) });
    expect(r).toMatchObject({
      status: Status.INVALID_ARGUMENT,
      msg: "the cursor is not one this server gave out",
    });
  });

  test("without a session (never logged in, or forced out) is NOT_LOGGED_IN", async () => {
    const h = new Harness();
    const forcedOut = await h.user("zed");
    await h.connect().login("zed");
    for (const c of [h.connect(), forcedOut]) {
      expect(await c.list("*")).toMatchObject({ status: Status.NOT_LOGGED_IN, msg: "log in first" });
    }
  });

  test("a request examines at most listRowsPerRequest accounts: a partial page, then the next", async () => {
    const zed = await directory(new Harness({ listRowsPerRequest: 3 }));
    // Keys: albert alfred alice bob bobby carol zed.
    const first = await zed.list("*y");
    expect(first).toMatchObject({
      status: Status.OK,
      accounts: [],
      more: true,
      nextCursor: "alice",
      msg: 'no accounts matching "*y" so far (more follow)',
    });
    const second = await zed.list("*y", { cursor: first.nextCursor });
    expect([names(second), second.more, second.nextCursor]).toEqual([["bobby"], true, "carol"]);
    expect(second.msg).toBe('1 account matching "*y" (more follow)');
    const third = await zed.list("*y", { cursor: second.nextCursor });
    expect([names(third), third.more, third.nextCursor, third.msg]).toEqual([
      [],
      false,
      "",
      'no accounts matching "*y"',
    ]);
    // The literal prefix narrows what is examined: the b… accounts only.
    expect(await zed.list("b*y")).toMatchObject({ accounts: [{ name: "bobby" }], more: false });
  });

  test(`a LIST costs ${LIST_TOKENS} tokens of the request budget: SLOW_DOWN with retry_after_ms past it`, async () => {
    const h = new Harness({
      requestRate: 1000,
      requestBurst: 3 * LIST_TOKENS,
      listRequestTokens: LIST_TOKENS,
    });
    const zed = await h.user("zed");
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await zed.list("*"));
    expect(answers.slice(0, 2).map((r) => r.status)).toEqual([Status.OK, Status.OK]);
    const refused = answers.find((r) => r.status === Status.SLOW_DOWN);
    expect(refused).toMatchObject({
      msg: expect.stringMatching(/^too many listings; slow down \(try again in \d+ ms\)$/),
    });
    expect(refused!.retryAfterMs).toBeGreaterThan(0);
    // Other requests still get through on what is left.
    expect(await zed.ping()).toMatchObject({ status: Status.OK });
  });

  test("a request burst smaller than a LIST's cost still lets LISTs through, a bucketful each", async () => {
    const h = new Harness({ requestRate: 1000, requestBurst: 10 });
    const zed = await h.user("zed");
    expect(await zed.list("*")).toMatchObject({ status: Status.SLOW_DOWN });
    await h.advance(1000);
    expect(await zed.list("*")).toMatchObject({ status: Status.OK });
  });
});
