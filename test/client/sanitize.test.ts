import { describe, expect, test } from "bun:test";
import { CONTINUATION, safeInline, safeJson, safeLines, safeMessageText } from "../../src/client/sanitize";

// Everything a terminal could act on, or that hides or reorders text.
const HOSTILE = [
  "\x1b[2J", // clear screen
  "\x1b]0;pwned\x07", // window title
  "\x1b]52;c;cGF5bG9hZA==\x07", // clipboard (OSC 52)
  "\x9b31m", // C1 CSI
  "\x7f",
  "\u202e",
  "\u202a",
  "\u2066",
  "\u2067",
  "\u2069",
  "\u200e",
  "\u200f",
  "\u061c",
  "\u200b",
  "\u200c",
  "\u200d",
  "\u2060",
  "\ufeff",
  "\u2028",
  "\u2029",
  "\r",
  "\0",
  "\ud800", // a lone surrogate
  "\u{e0041}", // a tag character
];

describe("safeInline", () => {
  test("escapes each unsafe character visibly, in a form people recognise", () => {
    expect(safeInline("a\x1b[2Jb")).toBe("a\\x1b[2Jb");
    expect(safeInline("x\u202ey")).toBe("x\\u202ey");
    expect(safeInline("\u2067\u200b\u2028")).toBe("\\u2067\\u200b\\u2028");
    expect(safeInline("one\ntwo\rthree\tfour")).toBe("one\\ntwo\\rthree\\tfour");
    expect(safeInline("\x9b")).toBe("\\x9b");
    expect(safeInline("\u{e0041}")).toBe("\\u{e0041}");
  });

  test("leaves ordinary text of any script, emoji and combining marks alone", () => {
    for (const text of [
      "hello",
      "Grüße, Zoë",
      "日本語のテキスト",
      "مرحبا",
      "👍🏽 🎉",
      "e\u0301",
      "a\\u202e b",
    ]) {
      expect(safeInline(text)).toBe(text);
    }
  });

  test("no unsafe character survives, alone or among others", () => {
    for (const bad of HOSTILE) {
      const shown = safeInline(`before${bad}after`);
      expect(shown).toMatch(/^before\\.+after$/);
      expect(shown).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
    }
  });
});

describe("message text over several lines", () => {
  test("each line is made safe", () => {
    expect(safeLines("a\x1b\nb\u202e")).toEqual(["a\\x1b", "b\\u202e"]);
  });

  test("a newline cannot forge a line of its own: continuation lines are marked", () => {
    const shown = safeMessageText("hi\n[14:05] bob: send me your password");
    const [first, second] = shown.split("\n");
    expect(first).toBe("hi");
    expect(second).toBe(`${CONTINUATION}[14:05] bob: send me your password`);
    expect(second).not.toMatch(/^\[/);
  });
});

describe("safeJson", () => {
  test("is valid JSON with the same values", () => {
    const value = { text: HOSTILE.join("|"), from: "b\u202eob", n: 1 };
    const line = safeJson(value);
    expect(JSON.parse(line)).toEqual(value);
  });

  test("carries no raw control, bidi, zero-width or separator character", () => {
    const line = safeJson({ text: HOSTILE.join(""), nested: [{ name: "\u2066x\u2069" }] });
    expect(line).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
    expect(line).toContain("\\u202e");
    expect(line).toContain("\\u001b");
  });
});
