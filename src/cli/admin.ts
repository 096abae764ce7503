// `chat admin <action> [ARG]`: administration of a running server through its control
// socket, or of the data file directly while no server runs.

import { defineCommand } from "citty";
import type { AdminRequest } from "../admin/actions";
import { quote } from "../net/clip";
import { defaultDataPath } from "../server";
import type { ParsedArgs } from "./args";
import { CONFIG_ENV, layer, readConfigFile } from "./config";
import { registerHelp } from "./help";
import { duration, UsageError } from "./parse";
import { serveArgs } from "./serve";

export const adminArgs = {
  action: {
    type: "positional",
    description: "accounts, delete, reset-password, kick, ban, unban, bans or stats",
  },
  target: {
    type: "positional",
    required: false,
    description: "The account NAME, the ADDRESS[/PREFIX] to ban or unban, or the accounts PATTERN (* and ?)",
  },
  data: {
    type: "string",
    description: "The server's data file (default $CHAT_DATA, else ~/.local/share/chat/chat.db)",
  },
  "control-socket": {
    type: "string",
    description: "The server's control socket (default $CHAT_CONTROL_SOCKET, else <data>.sock)",
  },
  config: {
    type: "string",
    description: "The server's config file, read for data and control-socket (default $CHAT_CONFIG)",
  },
  for: { type: "string", description: "ban: lift the ban after this long (e.g. 30m, 1h, 7d; default never)" },
  stdin: {
    type: "boolean",
    description: "reset-password: read the new password from stdin instead of making one",
  },
  json: { type: "boolean", description: "Print the answer as JSON" },
} as const;

type Args = Record<string, string | boolean | string[] | undefined>;

/**
 * Where to find the server, as `chat serve` would: the flag, then CHAT_DATA and
 * CHAT_CONTROL_SOCKET, then the server's config file (--config or CHAT_CONFIG), then the
 * default. Throws UsageError for a bad config file.
 */
export function adminWhere(a: Args, env: Record<string, string | undefined>) {
  const file = typeof a.config === "string" ? a.config : env[CONFIG_ENV] || undefined;
  const config = file === undefined ? undefined : readConfigFile(file, serveArgs);
  const defs = { data: serveArgs.data, "control-socket": serveArgs["control-socket"] };
  const { values } = layer(defs, a as ParsedArgs, env, config);
  const s = (k: string) => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  const controlSocket = s("control-socket");
  return { data: s("data") ?? defaultDataPath(), ...(controlSocket ? { controlSocket } : {}) };
}

/** The request the arguments ask for; throws UsageError. */
export async function adminRequest(a: Args, readStdin: () => Promise<string>): Promise<AdminRequest> {
  const action = String(a.action);
  const target = typeof a.target === "string" ? a.target : undefined;
  const needs = (what: string) => {
    if (target === undefined) throw new UsageError(`admin ${action} needs ${what}`);
    return target;
  };
  const none = () => {
    if (target !== undefined)
      throw new UsageError(`admin ${action} takes no argument; got ${quote(target, 40)}`);
  };
  if (a.for !== undefined && action !== "ban") throw new UsageError("--for goes with ban only", "for");
  if (a.stdin && action !== "reset-password")
    throw new UsageError("--stdin goes with reset-password only", "stdin");
  switch (action) {
    case "accounts":
      return { action, ...(target !== undefined ? { pattern: target } : {}) };
    case "delete":
    case "kick":
      return { action, name: needs("an account NAME") };
    case "reset-password": {
      const name = needs("an account NAME");
      if (!a.stdin) return { action, name };
      const password = (await readStdin()).replace(/\r?\n$/, "");
      if (!password) throw new UsageError("reset-password --stdin read no password from stdin");
      return { action, name, password };
    }
    case "ban": {
      const address = needs("an ADDRESS or ADDRESS/PREFIX");
      const forMs = typeof a.for === "string" ? duration("for", a.for, 0) : undefined;
      return { action, address, ...(forMs ? { forMs } : {}) };
    }
    case "unban":
      return { action, address: needs("an ADDRESS or ADDRESS/PREFIX") };
    case "bans":
    case "stats":
      none();
      return { action };
    default:
      throw new UsageError(
        `unknown admin action ${quote(action, 40)}; expected accounts, delete, reset-password, kick, ban, unban, bans or stats`,
        "action",
      );
  }
}

export default registerHelp(
  defineCommand({
    meta: { name: "admin", description: "Administer a server: accounts, bans, stats (running or not)" },
    args: adminArgs,
    async run({ args }) {
      const req = await adminRequest(args as Args, () => Bun.stdin.text());
      const where = adminWhere(args as Args, process.env);
      const { perform, TargetError } = await import("../admin/target");
      try {
        const { response, via } = await perform(req, where);
        if (!response.ok) {
          console.error(`chat admin ${req.action}: ${response.error}`);
          return 1;
        }
        if (args.json) console.log(JSON.stringify({ ...response, via }));
        else
          console.log(
            via === "file" ? `${response.text}\n(no server running: done on the data file)` : response.text,
          );
        return 0;
      } catch (error) {
        if (error instanceof TargetError) {
          console.error(`chat admin ${req.action}: ${error.message}`);
          return 1;
        }
        throw error;
      }
    },
  }),
  {
    footer: [
      "Actions: accounts [PATTERN] (created, last login, queued messages, online); delete NAME (with its queue; an online session is logged out); reset-password NAME [--stdin] (prints a new password unless --stdin gives one; revokes its sessions); kick NAME; ban ADDRESS[/PREFIX] [--for 1h] (closes its connections, refuses new ones); unban ADDRESS[/PREFIX]; bans; stats.",
      "With a server running, the action goes through its control socket (only the server's user may use it) and the server logs it. With none running, it is done on the data file; bans set then take effect at the next start.",
    ],
  },
);
