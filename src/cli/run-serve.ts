// Runs `chat serve` until SIGINT/SIGTERM; resolves with the exit code.

import { describeError } from "../core/chat";
import { createLogger } from "../net/log";
import { defaultDataPath, StartupError, startServer } from "../server";
import { serveOptions } from "./serve";

export async function runServe(args: Record<string, string | boolean | undefined>): Promise<number> {
  const o = serveOptions(args, defaultDataPath());
  const log = createLogger(o.logLevel, o.logFormat);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(o, log);
  } catch (error) {
    if (error instanceof StartupError) {
      log.error(error.message);
      return 1;
    }
    throw error;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: string) => {
      if (++signals > 1) {
        log.warn(`${signal} again: exiting at once`);
        resolve(1);
        return;
      }
      log.info(`${signal}: shutting down (again to exit at once)`);
      server.stop().then(
        () => {
          log.info("server stopped");
          resolve(0);
        },
        (error) => {
          log.error(`shutdown failed: ${describeError(error)}`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGTERM", () => onSignal("SIGTERM"));
  });
}
