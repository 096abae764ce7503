import { describe, expect, it } from "bun:test";
import { checkName, describeChar, MAX_NAME_CHARS, nameKey, nameSkeleton } from "../../src/rules/names";

// --- helpers ---

function ok(raw: string) {
  const r = checkName(raw);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(raw)} to be valid: ${r.reason}`);
  return r;
}

function reason(raw: string): string {
  const r = checkName(raw);
  if (r.ok) throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
  return r.reason;
}

const NFD = (s: string): string => s.normalize("NFD");

describe("checkName: accepted", () => {
  it.each([
    ["ascii", "alice"],
    ["mixed case and digits", "Bob99"],
    ["_ - and .", "x_y-z.w"],
    ["only punctuation", "._-"],
    ["Latin with diacritics", "Zoë"],
    ["Cyrillic", "Москва"],
    ["Greek", "Οδυσσέας"],
    ["Han", "東京"],
    ["Arabic", "محمد"],
    ["Devanagari with combining vowel signs", "नमस्ते"],
    ["Arabic with Arabic-Indic digits", "علي١٢٣"],
    ["a letter outside the BMP", "𠀀"],
    ["a letter with a mark that has no precomposed form", "q\u0307"],
    ["exactly 25 characters", "a".repeat(MAX_NAME_CHARS)],
    ["25 astral letters (50 UTF-16 units)", "𐐀".repeat(25)],
  ])("%s: %s", (_, raw) => {
    expect(ok(raw).name).toBe(raw.normalize("NFC"));
  });

  it("normalises to NFC before counting: 25 decomposed é are 25 characters", () => {
    const raw = NFD("é").repeat(25);
    expect(raw.length).toBe(50);
    expect(ok(raw).name).toBe("é".repeat(25));
  });

  it("gives back the NFC spelling of an NFD name", () => {
    expect(ok(NFD("Zoë")).name).toBe("Zo\u00eb");
  });
});

describe("checkName: refused, with the reason", () => {
  it("empty", () => expect(reason("")).toBe("the name is empty"));

  it("26 characters", () => expect(reason("a".repeat(26))).toBe("the name is longer than 25 characters"));

  it("26 astral characters", () => expect(reason("𐐀".repeat(26))).toMatch(/longer than 25/));

  it.each([
    ["a space", "a b", "a space at position 2; names may use letters, digits, _ - and ."],
    ["a leading space", " a", "a space at position 1; names may use letters, digits, _ - and ."],
    ["a tab", "a\tb", "the invisible character U+0009 at position 2; control characters are not allowed"],
    ["NUL", "ab\u0000", "the invisible character U+0000 at position 3; control characters are not allowed"],
    [
      "a C1 control",
      "a\u0085",
      "the invisible character U+0085 at position 2; control characters are not allowed",
    ],
    [
      "a zero-width space",
      "a\u200bb",
      "U+200B ZERO WIDTH SPACE at position 2; invisible characters are not allowed",
    ],
    ["a soft hyphen", "a\u00adb", "U+00AD SOFT HYPHEN at position 2; invisible characters are not allowed"],
    [
      "a right-to-left override",
      "\u202eab",
      "U+202E RIGHT-TO-LEFT OVERRIDE at position 1; invisible characters are not allowed",
    ],
    ["a no-break space", "a\u00a0b", "U+00A0 NO-BREAK SPACE at position 2; spaces are not allowed"],
    ["an ideographic space", "東\u3000京", "U+3000 IDEOGRAPHIC SPACE at position 2; spaces are not allowed"],
    [
      "a leading combining mark",
      "\u0301a",
      "the combining mark U+0301 at position 1; a name cannot start with a combining mark",
    ],
    ["@", "a@b", "'@' (U+0040) at position 2; names may use letters, digits, _ - and ."],
    ["an emoji", "hi😀", "'😀' (U+1F600) at position 3; names may use letters, digits, _ - and ."],
    ["a slash", "a/b", "'/' (U+002F) at position 2; names may use letters, digits, _ - and ."],
    // Look-alikes of "alice" that render the same (issue 10 item 1).
    [
      "a combining grapheme joiner",
      "alice\u034f",
      "U+034F COMBINING GRAPHEME JOINER at position 6; invisible characters are not allowed",
    ],
    [
      "an emoji variation selector",
      "alice\ufe0f",
      "U+FE0F VARIATION SELECTOR-16 at position 6; invisible characters are not allowed",
    ],
    [
      "a supplementary variation selector",
      "alice\u{e0100}",
      "U+E0100 VARIATION SELECTOR-17 at position 6; invisible characters are not allowed",
    ],
    [
      "a Mongolian variation selector",
      "alice\u180b",
      "U+180B MONGOLIAN FREE VARIATION SELECTOR ONE at position 6; invisible characters are not allowed",
    ],
    [
      "a Hangul filler",
      "alice\u3164",
      "U+3164 HANGUL FILLER at position 6; invisible characters are not allowed",
    ],
    [
      "only Hangul fillers",
      "\u3164\u3164",
      "U+3164 HANGUL FILLER at position 1; invisible characters are not allowed",
    ],
    [
      "a Hangul choseong filler",
      "\u115fa",
      "U+115F HANGUL CHOSEONG FILLER at position 1; invisible characters are not allowed",
    ],
    [
      "a Hangul jungseong filler",
      "a\u1160",
      "U+1160 HANGUL JUNGSEONG FILLER at position 2; invisible characters are not allowed",
    ],
    [
      "a halfwidth Hangul filler",
      "a\uffa0",
      "U+FFA0 HALFWIDTH HANGUL FILLER at position 2; invisible characters are not allowed",
    ],
    [
      "a mathematical bold letter",
      "\u{1d41a}lice",
      "'𝐚' (U+1D41A) at position 1; it is a compatibility variant of 'a' (write 'a' instead)",
    ],
    [
      "a ligature",
      "\ufb01x",
      "'ﬁ' (U+FB01) at position 1; it is a compatibility variant of 'fi' (write 'fi' instead)",
    ],
    [
      "a conjoining jamo",
      "a\u11a8",
      "'ᆨ' (U+11A8) at position 2; conjoining Hangul jamo are not allowed; use Hangul syllables",
    ],
    [
      "tatweel",
      "\u0639\u0640\u0644\u064a",
      "'ـ' (U+0640) at position 2; it is not allowed in names (RFC 8264); names may use letters, digits, _ - and .",
    ],
  ])("%s", (_, raw, what) => {
    expect(reason(raw)).toBe(`the name has ${what}`);
  });

  it.each([
    [
      "a middle dot outside l·l",
      "a\u00b7b",
      "U+00B7 MIDDLE DOT is allowed only between two l (as in Catalan l·l)",
    ],
    [
      "Arabic-Indic and extended digits",
      "\u0639\u0661\u06f1",
      "the name mixes Arabic-Indic and Extended Arabic-Indic digits",
    ],
    [
      "a right-to-left name starting with a digit",
      "1\u0639\u0644\u064a",
      "a name with right-to-left characters must start with a right-to-left letter",
    ],
    [
      "Arabic-Indic digits alone",
      "١٢٣",
      "a name with right-to-left characters must start with a right-to-left letter",
    ],
    [
      "a right-to-left name ending in _",
      "\u0639\u0644\u064a_",
      "a right-to-left name must end with a letter or a digit",
    ],
    [
      "European and Arabic-Indic digits",
      "\u0639\u0644\u064a1\u0661",
      "a right-to-left name cannot mix European and Arabic-Indic digits",
    ],
  ])("the rules of RFC 5892/5893: %s", (_, raw, why) => {
    expect(reason(raw)).toBe(why);
  });

  it("Catalan l·l is allowed", () => expect(ok("col\u00b7legi").name).toBe("col\u00b7legi"));

  it("counts positions in code points, after NFC", () => {
    expect(reason(`${NFD("éé")}!`)).toMatch(/at position 3;/);
    expect(reason("𐐀𐐀!")).toMatch(/at position 3;/);
  });

  it("reports a bad character before the length", () => {
    expect(reason(`a b${"c".repeat(30)}`)).toMatch(/a space at position 2/);
  });
});

describe("nameKey: case-insensitive identity", () => {
  it.each([
    ["Alice", "ALICE", "alice"],
    ["Straße", "STRASSE", "strasse"],
    ["ΣΑΣ", "σας", "σας"],
    ["ﬁx", "FIX", "fix"],
    ["\u212aelvin", "KELVIN", "kelvin"], // the Kelvin sign folds to k
    ["ǅemal", "ǄEMAL", "d\u017eemal"],
    // Compatibility forms cannot be created, but a LOG_IN or SEND naming them finds the account.
    ["ａlice", "ALICE", "alice"],
    ["\u{1d41a}lice", "Alice", "alice"],
  ])("%s and %s share the key %s", (a, b, key) => {
    expect(nameKey(a)).toBe(key);
    expect(nameKey(b)).toBe(key);
  });

  it("fullwidth letters are width-mapped: ａlice is created as alice", () => {
    expect(ok("ａlice")).toMatchObject({ name: "alice", key: "alice" });
  });

  it("NFC and NFD spellings share a key", () => {
    expect(ok(NFD("Zoë")).key).toBe(ok("ZOË").key);
    expect(nameKey(NFD("Ångström"))).toBe(nameKey("ångström"));
  });

  it("different names keep different keys", () => {
    const keys = ["alice", "alicia", "alice.", "a-lice", "zoe", "zoë", "東京", "京東"].map(nameKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("a key is its own key, so folding twice changes nothing", () => {
    for (const n of ["Straße", "ΣΑΣ", "ﬁx", "İstanbul", NFD("Zoë")])
      expect(nameKey(nameKey(n))).toBe(nameKey(n));
  });
});

describe("describeChar", () => {
  it.each([
    [" ", "a space"],
    ["x", "'x' (U+0078)"],
    ["\u0007", "the invisible character U+0007"],
    ["\u{e0001}", "U+E0001 LANGUAGE TAG"],
    ["\u3164", "U+3164 HANGUL FILLER"],
    ["😀", "'😀' (U+1F600)"],
  ])("%j is %s", (ch, text) => expect(describeChar(ch)).toBe(text));
});

describe("nameSkeleton: what a name looks like (UTS #39)", () => {
  it.each([
    ["Cyrillic а in alice", "\u0430lice", "alice"],
    ["all-Cyrillic асе", "\u0430\u0441\u0435", "ace"],
    ["capital I and small l", "Ilya", "llya"],
    ["rn and m", "rn", "m"],
    ["digit 0 and letter O", "b0b", "bob"],
    ["Greek ο", "b\u03bfb", "bob"],
  ])("%s: %s looks like %s", (_, a, b) => {
    expect(nameSkeleton(a)).toBe(nameSkeleton(b));
  });

  it("different-looking names keep different skeletons", () => {
    const skeletons = ["alice", "alicia", "bob", "zoë", "zoe", "東京", "Москва"].map(nameSkeleton);
    expect(new Set(skeletons).size).toBe(skeletons.length);
  });

  it("checkName gives the skeleton, and names the scripts a name mixes", () => {
    expect(ok("\u0430lice")).toMatchObject({
      skeleton: "alice",
      mixedScripts: "the name mixes Cyrillic and Latin letters",
    });
    expect(ok("abc\u0434")).toMatchObject({ mixedScripts: "the name mixes Latin and Cyrillic letters" });
    expect(ok("alice")).toMatchObject({ skeleton: "alice", mixedScripts: null });
  });
});

describe("mixed scripts (UTS #39 Highly Restrictive)", () => {
  it.each([
    ["Latin with digits and _ - .", "alice_1.b-2"],
    ["Cyrillic", "Москва"],
    ["Japanese: Latin, Han, Hiragana, Katakana", "abc東京ひらカタ"],
    ["Chinese: Latin, Han, Bopomofo", "abc中ㄅ"],
    ["Korean: Latin, Han, Hangul", "abc韓한"],
    ["Greek with a combining mark (Inherited)", "α\u0301β"],
  ])("allowed: %s", (_, raw) => expect(ok(raw).mixedScripts).toBeNull());

  it.each([
    ["Latin and Cyrillic", "p\u0430ypal", "Latin and Cyrillic"],
    ["Latin and Greek", "\u03b1bc", "Greek and Latin"],
    ["Cyrillic and Greek", "\u0434\u03b1", "Cyrillic and Greek"],
    ["Latin and Bengali digits", "abc\u09ea", "Latin and Bengali"],
    ["Hangul and Hiragana", "한ひ", "Hangul and Hiragana"],
  ])("refused: %s", (_, raw, scripts) => {
    expect(ok(raw).mixedScripts).toBe(`the name mixes ${scripts} letters`);
  });
});

describe("plain ASCII names (the fast path)", () => {
  it("get the same key and skeleton as any other name", () => {
    const alphabet = "abcABCxyzXYZ019_.-mIl";
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2000; i++) {
      let n = "";
      const len = 1 + Math.floor(rand() * 10);
      for (let j = 0; j < len; j++) n += alphabet[Math.floor(rand() * alphabet.length)];
      expect(ok(n)).toMatchObject({
        name: n,
        key: nameKey(n),
        skeleton: nameSkeleton(n),
        mixedScripts: null,
      });
    }
  });
});
