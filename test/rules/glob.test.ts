import { describe, expect, it } from "bun:test";
import { compileGlob, type Glob, MAX_PATTERN_CHARS, prefixEnd } from "../../src/rules/glob";
import { nameKey } from "../../src/rules/names";

// --- helpers ---

function glob(pattern: string): Glob {
  const r = compileGlob(pattern);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(pattern)} to compile: ${r.reason}`);
  return r.glob;
}

/** Does pattern match the account called name? (The store hands the glob name keys.) */
const matches = (pattern: string, name: string): boolean => glob(pattern).matches(nameKey(name));

function reason(pattern: string): string {
  const r = compileGlob(pattern);
  if (r.ok) throw new Error(`expected ${JSON.stringify(pattern)} to be refused`);
  return r.reason;
}

/** The obvious exponential matcher, over code points: the reference for random tests. */
function reference(p: string[], t: string[]): boolean {
  if (p.length === 0) return t.length === 0;
  if (p[0] === "*") return reference(p.slice(1), t) || (t.length > 0 && reference(p, t.slice(1)));
  return t.length > 0 && (p[0] === "?" || p[0] === t[0]) && reference(p.slice(1), t.slice(1));
}

/** mulberry32: a tiny seeded PRNG, so every run sees the same "random" inputs. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randomString(rand: () => number, alphabet: string[], min: number, max: number): string {
  const n = min + Math.floor(rand() * (max - min + 1));
  return Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]!).join("");
}

// (pattern, name, matches?)
const CASES: [string, string, boolean][] = [
  ["", "anyone", true],
  ["*", "anyone", true],
  ["***", "x", true],
  ["alice", "alice", true],
  ["alice", "alicia", false],
  ["alice", "malice", false],
  ["alice", "alice2", false],
  ["ali*", "alice", true],
  ["ali*", "ali", true],
  ["ali*", "xali", false],
  ["*ce", "alice", true],
  ["*ce", "ce", true],
  ["*ce", "cex", false],
  ["*li*", "alice", true],
  ["*li*", "li", true],
  ["*li*", "al", false],
  ["a?c", "abc", true],
  ["a?c", "ac", false],
  ["a?c", "abbc", false],
  ["?", "a", true],
  ["?", "ab", false],
  ["???", "abc", true],
  ["?*?", "a", false],
  ["?*?", "ab", true],
  ["*?", "a", true],
  ["a*a", "a", false],
  ["a*a", "aa", true],
  ["ab*ba", "aba", false],
  ["ab*ba", "abba", true],
  ["a*b*c", "aXbYc", true],
  ["a*b*c", "acb", false],
  ["a*b*c", "abc", true],
  ["*a*b", "bab", true],
  ["*a?b*", "xaxbx", true],
  ["*a?b*", "xabx", false],
  ["b", "abc", false],
  ["x.y-z_*", "x.y-z_w", true],
  ["東?", "東京", true],
  ["?", "𝐀", true], // one code point, two UTF-16 units
  ["??", "𝐀", false],
  ["ALICE", "alice", true],
  ["alice", "ALICE", true],
  ["STRASSE", "Straße", true],
  ["straße", "STRASSE", true],
  ["*SS*", "Straße", true],
  ["ΣΑΣ", "σας", true],
  [`${"é".normalize("NFD")}*`, "ÉMILE", true],
];

describe("compileGlob: matching", () => {
  it.each(CASES)("%j against %j is %p", (pattern, name, expected) => {
    expect(matches(pattern, name)).toBe(expected);
  });

  it("keeps the source pattern", () => {
    expect(glob("Al*").source).toBe("Al*");
  });

  it("agrees with a brute-force matcher on random small inputs", () => {
    const rand = prng(7);
    const patternChars = ["a", "b", "A", "𐐀", "*", "?"];
    const nameChars = ["a", "b", "B", "𐐀"];
    for (let i = 0; i < 5000; i++) {
      const pattern = randomString(rand, patternChars, 0, 8);
      const key = nameKey(randomString(rand, nameChars, 1, 8));
      // The empty pattern lists everyone, like "*".
      const expected = reference([...(pattern || "*").toLowerCase()], [...key]);
      if (glob(pattern).matches(key) !== expected) {
        throw new Error(`${JSON.stringify(pattern)} against ${JSON.stringify(key)}: expected ${expected}`);
      }
    }
  });

  it("stays fast on patterns that make backtracking matchers explode", () => {
    const name = "a".repeat(25);
    // None can match: no b, or more a's than the name has.
    const patterns = [
      "*a*a*a*a*a*a*a*b",
      `${"*a".repeat(12)}*b`,
      `${"*a".repeat(31)}*`,
      `${"?*".repeat(30)}b`,
    ];
    const started = performance.now();
    for (const p of patterns) {
      const g = glob(p);
      for (let i = 0; i < 2000; i++) expect(g.matches(name)).toBe(false);
    }
    expect(glob("*a*a*a*a*a*a*a*a").matches(name)).toBe(true);
    // A backtracking matcher needs millions of steps per call here; this one needs hundreds.
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("compileGlob: refused patterns", () => {
  it("accepts 64 characters, astral ones counted once", () => {
    expect(compileGlob("a".repeat(MAX_PATTERN_CHARS)).ok).toBe(true);
    expect(compileGlob("𝐀".repeat(64)).ok).toBe(true);
  });

  it.each([
    ["65 characters", "a".repeat(65)],
    ["65 stars", "*".repeat(65)],
    ["65 astral characters", "𝐀".repeat(65)],
  ])("%s", (_, pattern) => expect(reason(pattern)).toBe("the pattern is longer than 64 characters"));

  it.each([
    ["newline", "a\nb"],
    ["NUL", "\u0000"],
    ["tab", "*\t"],
    ["DEL", "a\u007f"],
    ["C1 control", "\u0085*"],
  ])("%s", (_, pattern) => expect(reason(pattern)).toBe("the pattern has a control character"));
});

describe("compileGlob: the literal prefix and the folded pattern, for a store to search with", () => {
  it.each([
    ["", "", "*"],
    ["**", "", "*"],
    ["Al*", "al", "al*"],
    ["ALICE", "alice", "alice"],
    ["b?B*", "b", "b?b*"],
    ["?lice", "", "?lice"],
    ["*lice", "", "*lice"],
    ["Straße*", "strasse", "strasse*"],
    ["ＡＢ*?", "ab", "ab*?"],
  ])("%j: prefix %j, folded %j", (pattern, prefix, folded) => {
    expect(glob(pattern)).toMatchObject({ prefix, folded });
  });

  it("every key a pattern matches starts with its prefix (random patterns and names)", () => {
    const rand = prng(11);
    const alphabet = ["a", "B", "ß", "é", "Σ", "*", "?"];
    for (let i = 0; i < 2000; i++) {
      const g = glob(randomString(rand, alphabet, 0, 6));
      const key = nameKey(randomString(rand, alphabet.slice(0, 5), 1, 6));
      if (g.matches(key)) expect(key.startsWith(g.prefix)).toBe(true);
    }
  });
});

describe("prefixEnd", () => {
  it.each([
    ["al", "am"],
    ["a", "b"],
    ["z\u{10ffff}", "{"],
    ["\u{d7ff}", "\u{e000}"],
    ["a\u{ffff}", "a\u{10000}"],
  ])("%j ends below %j", (prefix, end) => {
    expect(prefixEnd(prefix)).toBe(end);
  });

  it("is null when nothing is above the prefix: empty, or only U+10FFFF", () => {
    expect(prefixEnd("")).toBeNull();
    expect(prefixEnd("\u{10ffff}\u{10ffff}")).toBeNull();
  });
});
