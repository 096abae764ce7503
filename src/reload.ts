// SIGHUP: the settings a running server can take without a restart, and the TLS
// certificate, applied from a freshly read configuration.

import type { ConsolaInstance } from "consola";
import { describeError } from "./core/chat";
import type { Listener } from "./net/listener";
import { LOG_LEVELS } from "./net/log";
import type { ServeOptions } from "./serve-options";

export interface Reloaded {
  applied: string[];
  needRestart: string[];
}

/** Settings SIGHUP applies to the running server, by their ServeOptions name and flag. */
export const RELOADABLE = {
  logLevel: "log-level",
  requestRate: "request-rate",
  requestBurst: "request-burst",
  loginTimeoutMs: "login-timeout",
  ackTimeoutMs: "ack-timeout",
  shutdownGraceMs: "shutdown-grace",
} as const satisfies Partial<Record<keyof ServeOptions, string>>;

type Tls = { cert: string; key: string } | undefined;

export interface ReloadDeps {
  /** The running options, which the core reads live: reloadable values are changed in it. */
  o: ServeOptions;
  listener: Listener;
  tls: Tls;
  /** Reads next's certificate files; throws with a sentence when it cannot. */
  readTls: (next: ServeOptions) => Tls;
  loggers: ConsolaInstance[];
}

/**
 * A reload function: applies what it can of next and answers what changed and, of the
 * options named in changed (flag names whose values differ), what only a restart applies.
 * Throws, changing nothing, when the new certificate cannot be read or used.
 */
export function reloader(d: ReloadDeps): (next: ServeOptions, changed: readonly string[]) => Reloaded {
  let current = d.tls;
  return (next, changed) => {
    const applied: string[] = [];
    const needRestart: string[] = [];
    const fresh = d.readTls(next);
    if (!!fresh !== !!current)
      needRestart.push(fresh ? "tls-cert (turning TLS on)" : "tls-cert (turning TLS off)");
    else if (fresh && current && (fresh.cert !== current.cert || fresh.key !== current.key)) {
      try {
        d.listener.reloadTls(fresh);
      } catch (error) {
        throw new Error(
          `cannot use the new TLS certificate (still serving the old one): ${describeError(error)}`,
        );
      }
      current = fresh;
      applied.push("tls certificate");
    }
    const live = d.o as unknown as Record<string, unknown>;
    const wanted = next as unknown as Record<string, unknown>;
    for (const [key, flag] of Object.entries(RELOADABLE)) {
      if (live[key] === wanted[key]) continue;
      live[key] = wanted[key];
      applied.push(`${flag} = ${String(wanted[key])}`);
    }
    for (const l of d.loggers) l.level = LOG_LEVELS[d.o.logLevel];
    const handled = new Set<string>([...Object.values(RELOADABLE), "tls-cert", "tls-key"]);
    needRestart.push(...changed.filter((flag) => !handled.has(flag)));
    return { applied, needRestart };
  };
}
