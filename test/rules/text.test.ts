import { describe, expect, it } from "bun:test";
import { checkText, MAX_TEXT_CHARS } from "../../src/rules/text";

// --- helpers ---

function reason(text: string): string {
  const r = checkText(text);
  if (r.ok) throw new Error(`expected ${JSON.stringify(text)} to be refused`);
  return r.reason;
}

const controlReason = (hex: string, position: number): string =>
  `the message has the invisible character U+${hex} at position ${position}; only newline and tab are allowed among control characters`;

describe("checkText: accepted", () => {
  it.each([
    ["one character", "x"],
    ["newline and tab", "line one\nline two\tend"],
    ["only whitespace", " \n\t"],
    ["any script", "Zoë 東京 Москва"],
    ["exactly 100 characters", "a".repeat(MAX_TEXT_CHARS)],
    ["100 astral characters (200 UTF-16 units)", "👋".repeat(100)],
    ["99 ASCII and one emoji", `${"a".repeat(99)}😀`],
    ["a no-break space, just past the C1 range", "a\u00a0b"],
    ["format characters (not control characters)", "a\u200bb\u202e"],
    ["DEL's neighbour ~", "~"],
  ])("%s", (_, text) => expect(checkText(text)).toEqual({ ok: true }));
});

describe("checkText: refused, with the reason", () => {
  it("empty", () => expect(reason("")).toBe("the message is empty"));

  it.each([
    ["101 ASCII characters", "a".repeat(101)],
    ["101 emoji", "👋".repeat(101)],
    ["99 ASCII and two emoji", `${"a".repeat(99)}👋👋`],
    ["combining marks count as characters", "e\u0301".repeat(51)],
  ])("%s", (_, text) => expect(reason(text)).toBe("the message is longer than 100 characters"));

  it.each([
    ["NUL", "a\u0000", "0000", 2],
    ["carriage return", "a\r\nb", "000D", 2],
    ["escape (terminal sequences)", "\u001b[31mred", "001B", 1],
    ["bell after an emoji", "👋\u0007", "0007", 2],
    ["unit separator", "x\u001f", "001F", 2],
    ["DEL", "\u007f", "007F", 1],
    ["C1: first", "\u0080", "0080", 1],
    ["C1: next line", "ab\u0085", "0085", 3],
    ["C1: control sequence introducer", "\u009b2J", "009B", 1],
    ["C1: last", "\u009f", "009F", 1],
    ["a control hidden after a lone high surrogate", "\ud83d\u0007", "0007", 2],
  ])("%s", (_, text, hex, position) => expect(reason(text)).toBe(controlReason(hex, position)));
});
