// Runs `chat serve` until SIGINT/SIGTERM; resolves with the exit code. Tells systemd when
// it is ready and when it stops (NOTIFY_SOCKET), and reloads settings on SIGHUP.

import { describeError } from "../core/chat";
import { createLogger } from "../net/log";
import { sdNotify } from "../net/sd-notify";
import { defaultDataPath, type RunningServer, StartupError, startServer } from "../server";
import { serveOptions } from "./serve";

type Args = Record<string, string | boolean | undefined>;

export async function runServe(args: Args, reconfigure?: () => Args): Promise<number> {
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
  const notify = (state: string) => {
    try {
      sdNotify(state);
    } catch (error) {
      log.warn(describeError(error));
    }
  };
  // Until the server is up, a SIGHUP (whose default would end the process) is only noted.
  let reload: () => void = () => log.info("SIGHUP while starting: ignored");
  process.on("SIGHUP", () => reload());

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
  reload = () => {
    try {
      const fresh = reconfigure ? reconfigure() : args;
      const next = serveOptions(fresh, defaultDataPath());
      // Compared with the start: a restart-only change is named at every reload until a restart.
      const changed = [...new Set([...Object.keys(args), ...Object.keys(fresh)])].filter(
        (k) => String(args[k]) !== String(fresh[k]),
      );
      const { applied, needRestart } = server.reload(next, changed);
      log.info(`SIGHUP: ${applied.length ? `reloaded ${applied.join(", ")}` : "reloaded; nothing changed"}`);
      if (needRestart.length)
        log.warn(`SIGHUP: changed, but only a restart applies them: ${needRestart.join(", ")}`);
    } catch (error) {
      log.error(`SIGHUP: reload failed, kept the running settings: ${describeError(error)}`);
    }
  };
  notify(`READY=1\nSTATUS=listening on port ${server.port}\nMAINPID=${process.pid}`);
  stopping = () => {
    notify("STOPPING=1");
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
