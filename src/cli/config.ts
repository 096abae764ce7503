// Where each `chat serve` option comes from: the command line, else the environment
// (CHAT_<NAME>), else the --config TOML file (<name> = value), else its default. The
// names are derived from the flags, so a new entry in serveArgs gets both for free.
// Pure except readConfigFile.

import { readFileSync, statSync } from "node:fs";
import type { ArgsDef } from "citty";
import { quote } from "../net/clip";
import { type ArgValue, closest, givenOptions, type ParsedArgs } from "./args";
import { UsageError } from "./parse";

export type Origin =
  | { kind: "flag" }
  | { kind: "env"; name: string }
  | { kind: "file"; file: string; line: number | undefined }
  | { kind: "default" };

export interface Layered {
  values: Record<string, ArgValue>;
  origins: Record<string, Origin>;
}

/** A config file's values, already turned into flag-style strings and booleans. */
export interface ConfigFile {
  file: string;
  values: Record<string, string | boolean>;
  lines: Record<string, number | undefined>;
}

/** The options that choose the configuration itself; never read from env or file. */
export const configArgs = {
  config: {
    type: "string",
    description:
      "TOML file of options, named as the flags without -- (port = 9000); flags and environment override it (default: none)",
  },
  "print-config": {
    type: "boolean",
    description: "Print the effective value of every option and where it came from, then exit",
  },
} as const;

export const CONFIG_ENV = "CHAT_CONFIG";
/** A config file larger than this is surely not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** --max-data-mb → CHAT_MAX_DATA_MB. */
export function envName(option: string): string {
  return `CHAT_${option.toUpperCase().replace(/-/g, "_")}`;
}

/** Merges the sources by precedence flag > env > file > default. Throws UsageError. */
export function layer(
  defs: ArgsDef,
  flags: ParsedArgs,
  env: Record<string, string | undefined>,
  file?: ConfigFile,
): Layered {
  const values: Record<string, ArgValue> = {};
  const origins: Record<string, Origin> = {};
  const onCommandLine = givenOptions(flags);
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const fromEnv = env[envName(name)];
    if (onCommandLine.has(name)) {
      values[name] = flags[name];
      origins[name] = { kind: "flag" };
    } else if (fromEnv !== undefined && fromEnv !== "") {
      // An empty variable counts as unset: `CHAT_PORT=` in a unit or compose file is a
      // blank left to fill, not a value.
      values[name] = def.type === "boolean" ? envBoolean(envName(name), fromEnv) : fromEnv;
      origins[name] = { kind: "env", name: envName(name) };
    } else if (file && file.values[name] !== undefined) {
      values[name] = file.values[name];
      origins[name] = { kind: "file", file: file.file, line: file.lines[name] };
    } else {
      // A default declared in the ArgsDef itself stays a default, below env and file.
      if (flags[name] !== undefined) values[name] = flags[name];
      origins[name] = { kind: "default" };
    }
  }
  return { values, origins };
}

/** How an origin is named in messages: "--port", "CHAT_PORT", "port in chat.toml line 3". */
export function describeOrigin(option: string, origin: Origin | undefined): string {
  switch (origin?.kind) {
    case "env":
      return origin.name;
    case "file":
      return `${option} in ${origin.file}${origin.line ? ` line ${origin.line}` : ""}`;
    default:
      return `--${option}`;
  }
}

/**
 * Rewords a UsageError about an option that came from the environment or the file, so the
 * operator is pointed at the right place ("CHAT_HEARTBEAT wants a duration…").
 */
export function attribute(error: UsageError, origins: Record<string, Origin>): UsageError {
  const option = error.option;
  if (!option) return error;
  const origin = origins[option];
  if (!origin || origin.kind === "flag" || origin.kind === "default") return error;
  const flag = new RegExp(`--${option.replace(/[-]/g, "\\-")}(?![\\w-])`);
  const where = describeOrigin(option, origin);
  const message = flag.test(error.message)
    ? error.message.replace(flag, where)
    : `${where}: ${error.message}`;
  return new UsageError(message, option);
}

/** Reads and checks a config file. Throws UsageError naming the file (and line). */
export function readConfigFile(file: string, defs: ArgsDef): ConfigFile {
  let text: string;
  try {
    if (statSync(file).size > MAX_CONFIG_BYTES)
      throw new UsageError(`config file ${file} is larger than ${MAX_CONFIG_BYTES} bytes`, "config");
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(`cannot read config file ${file}: ${code}`, "config");
  }
  return parseConfig(text, file, defs);
}

/** The pure part of readConfigFile. */
export function parseConfig(text: string, file: string, defs: ArgsDef): ConfigFile {
  let table: Record<string, unknown>;
  try {
    table = Bun.TOML.parse(text) as Record<string, unknown>;
  } catch (error) {
    const reason = String((error as Error).message ?? error).replace(/^TOML Parse error: /, "");
    throw new UsageError(`${file} line ${errorLine(text)}: not valid TOML: ${reason}`, "config");
  }
  const values: Record<string, string | boolean> = {};
  const lines: Record<string, number | undefined> = {};
  for (const [key, value] of Object.entries(table)) {
    const line = keyLine(text, key);
    const at = `${file}${line ? ` line ${line}` : ""}`;
    const def = defs[key];
    if (!def || def.type === "positional" || key in configArgs) {
      const near = closest(
        key.replace(/_/g, "-").toLowerCase(),
        Object.keys(defs).filter((k) => defs[k]?.type !== "positional"),
      );
      throw new UsageError(
        `${at}: unknown key ${quote(key, 40)}${near ? ` (did you mean ${near}?)` : ""}`,
        "config",
      );
    }
    lines[key] = line;
    if (def.type === "boolean") {
      if (typeof value !== "boolean")
        throw new UsageError(`${at}: ${key} wants true or false; got ${typeName(value)}`, "config");
      values[key] = value;
    } else if (typeof value === "string") {
      if (value === "")
        throw new UsageError(`${at}: ${key} is empty; leave it out for the default`, "config");
      values[key] = value;
    } else if (typeof value === "number" && Number.isFinite(value)) {
      values[key] = String(value);
    } else {
      throw new UsageError(`${at}: ${key} wants a string or a number; got ${typeName(value)}`, "config");
    }
  }
  return { file, values, lines };
}

// --- internal ---

function envBoolean(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new UsageError(`${name} wants true or false (or 1, 0, yes, no); got ${quote(value, 40)}`);
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (value && typeof value === "object") return "a table";
  if (typeof value === "number") return String(value);
  return `a ${typeof value}`;
}

/** The line that defines top-level `key` (as `key =`, `"key" =`, `key.x =` or `[key]`). */
function keyLine(text: string, key: string): number | undefined {
  const k = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const name = `(?:${k}|"${k}"|'${k}')`;
  const assignment = new RegExp(`^\\s*${name}\\s*[.=]`);
  const header = new RegExp(`^\\s*\\[{1,2}\\s*${name}\\s*[.\\]]`);
  const all = text.split(/\r?\n/);
  let inTable = false;
  for (let i = 0; i < all.length; i++) {
    const l = all[i]!;
    if (header.test(l)) return i + 1;
    if (/^\s*\[/.test(l)) inTable = true;
    else if (!inTable && assignment.test(l)) return i + 1;
  }
  return undefined;
}

/**
 * Bun's TOML errors carry no position: the line is where a prefix that parses becomes one
 * that does not (binary search; prefix(lo) parses, prefix(hi) does not).
 */
function errorLine(text: string): number {
  const all = text.split(/\r?\n/);
  const parses = (n: number) => {
    try {
      Bun.TOML.parse(all.slice(0, n).join("\n"));
      return true;
    } catch {
      return false;
    }
  };
  let lo = 0;
  let hi = all.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (parses(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}
