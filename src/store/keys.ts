// Name keys in the order every store sorts them: code point order, which is the order of
// their UTF-8 bytes and so SQLite's order for TEXT.

/**
 * Code point order. Plain `<` compares UTF-16 units, which puts characters above U+FFFF
 * (surrogates) before U+E000-U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unitRank(x) - unitRank(y);
  }
  return a.length - b.length;
}

const unitRank = (u: number): number => (u >= 0xe000 ? u - 0x800 : u >= 0xd800 ? u + 0x2000 : u);
