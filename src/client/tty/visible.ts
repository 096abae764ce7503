// What typed text looks like on the screen: one cell per grapheme, with its width in columns.
// Controls, bidi overrides and isolates, zero-width spaces and line separators typed or
// pasted into the input are shown escaped (^C, \x85, \u202e), never sent to the terminal as
// they are: they would move the cursor, reorder the line or make the measured width wrong.

export interface Cell {
  /** What is written to the terminal for this grapheme. */
  text: string;
  /** Columns it takes. */
  width: number;
  /** Where it starts in the source text (UTF-16 index). */
  start: number;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Invisible or reordering characters, shown as their code (`\u202e`) instead. */
const UNSAFE = new Set([
  0x061c, 0x180e, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2060,
  0x2061, 0x2062, 0x2063, 0x2064, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff,
]);

function hex(cp: number, digits: number): string {
  return cp.toString(16).padStart(digits, "0");
}

/** A code point shown safely, or null when it may be written as it is. */
export function escapeCodePoint(cp: number): string | null {
  if (cp < 0x20 || cp === 0x7f) return `^${String.fromCharCode(cp ^ 0x40)}`;
  if (cp >= 0x80 && cp <= 0x9f) return `\\x${hex(cp, 2)}`;
  if (UNSAFE.has(cp)) return `\\u${hex(cp, 4)}`;
  return null;
}

function escapeAll(g: string): string {
  let out = "";
  for (const ch of g) {
    const cp = ch.codePointAt(0)!;
    out += escapeCodePoint(cp) ?? `\\u${hex(cp, 4)}`;
  }
  return out;
}

/** The cells of typed text. */
export function cells(text: string, offset = 0): Cell[] {
  const out: Cell[] = [];
  for (const { segment, index } of segmenter.segment(text)) {
    let unsafe = false;
    for (const ch of segment) if (escapeCodePoint(ch.codePointAt(0)!) !== null) unsafe = true;
    const width = unsafe ? 0 : Bun.stringWidth(segment);
    // A zero-width grapheme on its own (a lone combining mark) would join the cell before it.
    const shown = unsafe || width === 0 ? escapeAll(segment) : segment;
    out.push({ text: shown, width: shown === segment ? width : shown.length, start: offset + index });
  }
  return out;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: SGR colour codes are what is kept.
const SGR = /\x1b\[[0-9;:]*m/g;

/** The cells of a prompt: its colour codes (SGR) are kept, as cells of width 0. */
export function promptCells(prompt: string): Cell[] {
  const out: Cell[] = [];
  let last = 0;
  for (const m of prompt.matchAll(SGR)) {
    out.push(...cells(prompt.slice(last, m.index), last));
    out.push({ text: m[0], width: 0, start: m.index });
    last = m.index + m[0].length;
  }
  out.push(...cells(prompt.slice(last), last));
  return out;
}

/** Width in columns of text shown with `cells`. */
export function textWidth(text: string): number {
  let w = 0;
  for (const c of cells(text)) w += c.width;
  return w;
}

/** Grapheme boundaries of text: 0, …, text.length. */
export function boundaries(text: string): number[] {
  const out: number[] = [];
  for (const { index } of segmenter.segment(text)) out.push(index);
  out.push(text.length);
  return out;
}
