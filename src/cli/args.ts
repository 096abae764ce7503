// The one argument parser: a command's citty ArgsDef in, its values out, strictly.
// citty's own parser (node:util parseArgs, non-strict) takes `--data --port 21091` as a
// data path of "--port" and `--port=` as an empty port; here both are usage errors, and so
// are unknown options (with the closest known one suggested) and surplus arguments.

import type { ArgDef, ArgsDef } from "citty";
import { quote } from "../net/clip";
import { UsageError } from "./parse";

export type ArgValue = string | boolean | string[] | undefined;
export type ParsedArgs = Record<string, ArgValue> & { _: string[] };

/** Extensions citty's ArgDef does not have: a string option that may be repeated. */
type Def = ArgDef & { multiple?: boolean };

interface Spec {
  name: string;
  def: Def;
  negated: boolean;
}

/** Flags every command understands; main.ts handles them before parsing. */
export const HELP_FLAGS = ["--help", "-h"];
export const VERSION_FLAGS = ["--version", "-v"];

const given = new WeakMap<ParsedArgs, ReadonlySet<string>>();

/** The options set on the command line itself, as opposed to filled in from a default. */
export function givenOptions(args: ParsedArgs): ReadonlySet<string> {
  return given.get(args) ?? new Set(Object.keys(args).filter((k) => k !== "_" && args[k] !== undefined));
}

/** Whether argv asks for one of `flags` (before any `--`). */
export function asks(argv: readonly string[], flags: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (flags.includes(arg)) return true;
  }
  return false;
}

/** The option names (long, short, negated) a command accepts, mapped to their definition. */
export function optionIndex(defs: ArgsDef): Map<string, Spec> {
  const index = new Map<string, Spec>();
  for (const [name, d] of Object.entries(defs)) {
    const def = d as Def;
    if (def.type === "positional") continue;
    index.set(name, { name, def, negated: false });
    for (const alias of aliases(def)) index.set(alias, { name, def, negated: false });
  }
  for (const [name, d] of Object.entries(defs)) {
    if (d.type === "boolean" && !index.has(`no-${name}`))
      index.set(`no-${name}`, { name, def: d as Def, negated: true });
  }
  return index;
}

export function aliases(def: ArgDef): string[] {
  const a = (def as { alias?: string | string[] }).alias;
  return Array.isArray(a) ? a : a ? [a] : [];
}

/** Parses argv against defs. Throws UsageError with one line saying what is wrong. */
export function parseArgs(defs: ArgsDef, argv: readonly string[]): ParsedArgs {
  const index = optionIndex(defs);
  const out: ParsedArgs = { _: [] };
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!isOption(arg)) {
      positionals.push(arg);
      continue;
    }
    const { name, inline, spelled } = split(arg);
    const spec = index.get(name);
    if (!spec) throw new UsageError(`unknown option ${clipFlag(spelled)}${suggestion(name, index)}`);
    if (spec.def.type === "boolean") {
      out[spec.name] = booleanValue(spec, spelled, inline);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`${spelled} needs a value`, spec.name);
      if (next === "--" || isOption(next))
        throw new UsageError(`${spelled} needs a value, but ${clipFlag(next)} follows it`, spec.name);
      value = next;
      i++;
    }
    if (value === "") throw new UsageError(`${spelled} needs a value, not an empty one`, spec.name);
    if (spec.def.type === "enum") checkEnum(spec, spelled, value);
    const previous = out[spec.name];
    out[spec.name] = spec.def.multiple ? [...(Array.isArray(previous) ? previous : []), value] : value; // given twice: the last one counts, as in most tools
  }
  assignPositionals(defs, positionals, out);
  given.set(out, new Set(Object.keys(out).filter((k) => k !== "_")));
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== "positional" && def.required && out[name] === undefined)
      throw new UsageError(`--${name} is required`, name);
    if (def.default !== undefined && out[name] === undefined) out[name] = def.default as string | boolean;
  }
  return out;
}

// --- internal ---

/** An option, as opposed to a value: `-5` and `-` are values. */
function isOption(arg: string): boolean {
  return arg.length > 1 && arg.startsWith("-") && !/^-[\d.]/.test(arg);
}

function split(arg: string): { name: string; inline: string | undefined; spelled: string } {
  if (arg.startsWith("--")) {
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    return { name, inline: eq < 0 ? undefined : arg.slice(eq + 1), spelled: `--${name}` };
  }
  // -p 9000, -p=9000, -p9000
  const name = arg.slice(1, 2);
  const rest = arg.slice(2);
  return { name, inline: rest === "" ? undefined : rest.replace(/^=/, ""), spelled: `-${name}` };
}

function booleanValue(spec: Spec, spelled: string, inline: string | undefined): boolean {
  if (inline === undefined) return !spec.negated;
  if (!spec.negated && (inline === "true" || inline === "false")) return inline === "true";
  throw new UsageError(`${spelled} takes no value; got ${quote(inline, 40)}`, spec.name);
}

function checkEnum(spec: Spec, spelled: string, value: string): void {
  const options = (spec.def as { options?: string[] }).options ?? [];
  if (options.length && !options.includes(value))
    throw new UsageError(
      `${spelled} must be one of ${options.join(", ")}; got ${quote(value, 40)}`,
      spec.name,
    );
}

function assignPositionals(defs: ArgsDef, positionals: string[], out: ParsedArgs): void {
  out._ = positionals;
  const rest = [...positionals];
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== "positional") continue;
    const value = rest.shift();
    if (value !== undefined) out[name] = value;
    else if (def.required !== false && def.default === undefined)
      throw new UsageError(`${name.toUpperCase()} is missing`, name);
  }
  if (rest.length) throw new UsageError(`unexpected argument ${quote(rest[0]!, 40)}`);
}

function clipFlag(flag: string): string {
  const eq = flag.indexOf("=");
  const name = eq < 0 ? flag : flag.slice(0, eq);
  return name.length > 40 || /[^\w-]/.test(name) ? quote(name, 40) : name;
}

/** " (did you mean --port?)" for a near miss, else "". */
function suggestion(name: string, index: Map<string, Spec>): string {
  const best = closest(name, index.keys());
  return best ? ` (did you mean --${best}?)` : "";
}

/** The candidate nearest to `name` (a typo or two away), if any. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
  for (const candidate of candidates) {
    if (candidate.length < 2) continue;
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions (prot → port is 1). */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3 || a.length > 64) return 99;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
