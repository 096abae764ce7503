// Server events → log lines through consola: readable text, or one JSON object per line.
// Message bodies and passwords never reach the log: no event carries them.

import { formatWithOptions } from "node:util";
import { type ConsolaInstance, createConsola, type LogObject } from "consola";
import { describeError } from "../core/chat";
import type { EventSink, ServerEvent } from "../core/events";
import { clip } from "./clip";

export type LogFormat = "text" | "json";
export const LOG_LEVELS = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

/**
 * consola's log types → the level names log pipelines know (`success`, `ready`… are info).
 * Exported for tests.
 */
export function levelName(type: string): "error" | "warn" | "info" | "debug" | "trace" {
  switch (type) {
    case "fatal":
    case "error":
    case "fail":
      return "error";
    case "warn":
      return "warn";
    case "debug":
      return "debug";
    case "trace":
    case "verbose":
      return "trace";
    default:
      return "info";
  }
}

/**
 * The server's logger. Text goes through consola's reporter on a terminal (icons, colour);
 * anywhere else (a file, a pipe, journald) one plain line per entry with an ISO-8601 time,
 * warnings and errors on stderr as on a terminal.
 */
export function createLogger(
  level: LogLevel,
  format: LogFormat,
  // Both streams: warnings go to stderr, and `2>>chat.log` must get times too.
  tty: boolean = process.stdout.isTTY === true && process.stderr.isTTY === true,
): ConsolaInstance {
  const reporter = format === "json" ? { log: jsonLine } : tty ? undefined : { log: textLine };
  return createConsola({ level: LOG_LEVELS[level], ...(reporter ? { reporters: [reporter] } : {}) });
}

/**
 * One JSON object per line: time, level, msg, then the event's fields. consola collapses a
 * burst of identical entries into one, adding "(repeated N times)": that becomes `repeated`.
 */
function jsonLine(o: LogObject): void {
  const [msg, ...rest] = o.args as unknown[];
  const fields = rest.find((a): a is Record<string, unknown> => !!a && typeof a === "object");
  const repeated = rest
    .map((a) => (typeof a === "string" ? /^\(repeated (\d+) times\)$/.exec(a)?.[1] : undefined))
    .find((n) => n !== undefined);
  const line = {
    time: o.date.toISOString(),
    level: levelName(o.type),
    ...(o.tag ? { tag: o.tag } : {}),
    msg: typeof msg === "string" ? msg : describeError(msg),
    ...fields,
    ...(repeated ? { repeated: Number(repeated) } : {}),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** "2026-12-01T08:19:01.123Z INFO  chat: text" */
function textLine(o: LogObject): void {
  const name = levelName(o.type).toUpperCase().padEnd(5);
  const text = formatWithOptions({ colors: false }, ...o.args);
  const line = `${o.date.toISOString()} ${name} ${o.tag ? `${o.tag}: ` : ""}${text}\n`;
  (o.level < 2 ? process.stderr : process.stdout).write(line);
}

/** Bounds, in characters of escaped text, of strings a client can influence. */
const FIELD_CHARS: Record<string, number> = { name: 64, account: 64, detail: 200, reason: 200 };

/**
 * How much an event matters to an operator. Routine comings and goings (connections, a
 * client that never logs in and times out) are debug; sessions are info; what a client
 * does wrong, and limits it hits, are warn.
 */
export function eventLevel(e: ServerEvent): "debug" | "info" | "warn" | "error" {
  switch (e.type) {
    case "connect":
    case "disconnect":
      return "debug";
    case "limit":
      return e.limit === "login_timeout" ? "debug" : "warn";
    case "login_failed":
    case "protocol_error":
      return "warn";
    case "storage_error":
    case "internal_error":
      return "error";
    default:
      return "info";
  }
}

/** The event with every string field escaped and bounded (they may come from a client). */
export function safeEvent<E extends ServerEvent>(e: E): E {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) out[k] = typeof v === "string" ? clip(v, FIELD_CHARS[k] ?? 100) : v;
  return out as E;
}

export function eventLogger(log: ConsolaInstance, format: LogFormat): EventSink {
  const emit = (text: string, e: ServerEvent) => {
    const level = eventLevel(e);
    if (format === "json") {
      const { type, ...fields } = e as ServerEvent & { error?: unknown };
      if ("error" in fields) fields.error = describeError(fields.error);
      log[level](text, { event: type, ...fields });
    } else {
      log[level](text);
    }
  };
  return (raw) => {
    // Below the log level an event costs nothing: escaping its strings is a regex per
    // character (and the first use compiles that Unicode regex, a few hundred ms).
    if (LOG_LEVELS[eventLevel(raw)] > log.level) return;
    const e = safeEvent(raw);
    const who = "account" in e && e.account ? `${e.account} ` : "";
    // Events of WebSocket connections are tagged by the server (src/server.ts).
    const via = (e as { transport?: string }).transport === "websocket" ? " (WebSocket)" : "";
    switch (e.type) {
      case "connect":
        return emit(`connection ${e.conn} from ${e.address}${via}`, e);
      case "disconnect":
        return emit(
          `connection ${e.conn} from ${e.address}${via} ${who ? `(${e.account}) ` : ""}closed: ${e.reason}`,
          e,
        );
      case "login":
        return emit(
          `${e.account} ${e.resumed ? "resumed a session" : "logged in"} from ${e.address} (connection ${e.conn}${via ? ", WebSocket" : ""})`,
          e,
        );
      case "logout":
        return emit(`${e.account} logged out on connection ${e.conn}: ${e.reason}`, e);
      case "forced_logout":
        return emit(
          `${e.account} on connection ${e.conn} (${e.address}) forced out: logged in from ${e.byAddress}`,
          e,
        );
      case "login_failed":
        return emit(`failed login for "${e.name}" from ${e.address}: ${e.reason}`, e);
      case "account_created":
        return emit(`account ${e.account} created from ${e.address}`, e);
      case "account_deleted":
        return emit(
          `account ${e.account} deleted from ${e.address} (${e.handedOver} messages handed over)`,
          e,
        );
      case "limit":
        return emit(`limit ${e.limit}: ${who}connection ${e.conn || "-"} from ${e.address}: ${e.detail}`, e);
      case "dead_peer":
        return emit(`dead peer: ${who}connection ${e.conn} from ${e.address} silent for ${e.silentMs} ms`, e);
      case "protocol_error":
        return emit(`protocol error ${e.status} on connection ${e.conn} from ${e.address}: ${e.detail}`, e);
      case "storage_error":
        return emit(`storage: ${e.detail}`, e);
      case "internal_error":
        // The operator gets the stack; clients only ever get "internal server error".
        if (format === "json") {
          const stack =
            raw.type === "internal_error" && raw.error instanceof Error ? raw.error.stack : undefined;
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
