// The tab's conversations across a reload: bounded, checked when read back, and a message
// still being sent when the page went away is said to be possibly not sent.

import { describe, expect, test } from "bun:test";
import { restore, SAVED_LINES, snapshot } from "../../src/web/app/persist";
import { initialState, reduce, type State } from "../../src/web/app/state";

const withLines = (): State => {
  let s = reduce(initialState, { type: "logged_in", name: "alice", unread: 0, resumed: false });
  s = reduce(s, {
    type: "received",
    messages: [{ id: 3, sender: "bob", text: "<b>hi</b>", sentAt: 1 }],
    reading: false,
  });
  s = reduce(s, { type: "send_started", key: "out:7", to: "bob", text: "delivered one", at: 2 });
  s = reduce(s, { type: "send_answered", key: "out:7", ok: true, queued: true, messageId: 4 });
  s = reduce(s, {
    type: "receipts",
    receipts: [{ messageId: 4, recipient: "bob", confirmedAt: 9, clientMsgId: 7 }],
  });
  return reduce(s, { type: "send_started", key: "out:8", to: "bob", text: "in flight", at: 3 });
};

describe("persist", () => {
  test("round trip: the lines, their marks and the highest id seen come back", () => {
    const back = restore(snapshot(withLines()))!;
    expect(back.owner).toBe("alice");
    expect(back.maxSeenId).toBe(3);
    expect(
      back.conversations[0]!.lines.map((l) => [l.key, l.text, l.state, l.messageId, l.deliveredAt]),
    ).toEqual([
      ["in:3", "<b>hi</b>", undefined, undefined, undefined],
      ["out:7", "delivered one", "delivered", 4, 9],
      ["out:8", "in flight", "failed", undefined, undefined],
    ]);
    expect(back.conversations[0]!.lines[2]!.error).toContain("reloaded before the server answered");
  });

  test("nothing to keep without an owner; garbage and wrong shapes read back as nothing", () => {
    expect(snapshot(initialState)).toBeNull();
    expect(restore(null)).toBeNull();
    expect(restore("{not json")).toBeNull();
    expect(restore(JSON.stringify({ owner: 5, conversations: [] }))).toBeNull();
    const odd = restore(
      JSON.stringify({
        owner: "a",
        maxSeenId: -4,
        conversations: [{ peer: "b", lines: [{ key: 1 }, null], unread: "x" }, 7],
      }),
    )!;
    expect(odd).toEqual({ owner: "a", maxSeenId: 0, conversations: [{ peer: "b", lines: [], unread: 0 }] });
  });

  test("bounded: at most SAVED_LINES per conversation, the newest", () => {
    let s = reduce(initialState, { type: "logged_in", name: "alice", unread: 0, resumed: false });
    const many = Array.from({ length: SAVED_LINES + 20 }, (_, i) => ({
      id: i + 1,
      sender: "bob",
      text: `m${i + 1}`,
      sentAt: i,
    }));
    s = reduce(s, { type: "received", messages: many, reading: false });
    const lines = restore(snapshot(s))!.conversations[0]!.lines;
    expect(lines).toHaveLength(SAVED_LINES);
    expect(lines[0]!.text).toBe("m21");
  });
});
