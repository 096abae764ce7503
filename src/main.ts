#!/usr/bin/env bun
// The `chat` command: `serve`, `connect`, `bench` and `help`. This is the only module that
// exits the process. Exit codes: 0 success, 1 failure (connection, startup), 2 usage error.

import type { ArgsDef, CommandContext, CommandDef } from "citty";
import { asks, HELP_FLAGS, parseArgs, VERSION_FLAGS } from "./cli/args";
import { type HelpInput, renderHelp } from "./cli/help";
import { UsageError } from "./cli/parse";
import { quote } from "./net/clip";
import { VERSION } from "./version";

/** What a command module exports: its definition, and optionally more for its help. */
interface CommandModule {
  default: CommandDef<ArgsDef>;
  help?: Pick<HelpInput, "optionNote" | "footer">;
}

const commands: Record<string, () => Promise<CommandModule>> = {
  serve: () => import("./cli/serve") as Promise<CommandModule>,
  connect: () => import("./cli/connect") as Promise<CommandModule>,
  bench: () => import("./cli/bench") as Promise<CommandModule>,
};

const DESCRIPTION = "One-to-one chat: `chat serve` on one machine, `chat connect <host> 8080` anywhere";
const COMMAND_LIST = [
  { name: "serve", description: "Run a chat server" },
  {
    name: "connect",
    description: "Connect to a chat server (interactive on a terminal, line by line otherwise)",
  },
  { name: "bench", description: "Load-test a chat server: throughput, latency, memory per connection" },
  { name: "help", description: "Show the help of chat or of one command (chat help serve)" },
];

/** Runs the CLI with rawArgs; resolves with the exit code. */
export async function runCli(rawArgs: string[]): Promise<number> {
  const [first, ...rest] = rawArgs;
  if (first === undefined) {
    console.error(mainHelp());
    return 2;
  }
  if (VERSION_FLAGS.includes(first)) {
    console.log(VERSION);
    return 0;
  }
  if (HELP_FLAGS.includes(first)) {
    console.log(mainHelp());
    return 0;
  }
  if (first === "help") return help(rest);
  const load = Object.hasOwn(commands, first) ? commands[first] : undefined;
  if (!load)
    return usageError(
      "chat",
      first.startsWith("-")
        ? `unknown option ${quote(first, 40)} (options go after the command, e.g. chat serve --port 9000)`
        : `unknown command ${quote(first, 40)}`,
    );
  const mod = await load();
  if (asks(rest, HELP_FLAGS)) {
    console.log(await commandHelp(first, mod));
    return 0;
  }
  if (asks(rest, VERSION_FLAGS)) {
    console.log(VERSION);
    return 0;
  }
  try {
    const cmd = mod.default;
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
    console.log(mainHelp());
    return 0;
  }
  const [name, ...extra] = args;
  if (extra.length) return usageError("chat help", `unexpected argument ${quote(extra[0]!, 40)}`);
  const load = Object.hasOwn(commands, name!) ? commands[name!] : undefined;
  if (name === "help") {
    console.log(mainHelp());
    return 0;
  }
  if (!load) return usageError("chat help", `unknown command ${quote(name!, 40)}`);
  console.log(await commandHelp(name!, await load()));
  return 0;
}

function mainHelp(): string {
  return renderHelp({
    name: "chat",
    description: DESCRIPTION,
    version: VERSION,
    commands: COMMAND_LIST,
    footer: [
      "Run `chat help <command>` or `chat <command> --help` for its options. `chat --version` prints the version.",
    ],
  });
}

async function commandHelp(name: string, mod: CommandModule): Promise<string> {
  const cmd = mod.default;
  const meta = typeof cmd.meta === "function" ? await cmd.meta() : await cmd.meta;
  const args = typeof cmd.args === "function" ? await cmd.args() : await cmd.args;
  return renderHelp({
    name: `chat ${name}`,
    description: meta?.description ?? "",
    version: VERSION,
    ...(args ? { args } : {}),
    ...mod.help,
  });
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
