// Wildcard patterns for LIST_ACCOUNTS: `*` matches any run of characters, `?` exactly one.
// Matching is case-insensitive (on name keys) and needs no regex engine: the pattern is cut
// at each `*` into segments, and each segment is found at its leftmost place after the
// previous one. Leftmost is always safe for a `*`-separated segment, so there is no
// backtracking: time is at most name length × pattern length, both capped.

import { nameKey } from "./names";

export const MAX_PATTERN_CHARS = 64;

export interface Glob {
  readonly source: string;
  /**
   * The folded literal text every matching key starts with ("" when the pattern starts
   * with a wildcard): a store scans only the keys from here to prefixEnd(prefix).
   */
  readonly prefix: string;
  /** The pattern with its literal runs folded like names; `*` and `?` are the only wildcards. */
  readonly folded: string;
  matches(key: string): boolean;
}

export type GlobCheck = { ok: true; glob: Glob } | { ok: false; reason: string };

export function compileGlob(pattern: string): GlobCheck {
  const chars = [...pattern];
  if (chars.length > MAX_PATTERN_CHARS) {
    return { ok: false, reason: `the pattern is longer than ${MAX_PATTERN_CHARS} characters` };
  }
  if (chars.some((c) => /\p{Cc}/u.test(c))) {
    return { ok: false, reason: "the pattern has a control character" };
  }
  if (pattern === "" || /^\*+$/.test(pattern))
    return { ok: true, glob: { source: pattern, prefix: "", folded: "*", matches: () => true } };
  // Fold each literal run like a name, keeping the wildcards as they are.
  const segments = pattern.split("*").map((s) => [...s.split("?").map(nameKey).join("?")]);
  const anchoredStart = !pattern.startsWith("*");
  const anchoredEnd = !pattern.endsWith("*");
  // The matcher compares keys with exactly these folded characters, so a key it accepts
  // starts with the first segment's characters up to its first `?`.
  const first = segments[0]!;
  const q = first.indexOf("?");
  return {
    ok: true,
    glob: {
      source: pattern,
      prefix: (q < 0 ? first : first.slice(0, q)).join(""),
      folded: segments.map((s) => s.join("")).join("*"),
      matches: (key) => matchSegments([...key], segments, anchoredStart, anchoredEnd),
    },
  };
}

/**
 * The least string above every string that starts with prefix, in code point order (the
 * order of UTF-8 bytes, as SQLite sorts text); null when there is none (prefix empty or
 * made only of U+10FFFF).
 */
export function prefixEnd(prefix: string): string | null {
  const cps = [...prefix].map((c) => c.codePointAt(0)!);
  while (cps.length) {
    const last = cps.pop()!;
    if (last < 0x10ffff) {
      cps.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...cps);
    }
  }
  return null;
}

function matchSegments(
  text: string[],
  segments: string[][],
  anchoredStart: boolean,
  anchoredEnd: boolean,
): boolean {
  const n = segments.length;
  if (n === 1) return text.length === segments[0]!.length && matchAt(text, 0, segments[0]!);
  let pos = 0;
  const first = segments[0]!;
  if (anchoredStart) {
    if (!matchAt(text, 0, first)) return false;
    pos = first.length;
  }
  const last = segments[n - 1]!;
  const lastStart = text.length - last.length;
  if (anchoredEnd && (lastStart < pos || !matchAt(text, lastStart, last))) return false;
  const limit = anchoredEnd ? lastStart : text.length;
  for (let i = anchoredStart ? 1 : 0; i < (anchoredEnd ? n - 1 : n); i++) {
    const seg = segments[i]!;
    if (seg.length === 0) continue;
    let found = -1;
    for (let at = pos; at + seg.length <= limit; at++) {
      if (matchAt(text, at, seg)) {
        found = at;
        break;
      }
    }
    if (found < 0) return false;
    pos = found + seg.length;
  }
  return true;
}

function matchAt(text: string[], at: number, seg: string[]): boolean {
  if (at + seg.length > text.length) return false;
  for (let j = 0; j < seg.length; j++) {
    const p = seg[j]!;
    if (p !== "?" && p !== text[at + j]) return false;
  }
  return true;
}
