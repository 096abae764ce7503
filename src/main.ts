#!/usr/bin/env bun
// The `chat` command: `serve`, `connect` and `bench`. This is the only module that exits
// the process. Exit codes: 0 success, 1 failure (connection, startup), 2 usage error.

import { type ArgsDef, type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import { UsageError } from "./cli/parse";
import { VERSION } from "./version";

const subCommands = {
  serve: () => import("./cli/serve").then((m) => m.default),
  connect: () => import("./cli/connect").then((m) => m.default),
  bench: () => import("./cli/bench").then((m) => m.default),
};

export const main = defineCommand({
  meta: {
    name: "chat",
    version: VERSION,
    description: "One-to-one chat: `chat serve` on one machine, `chat connect <host> 8080` anywhere",
  },
  subCommands,
});

/** Runs the CLI with rawArgs; resolves with the exit code. */
export async function runCli(rawArgs: string[]): Promise<number> {
  const [first] = rawArgs;
  if (first === "--version" || first === "-v") {
    console.log(VERSION);
    return 0;
  }
  const sub =
    first && first in subCommands ? await subCommands[first as keyof typeof subCommands]() : undefined;
  if (
    !first ||
    first === "--help" ||
    first === "-h" ||
    rawArgs.includes("--help") ||
    rawArgs.includes("-h")
  ) {
    const usage = await renderUsage(
      (sub ?? main) as CommandDef<ArgsDef>,
      sub ? (main as CommandDef<ArgsDef>) : undefined,
    );
    if (!first) {
      console.error(plain(usage, process.stderr.isTTY));
      return 2;
    }
    console.log(plain(usage, process.stdout.isTTY));
    return 0;
  }
  if (!sub)
    return usageError(main as CommandDef<ArgsDef>, undefined, `unknown command ${JSON.stringify(first)}`);
  try {
    rejectUnknownOptions(sub as CommandDef<ArgsDef>, rawArgs.slice(1));
    const { result } = await runCommand(sub as CommandDef<ArgsDef>, { rawArgs: rawArgs.slice(1) });
    return typeof result === "number" ? result : 0;
  } catch (error) {
    const e = error as Error;
    if (e instanceof UsageError || e?.name === "CLIError")
      return usageError(sub as CommandDef<ArgsDef>, main as CommandDef<ArgsDef>, e.message);
    throw error;
  }
}

// --- internal ---

async function usageError(
  cmd: CommandDef<ArgsDef>,
  parent: CommandDef<ArgsDef> | undefined,
  message: string,
) {
  console.error(plain(await renderUsage(cmd, parent), process.stderr.isTTY));
  console.error(`error: ${message}`);
  return 2;
}

/** Usage text without colour codes when it goes to a file or pipe. */
function plain(text: string, tty: boolean | undefined): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes start with ESC.
  return tty ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** citty ignores flags it does not know; a typo must not silently change nothing. */
function rejectUnknownOptions(cmd: CommandDef<ArgsDef>, args: string[]): void {
  const defs = (cmd.args ?? {}) as ArgsDef;
  const known = new Set<string>();
  for (const [name, def] of Object.entries(defs)) {
    known.add(name);
    const alias = (def as { alias?: string | string[] }).alias;
    for (const a of Array.isArray(alias) ? alias : alias ? [alias] : []) known.add(a);
    if (def.type === "boolean") known.add(`no-${name}`);
  }
  for (const arg of args) {
    if (arg === "--") break;
    const m = /^--?([^=]+)/.exec(arg);
    if (!m || /^-\d/.test(arg)) continue;
    const name = m[1]!;
    if (!known.has(name)) throw new UsageError(`unknown option ${arg.split("=")[0]}`);
  }
}

if (import.meta.main) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
