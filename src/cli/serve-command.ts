// `chat serve` as a command: its options (serve.ts), where they come from (serve-config.ts)
// and the help that says so. Kept apart from serve.ts, which the running server imports.

import { defineCommand } from "citty";
import type { ParsedArgs } from "./args";
import { CONFIG_ENV, configArgs, envName } from "./config";
import { registerHelp } from "./help";
import { serveArgs } from "./serve";

type Args = Record<string, string | boolean | undefined>;

export default registerHelp(
  defineCommand({
    meta: { name: "serve", description: "Run a chat server" },
    args: { ...serveArgs, ...configArgs },
    async run({ args }) {
      const { configureServe, printConfig } = await import("./serve-config");
      const layered = configureServe(args as ParsedArgs, process.env);
      if (args["print-config"]) return printConfig(layered);
      const { runServe } = await import("./run-serve");
      // SIGHUP reads the environment and the config file again; the flags stay.
      const reconfigure = () => configureServe(args as ParsedArgs, process.env).values as Args;
      return runServe(layered.values as Args, reconfigure);
    },
  }),
  // For `chat serve --help`: each option's environment variable, and how the sources combine.
  {
    optionNote: (name: string) =>
      name in serveArgs ? `[${envName(name)}]` : name === "config" ? `[${CONFIG_ENV}]` : undefined,
    footer: [
      "Every option can also come from the environment variable shown in brackets (an empty one counts as unset) or from the --config TOML file, as `name = value` with the flag's name. A flag beats the environment, which beats the file, which beats the default.",
    ],
  },
);
