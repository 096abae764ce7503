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

  describe("delivery marks", () => {
    const sent = (): State => {
      let s = loggedIn();
      s = reduce(s, { type: "send_started", key: "out:11", to: "bob", text: "live one", at: 1 });
      s = reduce(s, { type: "send_started", key: "out:12", to: "bob", text: "queued one", at: 2 });
      s = reduce(s, { type: "send_answered", key: "out:11", ok: true, queued: false, messageId: 101 });
      return reduce(s, { type: "send_answered", key: "out:12", ok: true, queued: true, messageId: 102 });
    };
    const marks = (s: State) => s.conversations[0]!.lines.map((l) => [l.state, l.messageId, l.deliveredAt]);

    test("sent live / queued, then delivered by the RECEIPT that names the line's client_msg_id", () => {
      let s = sent();
      expect(marks(s)).toEqual([
        ["sent", 101, undefined],
        ["queued", 102, undefined],
      ]);
      s = reduce(s, {
        type: "receipts",
        receipts: [{ messageId: 102, recipient: "bob", confirmedAt: 5000, clientMsgId: 12 }],
      });
      expect(marks(s)).toEqual([
        ["sent", 101, undefined],
        ["delivered", 102, 5000],
      ]);
    });

    test("matched by the server's id when the receipt carries no client_msg_id (a restored line)", () => {
      const s = reduce(sent(), {
        type: "receipts",
        receipts: [{ messageId: 101, recipient: "bob", confirmedAt: 7, clientMsgId: 0 }],
      });
      expect(marks(s)[0]).toEqual(["delivered", 101, 7]);
    });

    test("a receipt that overtakes the SEND answer stays delivered; one for no line on the page changes nothing", () => {
      let s = reduce(loggedIn(), { type: "send_started", key: "out:5", to: "bob", text: "fast", at: 1 });
      s = reduce(s, {
        type: "receipts",
        receipts: [{ messageId: 50, recipient: "bob", confirmedAt: 9, clientMsgId: 5 }],
      });
      s = reduce(s, { type: "send_answered", key: "out:5", ok: true, queued: false, messageId: 50 });
      expect(marks(s)).toEqual([["delivered", 50, 9]]);
      const same = reduce(s, {
        type: "receipts",
        receipts: [{ messageId: 999, recipient: "carol", confirmedAt: 1, clientMsgId: 77 }],
      });
      expect(same).toBe(s);
    });

    test("received lines are never marked", () => {
      let s = reduce(loggedIn(), { type: "received", messages: [msg(12, "bob")], reading: false });
      s = reduce(s, {
        type: "receipts",
        receipts: [{ messageId: 12, recipient: "bob", confirmedAt: 1, clientMsgId: 0 }],
      });
      expect(s.conversations[0]!.lines[0]!.state).toBeUndefined();
    });

    test("restored conversations come back unless a login got there first", () => {
      const c = sent().conversations;
      const s = reduce(initialState, { type: "restored", owner: "alice", conversations: c, maxSeenId: 4 });
      expect(s.owner).toBe("alice");
      expect(s.conversations).toBe(c);
      expect(
        reduce(loggedIn(), { type: "restored", owner: "zed", conversations: c, maxSeenId: 4 }).owner,
      ).toBe("alice");
    });
  });
});
