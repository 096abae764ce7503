import { describe, expect, test } from "bun:test";
import { cells, promptCells, textWidth } from "../../../src/client/tty/visible";

const shown = (t: string) =>
  cells(t)
    .map((c) => c.text)
    .join("");

describe("typed text as shown", () => {
  test("C0 controls and DEL as ^X, C1 as \\x.., bidi, zero-width and separators as \\u....", () => {
    expect(shown("a\x00\x07\x1b\x7fb")).toBe("a^@^G^[^?b");
    expect(shown("\x85\x9b")).toBe("\\x85\\x9b");
    expect(shown("\u202ex\u2067\u200b\u2028\u2029\ufeff")).toBe(
      "\\u202ex\\u2067\\u200b\\u2028\\u2029\\ufeff",
    );
    expect(shown("\r\n")).toBe("^M^J");
  });

  test("a lone combining mark is escaped; emoji sequences and accents stay whole", () => {
    expect(shown("\u0301a")).toBe("\\u0301a");
    expect(shown("e\u0301 👨‍👩‍👧 👍🏽 🇫🇷")).toBe("e\u0301 👨‍👩‍👧 👍🏽 🇫🇷");
  });

  test("widths: CJK and emoji two columns, escapes their length", () => {
    expect(textWidth("a世🙂")).toBe(5);
    expect(textWidth("\x1b")).toBe(2);
    expect(textWidth("\u202e")).toBe(6);
    expect(cells("a世b").map((c) => [c.start, c.width])).toEqual([
      [0, 1],
      [1, 2],
      [2, 1],
    ]);
  });

  test("a prompt keeps its colour codes, at no width; other controls in it are escaped", () => {
    const p = promptCells("\x1b[1malice\x1b[0m\x07> ");
    expect(p.map((c) => c.text).join("")).toBe("\x1b[1malice\x1b[0m^G> ");
    expect(p.reduce((w, c) => w + c.width, 0)).toBe(9);
  });
});
