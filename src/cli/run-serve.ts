// Runs `chat serve` until SIGINT/SIGTERM; resolves with the exit code.

import { describeError } from "../core/chat";
import { createLogger } from "../net/log";
import { defaultDataPath, type RunningServer, StartupError, startServer } from "../server";
import { serveOptions } from "./serve";

export async function runServe(args: Record<string, string | boolean | undefined>): Promise<number> {
  const o = serveOptions(args, defaultDataPath());
  const log = createLogger(o.logLevel, o.logFormat);
  let exit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    exit = resolve;
  });
  // Signals are handled from the start: one that arrives while the server is still
  // starting stops it as soon as it is up.
  let signals = 0;
  let stopping: (() => void) | null = null;
  const onSignal = (signal: string) => {
    if (++signals > 1) {
      log.warn(`${signal} again: exiting at once`);
      exit(1);
      return;
    }
    log.info(`${signal}: shutting down (again to exit at once)`);
    stopping?.();
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  let server: RunningServer;
  try {
    server = await startServer(o, log);
  } catch (error) {
    if (error instanceof StartupError) {
      log.error(error.message);
      return 1;
    }
    throw error;
  }
  stopping = () => {
    server.stop().then(
      () => {
        log.info("server stopped");
        exit(0);
      },
      (error) => {
        log.error(`shutdown failed: ${describeError(error)}`);
        exit(1);
      },
    );
  };
  if (signals > 0) stopping();
  return exited;
}
