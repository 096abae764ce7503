// `chat backup FILE`: a consistent copy of the data, made by the running server or, when
// none runs, from the data file; then checked and measured.

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { defineCommand } from "citty";
import { adminWhere } from "./admin";
import { registerHelp } from "./help";

export const backupArgs = {
  file: { type: "positional", description: "The backup file to create (it must not exist)" },
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
} as const;

export default registerHelp(
  defineCommand({
    meta: { name: "backup", description: "Copy the data, consistently, while the server runs (or not)" },
    args: backupArgs,
    async run({ args }) {
      const file = resolve(String(args.file));
      if (existsSync(file)) {
        console.error(`chat backup: ${file} already exists; choose a new file name`);
        return 1;
      }
      const where = adminWhere(args as Record<string, string | undefined>, process.env);
      const { perform, TargetError } = await import("../admin/target");
      const { verifyBackup } = await import("../admin/verify");
      try {
        const { response, via } = await perform({ action: "backup", file }, where);
        if (!response.ok) {
          console.error(`chat backup: ${response.error}`);
          return 1;
        }
        const v = verifyBackup(file);
        if (!v.ok) {
          console.error(`chat backup: ${file} was written but fails its check: ${v.problem}`);
          return 1;
        }
        console.log(
          `backup ${file}: ${v.bytes} bytes, integrity ok, ${v.accounts} accounts, ${v.queued} waiting messages (${via === "server" ? "made by the running server" : "no server running: copied from the data file"})`,
        );
        console.log(
          `restore: stop the server, then chat serve --data ${file} (or copy it over the data file)`,
        );
        return 0;
      } catch (error) {
        if (error instanceof TargetError) {
          console.error(`chat backup: ${error.message}`);
          return 1;
        }
        throw error;
      }
    },
  }),
  {
    footer: [
      "With a server running, the server writes the copy (SQLite VACUUM INTO, pausing other work while it runs), so FILE's directory must be writable by the server's user. The copy is then opened here and checked with PRAGMA integrity_check.",
    ],
  },
);
