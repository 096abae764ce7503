// Escaping and bounding untrusted strings for logs and messages.

import { describe, expect, test } from "bun:test";
import { clip, quote } from "../../src/net/clip";

describe("clip", () => {
  test("plain text, including other scripts and emoji, is unchanged", () => {
    for (const s of ["alice", "Zoë", "Алиса", "张伟", "a b-c_d.e", "🙂"]) expect(clip(s)).toBe(s);
  });

  test("controls, bidi, zero-width, separators and invisible characters are escaped", () => {
    expect(clip("a\nb\tc\rd")).toBe("a\\nb\\tc\\rd");
    expect(clip("\u001b[2J\u0007\u007f\u0085")).toBe("\\u001b[2J\\u0007\\u007f\\u0085");
    expect(clip("\u202eevil\u2066\u2069")).toBe("\\u202eevil\\u2066\\u2069");
    expect(clip("a\u200bb\u200dc\ufeff")).toBe("a\\u200bb\\u200dc\\ufeff");
    expect(clip("\u2028\u2029")).toBe("\\u2028\\u2029");
    expect(clip("alice\u034f\ufe0f\u3164")).toBe("alice\\u034f\\ufe0f\\u3164");
    expect(clip("x\u{e0100}")).toBe("x\\u{e0100}");
    expect(clip("\ud800lone")).toBe("\\ud800lone");
    expect(clip("a\u00a0b")).toBe("a\\u00a0b");
  });

  test("backslashes and quotes are escaped, so the escaped form is unambiguous", () => {
    expect(clip('say "\\u202e"')).toBe('say \\"\\\\u202e\\"');
    expect(quote('a"b')).toBe('"a\\"b"');
  });

  test("long input is cut to the bound, saying how much was left out", () => {
    expect(clip("x".repeat(100), 10)).toBe("xxxxxxxxxx…(+90 more)");
    expect(clip("x".repeat(10), 10)).toBe("x".repeat(10));
    const huge = clip("\u0000".repeat(60_000));
    expect(huge.length).toBeLessThan(100);
    expect(huge).toEndWith("…(+59987 more)");
    // The cut never splits an escape or a surrogate pair.
    expect(clip("ab\u202e", 4)).toBe("ab…(+1 more)");
    expect(clip("a🙂🙂", 3)).toBe("a🙂…(+1 more)");
  });
});
