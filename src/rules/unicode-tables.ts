// Parsed forms of the generated tables in unicode-data.ts, built on first use.

import {
  BIDI_AL,
  BIDI_AN,
  BIDI_EN,
  BIDI_R,
  CHAR_NAMES,
  CONFUSABLES,
  SCRIPT_EXTENSIONS,
  SCRIPT_NAMES,
  SCRIPTS,
} from "./unicode-data";

const cp = (h: string): number => Number.parseInt(h, 16);

let confusables: Record<string, string> | null = null;
let names: Map<number, string> | null = null;

/** The UTS #39 prototype of a character, or undefined when it maps to itself. */
export function confusablePrototype(ch: string): string | undefined {
  confusables ??= JSON.parse(CONFUSABLES) as Record<string, string>;
  return Object.hasOwn(confusables, ch) ? confusables[ch] : undefined;
}

/** The Unicode name of an invisible, space or format character; undefined for others. */
export function charName(code: number): string | undefined {
  if (!names) {
    names = new Map();
    for (const entry of CHAR_NAMES.split(/\s+(?=[0-9A-F]+;)/)) {
      const [code, name] = entry.trim().split(";");
      if (code && name) names.set(cp(code), name.trim());
    }
  }
  return names.get(code);
}

/** Sorted [first, last] ranges from "A-B C" text, searched by bisection. */
class Ranges {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  constructor(text: string) {
    for (const r of text.split(" ")) {
      if (!r) continue;
      const [a, b] = r.split("-");
      this.starts.push(cp(a!));
      this.ends.push(cp(b ?? a!));
    }
  }

  has(code: number): boolean {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (code < this.starts[mid]!) hi = mid - 1;
      else if (code > this.ends[mid]!) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

export type BidiClass = "R" | "AL" | "AN" | "EN" | "other";

let bidi: { R: Ranges; AL: Ranges; AN: Ranges; EN: Ranges } | null = null;

/** The bidi class of a code point, as far as the Bidi Rule needs it. */
export function bidiClass(code: number): BidiClass {
  bidi ??= {
    R: new Ranges(BIDI_R),
    AL: new Ranges(BIDI_AL),
    AN: new Ranges(BIDI_AN),
    EN: new Ranges(BIDI_EN),
  };
  if (bidi.R.has(code)) return "R";
  if (bidi.AL.has(code)) return "AL";
  if (bidi.AN.has(code)) return "AN";
  if (bidi.EN.has(code)) return "EN";
  return "other";
}

/** Sorted "first-last:value" ranges, searched by bisection. */
class ValuedRanges<T> {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly values: T[] = [];

  constructor(text: string, parse: (v: string) => T) {
    for (const entry of text.split(/\s+/)) {
      if (!entry) continue;
      const [range, value] = entry.split(":");
      const [a, b] = range!.split("-");
      this.starts.push(cp(a!));
      this.ends.push(cp(b ?? a!));
      this.values.push(parse(value!));
    }
  }

  get(code: number): T | undefined {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (code < this.starts[mid]!) hi = mid - 1;
      else if (code > this.ends[mid]!) lo = mid + 1;
      else return this.values[mid];
    }
    return undefined;
  }
}

let scripts: { names: string[]; sc: ValuedRanges<number>; scx: ValuedRanges<number[]> } | null = null;

function scriptTables() {
  scripts ??= {
    names: SCRIPT_NAMES.split(" "),
    sc: new ValuedRanges(SCRIPTS, Number),
    scx: new ValuedRanges(SCRIPT_EXTENSIONS, (v) => v.split(".").map(Number)),
  };
  return scripts;
}

/** The Script property of a code point (long name, e.g. "Latin", "Common"); "Unknown" if unassigned. */
export function scriptOf(code: number): string {
  const t = scriptTables();
  const i = t.sc.get(code);
  return i === undefined ? "Unknown" : t.names[i]!;
}

/** The Script_Extensions of a code point: its Script unless ScriptExtensions.txt lists more. */
export function scriptExtensions(code: number): string[] {
  const t = scriptTables();
  const listed = t.scx.get(code);
  return listed ? listed.map((i) => t.names[i]!) : [scriptOf(code)];
}
