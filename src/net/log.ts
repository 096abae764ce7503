// Server events → log lines through consola: readable text, or one JSON object per line.
// Message bodies and passwords never reach the log: no event carries them.

import { type ConsolaInstance, createConsola, type LogObject } from "consola";
import { describeError } from "../core/chat";
import type { EventSink, ServerEvent } from "../core/events";

export type LogFormat = "text" | "json";
export const LOG_LEVELS = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

export function createLogger(level: LogLevel, format: LogFormat): ConsolaInstance {
  const reporters =
    format === "json"
      ? [
          {
            log(o: LogObject) {
              const [msg, fields] = o.args as [unknown, Record<string, unknown> | undefined];
              const line = {
                time: o.date.toISOString(),
                level: o.type,
                ...(o.tag ? { tag: o.tag } : {}),
                msg: typeof msg === "string" ? msg : describeError(msg),
                ...(fields && typeof fields === "object" ? fields : {}),
              };
              process.stdout.write(`${JSON.stringify(line)}\n`);
            },
          },
        ]
      : undefined;
  return createConsola({ level: LOG_LEVELS[level], ...(reporters ? { reporters } : {}) });
}

export function eventLogger(log: ConsolaInstance, format: LogFormat): EventSink {
  const emit = (level: "info" | "warn" | "error" | "debug", text: string, e: ServerEvent) => {
    if (format === "json") {
      const { type, ...fields } = e as ServerEvent & { error?: unknown };
      if ("error" in fields) fields.error = describeError(fields.error);
      log[level](text, { event: type, ...fields });
    } else {
      log[level](text);
    }
  };
  return (e) => {
    const who = "account" in e && e.account ? `${e.account} ` : "";
    switch (e.type) {
      case "connect":
        return emit("info", `connection ${e.conn} from ${e.address}`, e);
      case "disconnect":
        return emit(
          "info",
          `connection ${e.conn} from ${e.address} ${who ? `(${e.account}) ` : ""}closed: ${e.reason}`,
          e,
        );
      case "login":
        return emit(
          "info",
          `${e.account} ${e.resumed ? "resumed a session" : "logged in"} from ${e.address} (connection ${e.conn})`,
          e,
        );
      case "logout":
        return emit("info", `${e.account} logged out on connection ${e.conn}: ${e.reason}`, e);
      case "forced_logout":
        return emit(
          "info",
          `${e.account} on connection ${e.conn} (${e.address}) forced out: logged in from ${e.byAddress}`,
          e,
        );
      case "login_failed":
        return emit("warn", `failed login for ${JSON.stringify(e.name)} from ${e.address}: ${e.reason}`, e);
      case "account_created":
        return emit("info", `account ${e.account} created from ${e.address}`, e);
      case "account_deleted":
        return emit(
          "info",
          `account ${e.account} deleted from ${e.address} (${e.handedOver} messages handed over)`,
          e,
        );
      case "limit":
        return emit(
          "warn",
          `limit ${e.limit}: ${who}connection ${e.conn || "-"} from ${e.address}: ${e.detail}`,
          e,
        );
      case "dead_peer":
        return emit(
          "warn",
          `dead peer: ${who}connection ${e.conn} from ${e.address} silent for ${e.silentMs} ms`,
          e,
        );
      case "protocol_error":
        return emit(
          "warn",
          `protocol error ${e.status} on connection ${e.conn} from ${e.address}: ${e.detail}`,
          e,
        );
      case "storage_error":
        return emit("error", `storage: ${e.detail}`, e);
      case "internal_error":
        // The operator gets the stack; clients only ever get "internal server error".
        if (format === "json") {
          const stack = e.error instanceof Error ? e.error.stack : undefined;
          log.error(`internal error: ${e.detail}`, {
            event: e.type,
            detail: e.detail,
            error: describeError(e.error),
            stack,
          });
        } else {
          log.error(`internal error: ${e.detail}`, e.error);
        }
        return;
    }
  };
}
