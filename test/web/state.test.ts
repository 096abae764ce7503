import { describe, expect, test } from "bun:test";
import { initialState, lastSent, MAX_LINES, reduce, type State, totalUnread } from "../../src/web/app/state";

const msg = (id: number, sender: string, text = `m${id}`) => ({ id, sender, text, sentAt: 1000 * id });
const loggedIn = (): State =>
  reduce(initialState, { type: "logged_in", name: "alice", unread: 0, resumed: false });

describe("state", () => {
  test("login says how many are unread", () => {
    const s = reduce(initialState, { type: "logged_in", name: "alice", unread: 3, resumed: false });
    expect(s.me).toBe("alice");
    expect(s.notice).toEqual({ kind: "info", text: "logged in as alice: 3 unread" });
    expect(totalUnread(s)).toBe(3);
    expect(totalUnread(reduce(s, { type: "fetched", unread: 0 }))).toBe(0);
  });

  test("received messages land in their sender's conversation, unread unless it is open and seen", () => {
    let s = loggedIn();
    s = reduce(s, { type: "received", messages: [msg(1, "bob"), msg(2, "carol")], reading: true });
    expect(s.conversations.map((c) => [c.peer, c.unread])).toEqual([
      ["carol", 1],
      ["bob", 1],
    ]);
    s = reduce(s, { type: "open", peer: "bob" });
    expect(s.conversations.find((c) => c.peer === "bob")!.unread).toBe(0);
    s = reduce(s, { type: "received", messages: [msg(3, "bob")], reading: true });
    expect(s.conversations.find((c) => c.peer === "bob")!.unread).toBe(0);
    s = reduce(s, { type: "received", messages: [msg(4, "bob")], reading: false });
    expect(s.conversations.find((c) => c.peer === "bob")!.unread).toBe(1);
    expect(s.conversations[0]!.peer).toBe("bob"); // most recent first
  });

  test("a redelivered id is not shown twice", () => {
    let s = loggedIn();
    s = reduce(s, { type: "received", messages: [msg(5, "bob")], reading: false });
    s = reduce(s, { type: "received", messages: [msg(5, "bob"), msg(6, "bob")], reading: false });
    expect(s.conversations[0]!.lines.map((l) => l.key)).toEqual(["in:5", "in:6"]);
  });

  test("text is kept as given (the view renders it as text)", () => {
    const s = reduce(loggedIn(), {
      type: "received",
      messages: [msg(1, "bob", "<script>alert(1)</script>\u202Eevil")],
      reading: false,
    });
    expect(s.conversations[0]!.lines[0]!.text).toBe("<script>alert(1)</script>\u202Eevil");
  });

  test("a send goes sending → sent / queued / failed, and Up recalls the last one sent", () => {
    let s = loggedIn();
    s = reduce(s, { type: "send_started", key: "out:1", to: "bob", text: "hi", at: 1 });
    s = reduce(s, { type: "send_started", key: "out:2", to: "bob", text: "there", at: 2 });
    s = reduce(s, { type: "send_started", key: "out:3", to: "bob", text: "x".repeat(101), at: 3 });
    expect(s.active).toBe("bob");
    s = reduce(s, { type: "send_answered", key: "out:1", ok: true, queued: false });
    s = reduce(s, { type: "send_answered", key: "out:2", ok: true, queued: true });
    s = reduce(s, { type: "send_answered", key: "out:3", ok: false, queued: false, error: "too long" });
    expect(s.conversations[0]!.lines.map((l) => [l.state, l.error])).toEqual([
      ["sent", undefined],
      ["queued", undefined],
      ["failed", "too long"],
    ]);
    expect(lastSent(s, "bob")).toBe("x".repeat(101));
    expect(lastSent(s, "nobody")).toBeNull();
  });

  test("a forced logout keeps the conversations and says why; a chosen one clears them", () => {
    let s = reduce(loggedIn(), { type: "received", messages: [msg(1, "bob")], reading: false });
    const forced = reduce(s, { type: "logged_out", reason: "logged in elsewhere" });
    expect(forced.me).toBeNull();
    expect(forced.loggedOutBecause).toBe("logged in elsewhere");
    expect(forced.conversations).toHaveLength(1);
    s = reduce(s, { type: "logged_out", reason: null });
    expect(s.conversations).toEqual([]);
    expect(s.loggedOutBecause).toBeNull();
  });

  test("another account in the same tab starts empty", () => {
    let s = reduce(loggedIn(), { type: "received", messages: [msg(9, "bob")], reading: false });
    s = reduce(s, { type: "logged_out", reason: "forced" });
    s = reduce(s, { type: "logged_in", name: "carol", unread: 0, resumed: false });
    expect(s.conversations).toEqual([]);
    expect(s.maxSeenId).toBe(0);
  });

  test("accounts pages append; connection states", () => {
    let s = loggedIn();
    s = reduce(s, {
      type: "accounts",
      pattern: "a*",
      list: [{ name: "al", online: true }],
      more: true,
      cursor: "al",
      append: false,
    });
    s = reduce(s, {
      type: "accounts",
      pattern: "a*",
      list: [{ name: "amy", online: false }],
      more: false,
      cursor: "",
      append: true,
    });
    expect(s.accounts!.list.map((a) => a.name)).toEqual(["al", "amy"]);
    expect(reduce(s, { type: "open", peer: "amy" }).accounts).toBeNull();
    expect(reduce(s, { type: "reconnecting", reason: "reconnecting…" }).connection).toBe("reconnecting");
  });

  test("a conversation keeps at most MAX_LINES lines", () => {
    let s = loggedIn();
    const many = Array.from({ length: MAX_LINES + 10 }, (_, i) => msg(i + 1, "bob"));
    s = reduce(s, { type: "received", messages: many, reading: false });
    expect(s.conversations[0]!.lines).toHaveLength(MAX_LINES);
    expect(s.conversations[0]!.lines[0]!.key).toBe("in:11");
  });
});
