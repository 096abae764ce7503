#!/usr/bin/env bun
// The `chat` command: `serve`, `connect`, `bench`, `admin`, `backup`, `migrate` and `help`. This is the only module that
// exits the process. Exit codes: 0 success, 1 failure (connection, startup), 2 usage error.

import { type ArgsDef, type CommandContext, type CommandDef, defineCommand } from "citty";
import { asks, HELP_FLAGS, optionIndex, parseArgs, VERSION_FLAGS } from "./cli/args";
import { helpExtras, renderHelp } from "./cli/help";
import { UsageError } from "./cli/parse";
import { quote } from "./net/clip";
import { VERSION } from "./version";

const subCommands = {
  serve: () => import("./cli/serve-command").then((m) => m.default),
  connect: () => import("./cli/connect").then((m) => m.default),
  bench: () => import("./cli/bench").then((m) => m.default),
  admin: () => import("./cli/admin").then((m) => m.default),
  backup: () => import("./cli/backup").then((m) => m.default),
  migrate: () => import("./cli/migrate").then((m) => m.default),
};

export const main = defineCommand({
  meta: {
    name: "chat",
    version: VERSION,
    description: "One-to-one chat: `chat serve` on one machine, `chat connect <host> 8080` anywhere",
  },
  subCommands,
});

type Loader = () => Promise<CommandDef<ArgsDef>>;
const command = (name: string): Loader | undefined =>
  Object.hasOwn(subCommands, name) ? (subCommands[name as keyof typeof subCommands] as Loader) : undefined;

/** Runs the CLI with rawArgs; resolves with the exit code. */
export async function runCli(rawArgs: string[]): Promise<number> {
  const [first, ...rest] = rawArgs;
  if (first === undefined) {
    console.error(await mainHelp());
    return 2;
  }
  if (VERSION_FLAGS.includes(first)) {
    console.log(VERSION);
    return 0;
  }
  if (HELP_FLAGS.includes(first)) {
    console.log(await mainHelp());
    return 0;
  }
  if (first === "help") return help(rest);
  const load = command(first);
  if (!load)
    return usageError(
      "chat",
      first.startsWith("-")
        ? `unknown option ${quote(first, 40)} (options go after the command, e.g. chat serve --port 9000)`
        : `unknown command ${quote(first, 40)}`,
    );
  const cmd = await load();
  // A command's own -h or -v (or --help, --version) wins over the built-in one.
  const own = optionIndex((cmd.args ?? {}) as ArgsDef);
  const builtin = (flags: string[]) => flags.filter((f) => !own.has(f.replace(/^-+/, "")));
  if (asks(rest, builtin(HELP_FLAGS))) {
    console.log(await commandHelp(first, cmd));
    return 0;
  }
  if (asks(rest, builtin(VERSION_FLAGS))) {
    console.log(VERSION);
    return 0;
  }
  try {
    const args = parseArgs((cmd.args ?? {}) as ArgsDef, rest);
    const context = { rawArgs: rest, args, cmd } as unknown as CommandContext<ArgsDef>;
    const result = await cmd.run?.(context);
    return typeof result === "number" ? result : 0;
  } catch (error) {
    if (error instanceof UsageError) return usageError(`chat ${first}`, error.message);
    throw error;
  }
}

// --- internal ---

async function help(args: string[]): Promise<number> {
  if (args.length === 0) {
    console.log(await mainHelp());
    return 0;
  }
  const [name, ...extra] = args;
  if (extra.length) return usageError("chat help", `unexpected argument ${quote(extra[0]!, 40)}`);
  const load = command(name!);
  if (name === "help") {
    console.log(await mainHelp());
    return 0;
  }
  if (!load) return usageError("chat help", `unknown command ${quote(name!, 40)}`);
  console.log(await commandHelp(name!, await load()));
  return 0;
}

async function mainHelp(): Promise<string> {
  const commands = [];
  for (const [name, load] of Object.entries(subCommands)) {
    const meta = await resolve((await (load as Loader)()).meta);
    commands.push({ name, description: meta?.description ?? "" });
  }
  commands.push({ name: "help", description: "Show the help of chat or of one command (chat help serve)" });
  return renderHelp({
    name: "chat",
    description: (await resolve(main.meta))?.description ?? "",
    version: VERSION,
    commands,
    footer: [
      "Run `chat help <command>` or `chat <command> --help` for its options. `chat --version` prints the version.",
    ],
  });
}

async function commandHelp(name: string, cmd: CommandDef<ArgsDef>): Promise<string> {
  const meta = await resolve(cmd.meta);
  const args = await resolve(cmd.args);
  return renderHelp({
    name: `chat ${name}`,
    description: meta?.description ?? "",
    version: VERSION,
    ...(args ? { args } : {}),
    ...helpExtras(cmd),
  });
}

/** citty's Resolvable: a value, a promise, or a function returning either. */
async function resolve<T>(v: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof v === "function" ? (v as () => T | Promise<T>)() : v;
}

/** One line on stderr saying what is wrong and where the help is; exit code 2. */
function usageError(command: string, message: string): number {
  console.error(`${command}: ${message}; see ${command === "chat help" ? "chat" : command} --help`);
  return 2;
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
