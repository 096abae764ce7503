// `chat serve --print-config`: every option, its effective value and where it came from,
// as TOML, so the output (minus the commented defaults) can be used as a config file.

import type { ArgsDef } from "citty";
import { redact } from "../store/redis-url";
import type { ArgValue } from "./args";
import { describeOrigin, type Layered, type Origin } from "./config";

const COMMENT_COLUMN = 40;

/** `defaults` gives the effective default where the description's is only a hint (e.g. a path under ~). */
export function formatConfig(defs: ArgsDef, layered: Layered, defaults: Record<string, string> = {}): string {
  const lines = ["# chat serve: effective options (flag > environment > config file > default)"];
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const origin = layered.origins[name] ?? { kind: "default" };
    const [setting, comment] =
      origin.kind === "default"
        ? [`# ${name}`, `(default: ${defaults[name] ?? defaultOf(def.description, def.type)})`]
        : [`${name} = ${toml(shown(layered.values[name]))}`, `# ${source(name, origin)}`];
    lines.push(`${setting.padEnd(COMMENT_COLUMN)}${comment}`);
  }
  return lines.join("\n");
}

// --- internal ---

function source(name: string, origin: Origin): string {
  switch (origin.kind) {
    case "flag":
      return `from --${name}`;
    case "env":
      return `from ${origin.name}`;
    case "file":
      return `from ${describeOrigin(name, origin).slice(name.length + 4)}`;
    default:
      return "default";
  }
}

/** A value as it may be shown: a password in a redis:// URL (--data) is not. */
function shown(value: ArgValue): ArgValue {
  return typeof value === "string" ? redact(value) : value;
}

/** A value as TOML: whole numbers and booleans bare, everything else a quoted string. */
function toml(value: ArgValue): string {
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(toml).join(", ")}]`;
  if (value === undefined) return '""';
  if (/^\d{1,15}$/.test(value)) return value;
  return JSON.stringify(value);
}

/** The default stated in the description, "(default 8080; 0 picks a free one)" → "8080". */
function defaultOf(description: string | undefined, type: string | undefined): string {
  const m = /\(default:? ([^;)]*)/.exec(description ?? "");
  if (m) return m[1]!.trim();
  return type === "boolean" ? "off" : "not set";
}
