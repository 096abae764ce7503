// Everything the client prints: one line per event for people (colour on a terminal),
// or one JSON object per line with --json. Every string from the network goes through
// sanitize.ts here, in every path; colour codes are added after.

import {
  Delivery,
  type Reply,
  Status,
  statusName,
  type WireAccount,
  type WireMessage,
  type WireReceipt,
} from "../wire";
import { safeInline, safeJson, safeMessageText } from "./sanitize";
import type { ClientEvent } from "./session";

export type OutputMode = "text" | "json";

const ANSI = {
  green: "\x1b[32m",
  red: "\x1b[31m",
  dim: "\x1b[2m",
  bold: "\x1b[1m",
  cyan: "\x1b[36m",
  reset: "\x1b[0m",
};

/**
 * Whether to colour: --color always|never, or (auto) only on a terminal and without
 * NO_COLOR in the environment (any value, even empty, as no-color.org asks).
 */
export function useColor(choice: "always" | "never" | "auto", isTty: boolean, env = process.env): boolean {
  if (choice !== "auto") return choice === "always";
  return isTty && env.NO_COLOR === undefined;
}

export class Output {
  private last: Promise<void> = Promise.resolve();

  constructor(
    readonly mode: OutputMode,
    private readonly write: (line: string) => Promise<void>,
    private readonly color = false,
  ) {}

  /** Resolves once every line printed so far has been written. */
  flushed(): Promise<void> {
    return this.last;
  }

  /** An answer from the server to `command`. */
  reply(command: string, r: Reply, extra: Record<string, unknown> = {}): Promise<void> {
    if (this.mode === "json") {
      return this.json({
        type: "reply",
        command,
        ok: r.status === Status.OK,
        status: statusName(r.status),
        msg: r.msg,
        ...replyFields(r),
        ...extra,
      });
    }
    const text = safeInline(r.msg);
    return this.line(
      r.status === Status.OK ? this.paint("green", `✓ ${text}`) : this.paint("red", `✗ ${text}`),
    );
  }

  message(m: WireMessage): Promise<void> {
    if (this.mode === "json") {
      return this.json({
        type: "message",
        id: m.id,
        from: m.sender,
        text: m.text,
        sentAt: isoTime(m.sentAt),
      });
    }
    const [first, ...more] = safeMessageText(m.text).split("\n");
    this.line(
      `${this.paint("dim", `[${clock(m.sentAt)}]`)} ${this.paint("cyan", safeInline(m.sender))}: ${first}`,
    );
    for (const l of more) this.line(this.paint("dim", l));
    return this.last;
  }

  accounts(accounts: WireAccount[], pattern: string, truncated: boolean): Promise<void> {
    if (this.mode === "json" || !accounts.length) return this.last; // the reply carries them
    const names = accounts.map((a) => {
      const name = safeInline(a.name);
      return a.online ? `${name} ${this.paint("green", "(online)")}` : name;
    });
    return this.line(
      `  ${names.join(", ")}${truncated ? `, … (more: narrow the pattern${pattern ? "" : ", e.g. /list a*"})` : ""}`,
    );
  }

  /** The accounts online now (/who). */
  online(names: string[], truncated: boolean): Promise<void> {
    if (this.mode === "json") {
      return this.json({ type: "reply", command: "who", ok: true, status: "OK", online: names, truncated });
    }
    const count = `${names.length}${truncated ? "+" : ""}`;
    if (!names.length) return this.line(this.paint("green", "✓ nobody is online"));
    return this.line(
      `${this.paint("green", `✓ ${count} online:`)} ${names.map(safeInline).join(", ")}${truncated ? ", …" : ""}`,
    );
  }

  /** Something the client itself says: a cancelled prompt, a connection change. */
  info(text: string, fields: Record<string, unknown> = {}): Promise<void> {
    if (this.mode === "json") return this.json({ type: "info", msg: text, ...fields });
    return this.line(this.paint("dim", `… ${safeInline(text)}`));
  }

  /** A command that could not be carried out (fields say which, for --json). */
  error(text: string, fields: Record<string, unknown> = {}): Promise<void> {
    if (this.mode === "json") return this.json({ type: "error", msg: text, ...fields });
    return this.line(this.paint("red", `✗ ${safeInline(text)}`));
  }

  /** Text for people only (help, menu); nothing in --json. */
  plain(text: string): Promise<void> {
    if (this.mode === "json") return this.last;
    return this.line(safeInline(text));
  }

  /** A delivery receipt: `✓ bob got "are you there?" at 14:05`. */
  receipt(r: WireReceipt, text: string | null): Promise<void> {
    if (this.mode === "json") {
      return this.json({
        type: "receipt",
        messageId: r.messageId,
        to: r.recipient,
        confirmedAt: isoTime(r.confirmedAt),
        ...(text !== null ? { text } : {}),
      });
    }
    const what = text === null ? `message ${r.messageId}` : `"${clipText(text)}"`;
    return this.line(
      this.paint("dim", `✓ ${safeInline(r.recipient)} got ${what} at ${clock(r.confirmedAt)}`),
    );
  }

  event(e: ClientEvent): Promise<void> {
    if (e.type === "message") return this.message(e.message);
    if (e.type === "receipt") return this.receipt(e.receipt, e.text);
    const shown = this.describe(e);
    if (this.mode === "json") return this.json(shown.json);
    return shown.text ? this.line(shown.text) : this.last;
  }

  /** An event as a JSON object and as a line for people (null: nothing worth a line). */
  private describe(e: Exclude<ClientEvent, { type: "message" | "receipt" }>): {
    json: Record<string, unknown>;
    text: string | null;
  } {
    switch (e.type) {
      case "connected":
        return { json: { type: "connected", address: e.address }, text: null };
      case "notice":
        return {
          json: { type: "notice", status: statusName(e.status), msg: e.text },
          text: this.paint(e.status === Status.OK ? "dim" : "red", `! ${safeInline(e.text)}`),
        };
      case "session_ended":
        return {
          json: { type: "session_ended", msg: e.text },
          text: this.paint("red", `! ${safeInline(e.text)}; you are logged out (/login NAME to log back in)`),
        };
      case "lost":
        return {
          json: { type: "lost", msg: e.reason, reconnecting: e.reconnecting },
          text: this.paint(
            "red",
            `! connection lost: ${safeInline(e.reason)}${e.reconnecting ? "; reconnecting (what you type waits)…" : ""}`,
          ),
        };
      case "reconnecting":
        return {
          json: { type: "reconnecting", attempt: e.attempt, delayMs: e.delayMs, reason: e.reason },
          text:
            e.attempt > 1
              ? this.paint("dim", `… reconnecting (attempt ${e.attempt}: ${safeInline(e.reason)})`)
              : null,
        };
      case "reconnected": {
        const as = e.resumed
          ? ` as ${safeInline(e.resumed)} — ${e.unread === 0 ? "no" : e.unread} unread`
          : "";
        const resent = e.resent
          ? `; resending ${e.resent} unconfirmed message${e.resent === 1 ? "" : "s"}`
          : "";
        return {
          json: {
            type: "reconnected",
            resumed: e.resumed,
            unread: e.unread,
            resent: e.resent,
            showing: e.showing,
            ...(e.address ? { address: e.address } : {}),
          },
          text: this.paint(
            "green",
            `✓ reconnected${e.address ? ` to ${safeInline(e.address)}` : ""}${as}${e.unread && !e.showing ? " (/check shows them)" : ""}${resent}`,
          ),
        };
      }
      case "gave_up":
        return {
          json: { type: "gave_up", msg: e.reason },
          text: this.paint("red", `✗ ${safeInline(e.reason)}`),
        };
    }
  }

  private json(o: Record<string, unknown>): Promise<void> {
    return this.line(safeJson(o));
  }

  private line(text: string): Promise<void> {
    const written = this.write(text);
    // Callers that do not wait must not turn a broken output into an unhandled rejection.
    written.catch(() => {});
    this.last = written;
    return written;
  }

  private paint(color: keyof typeof ANSI, text: string): string {
    return this.color ? `${ANSI[color]}${text}${ANSI.reset}` : text;
  }
}

/** The answer fields worth showing in JSON, without protobuf defaults. */
function replyFields(r: Reply): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  if (r.name) f.name = r.name;
  if (r.unread) f.unread = r.unread;
  if (r.messageId) f.messageId = r.messageId;
  if (r.sentAt) f.sentAt = isoTime(r.sentAt);
  if (r.delivery) f.delivery = r.delivery === Delivery.LIVE ? "live" : "queued";
  if (r.duplicate) f.duplicate = true;
  if (r.more) f.more = true;
  if (r.retryAfterMs) f.retryAfterMs = r.retryAfterMs;
  if (r.accounts.length) f.accounts = r.accounts.map((a) => ({ name: a.name, online: a.online }));
  return f;
}

/** Characters of a message text a receipt line quotes at most. */
export const RECEIPT_TEXT_CHARS = 40;

/** A message text for a one-line quote: its first line, cut to RECEIPT_TEXT_CHARS, made safe. */
export function clipText(text: string): string {
  const firstLine = text.split("\n")[0]!;
  const chars = [...firstLine];
  const cut = chars.length > RECEIPT_TEXT_CHARS || firstLine !== text;
  return `${safeInline(chars.slice(0, RECEIPT_TEXT_CHARS).join(""))}${cut ? "…" : ""}`;
}

/** An ISO time, or null for a time no Date can hold (a hostile server's). */
function isoTime(ms: number): string | null {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** "14:02" today, "Nov 24 14:02" before. */
function clock(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return "--:--";
  const hm = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === new Date().toDateString()) return hm;
  return `${d.toLocaleDateString("en-US", { month: "short", day: "numeric" })} ${hm}`;
}
