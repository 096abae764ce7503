// Help text for a command, from its citty definition, wrapped to fit 80 columns.

import type { ArgDef, ArgsDef } from "citty";
import { aliases, optionIndex } from "./args";

export const HELP_WIDTH = 80;
/** Where descriptions start when the option fits before it. */
const DESCRIPTION_COLUMN = 26;

export interface HelpInput {
  /** "chat" or "chat serve". */
  name: string;
  description: string;
  version: string;
  args?: ArgsDef;
  commands?: { name: string; description: string }[];
  /** Appended to an option's description, e.g. its environment variable. */
  optionNote?: (name: string, def: ArgDef) => string | undefined;
  /** Paragraphs after the options. */
  footer?: string[];
}

/** Help additions a command registers for itself (env names, closing paragraphs). */
export type HelpExtras = Pick<HelpInput, "optionNote" | "footer">;
const extras = new WeakMap<object, HelpExtras>();

export function registerHelp<T extends object>(command: T, more: HelpExtras): T {
  extras.set(command, more);
  return command;
}

export function helpExtras(command: object): HelpExtras {
  return extras.get(command) ?? {};
}

export function renderHelp(h: HelpInput): string {
  const args = Object.entries(h.args ?? {});
  const positionals = args.filter(([, d]) => d.type === "positional");
  const options = args.filter(([, d]) => d.type !== "positional");
  const usage = [
    h.name,
    ...(h.commands?.length ? ["<command>"] : []),
    ...(options.length ? ["[options]"] : []),
    ...positionals.map(([n, d]) => (d.required === false ? `[${n.toUpperCase()}]` : n.toUpperCase())),
  ].join(" ");
  const out: string[] = [...wrap(`${h.description} (chat ${h.version})`, HELP_WIDTH), "", `Usage: ${usage}`];
  if (h.commands?.length) {
    out.push("", "Commands:");
    for (const c of h.commands) out.push(...entry(c.name, c.description));
  }
  if (positionals.length) {
    out.push("", "Arguments:");
    for (const [n, d] of positionals) out.push(...entry(n.toUpperCase(), d.description ?? ""));
  }
  if (options.length) {
    out.push("", "Options:");
    for (const [n, d] of options) {
      const note = h.optionNote?.(n, d);
      const text = [d.description ?? "", note ?? ""].filter(Boolean).join(" ");
      out.push(...entry(label(n, d), text));
      const negative = (d as { negativeDescription?: string }).negativeDescription;
      if (d.type === "boolean" && (negative || d.default === true))
        out.push(...entry(`--no-${n}`, negative ?? ""));
    }
    const own = optionIndex(h.args ?? {});
    for (const [short, long, text] of [
      ["h", "help", "Show this help"],
      ["v", "version", "Show the version"],
    ] as const) {
      if (own.has(long)) continue;
      out.push(...entry(own.has(short) ? `--${long}` : `-${short}, --${long}`, text));
    }
  }
  for (const paragraph of h.footer ?? []) out.push("", ...wrap(paragraph, HELP_WIDTH));
  return out.join("\n");
}

/** Words of `text` in lines of at most `width` columns (a longer word gets its own line). */
export function wrap(text: string, width: number, indent = ""): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line || !lines.length) lines.push(indent + line);
  return lines;
}

// --- internal ---

function label(name: string, def: ArgDef): string {
  const short = aliases(def).map((a) => (a.length === 1 ? `-${a}` : `--${a}`));
  const value = def.type === "boolean" ? "" : ` <${(def as { valueHint?: string }).valueHint ?? "value"}>`;
  return [...short, `--${name}`].join(", ") + value;
}

/** "  label   description…" with the description wrapped; on its own lines if label is long. */
function entry(left: string, text: string): string[] {
  const pad = " ".repeat(DESCRIPTION_COLUMN);
  const head = `  ${left}`;
  if (!text) return [head];
  const body = wrap(text, HELP_WIDTH, pad);
  if (head.length + 2 <= DESCRIPTION_COLUMN)
    return [head.padEnd(DESCRIPTION_COLUMN) + body[0]!.trimStart(), ...body.slice(1)];
  return [head, ...body];
}
