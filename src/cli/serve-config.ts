// `chat serve`'s options from all their sources, checked before anything starts.

import { defaultDataPath } from "../server";
import type { ParsedArgs } from "./args";
import { attribute, CONFIG_ENV, type Layered, layer, readConfigFile } from "./config";
import { UsageError } from "./parse";
import { formatConfig } from "./print-config";
import { serveArgs, serveOptions } from "./serve";

export interface ServeConfig extends Layered {
  /** The config file read, if any. */
  file: string | undefined;
}

/** Flags, environment and config file merged and validated. Throws UsageError. */
export function configureServe(flags: ParsedArgs, env: Record<string, string | undefined>): ServeConfig {
  const fromFlag = typeof flags.config === "string" ? flags.config : undefined;
  const file = fromFlag ?? (env[CONFIG_ENV] ? env[CONFIG_ENV] : undefined);
  let config: ReturnType<typeof readConfigFile> | undefined;
  try {
    config = file === undefined ? undefined : readConfigFile(file, serveArgs);
  } catch (error) {
    if (error instanceof UsageError && fromFlag === undefined)
      throw new UsageError(`${error.message} (from ${CONFIG_ENV})`, error.option);
    throw error;
  }
  const layered = layer(serveArgs, flags, env, config);
  try {
    serveOptions(layered.values as Record<string, string | boolean | undefined>, defaultDataPath());
  } catch (error) {
    if (error instanceof UsageError) throw attribute(error, layered.origins);
    throw error;
  }
  return { ...layered, file };
}

/** Prints the effective configuration; the exit code of `--print-config`. */
export function printConfig(c: ServeConfig): number {
  const header = c.file ? `# config file: ${c.file}\n` : "# config file: none\n";
  console.log(header + formatConfig(serveArgs, c, { data: defaultDataPath() }));
  return 0;
}
