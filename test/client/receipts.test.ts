// The terminal client's side of delivery receipts: the /receipts command, Tab completion,
// and the ✓ line (text clipped, every string from the network made safe), in text and JSON.

import { describe, expect, test } from "bun:test";
import { COMMAND_WORDS, HELP, parseCommand } from "../../src/client/commands";
import { clipText, Output, RECEIPT_TEXT_CHARS } from "../../src/client/output";
import { complete } from "../../src/client/tty/completion";

const capture = (mode: "text" | "json") => {
  const lines: string[] = [];
  const out = new Output(mode, async (l) => {
    lines.push(l);
  });
  return { out, lines };
};

const at1405 = new Date(new Date().toDateString()).getTime() + (14 * 60 + 5) * 60_000;

describe("/receipts", () => {
  test("on, off, or nothing (says which); anything else is refused", () => {
    expect(parseCommand("/receipts on")).toEqual({ kind: "receipts", on: true });
    expect(parseCommand("/receipts OFF")).toEqual({ kind: "receipts", on: false });
    expect(parseCommand("/receipts")).toEqual({ kind: "receipts" });
    expect(parseCommand("/receipts maybe")).toMatchObject({
      kind: "invalid",
      error: "/receipts takes on or off",
    });
  });

  test("is in /help and completed by Tab, with on and off after it", () => {
    expect(HELP.some((l) => l.includes("/receipts on|off"))).toBe(true);
    expect(COMMAND_WORDS).toContain("/receipts");
    expect(complete("/rec", 4, COMMAND_WORDS, []).text).toBe("/receipts ");
    expect(complete("/receipts o", 11, COMMAND_WORDS, ["olga"]).candidates).toEqual(["off", "on"]);
  });
});

describe("the receipt line", () => {
  test('text: ✓ bob got "are you there?" at 14:05', async () => {
    const { out, lines } = capture("text");
    await out.receipt(
      { messageId: 7, recipient: "bob", confirmedAt: at1405, clientMsgId: 3 },
      "are you there?",
    );
    expect(lines).toEqual(['✓ bob got "are you there?" at 14:05']);
  });

  test("a long or multi-line text is clipped to its first line; a text not sent from here is named by id", async () => {
    const long = "x".repeat(RECEIPT_TEXT_CHARS + 10);
    expect(clipText(long)).toBe(`${"x".repeat(RECEIPT_TEXT_CHARS)}…`);
    expect(clipText("first\nsecond")).toBe("first…");
    const { out, lines } = capture("text");
    await out.receipt({ messageId: 42, recipient: "bob", confirmedAt: at1405, clientMsgId: 0 }, null);
    expect(lines).toEqual(["✓ bob got message 42 at 14:05"]);
  });

  test("names and texts are made safe: escapes, bidi overrides and controls show escaped", async () => {
    const { out, lines } = capture("text");
    await out.receipt(
      { messageId: 1, recipient: "b\x1b[2Job\u202e", confirmedAt: at1405, clientMsgId: 1 },
      "hi\x1b]0;pwned\x07\u2066",
    );
    expect(lines[0]).toBe('✓ b\\x1b[2Job\\u202e got "hi\\x1b]0;pwned\\x07\\u2066" at 14:05');
    for (const raw of ["\x1b", "\x07", "\u202e", "\u2066"]) expect(lines[0]).not.toContain(raw);
  });

  test("--json: one receipt event line", async () => {
    const { out, lines } = capture("json");
    await out.receipt({ messageId: 9, recipient: "bob", confirmedAt: 0, clientMsgId: 4 }, "hi\u202e");
    expect(JSON.parse(lines[0]!)).toEqual({
      type: "receipt",
      messageId: 9,
      to: "bob",
      confirmedAt: "1970-01-01T00:00:00.000Z",
      text: "hi\u202e",
    });
    expect(lines[0]).toContain("\\u202e");
  });
});
