// Everything the client prints: one line per event for people (colour on a terminal),
// or one JSON object per line with --json.

import { Delivery, type Reply, Status, statusName, type WireAccount, type WireMessage } from "../wire";
import type { ClientEvent } from "./session";

export type OutputMode = "tty" | "plain" | "json";

const ANSI = {
  green: "\x1b[32m",
  red: "\x1b[31m",
  dim: "\x1b[2m",
  bold: "\x1b[1m",
  cyan: "\x1b[36m",
  reset: "\x1b[0m",
};

export class Output {
  constructor(
    readonly mode: OutputMode,
    private readonly write: (line: string) => void,
  ) {}

  /** An answer from the server to `command`. */
  reply(command: string, r: Reply, extra: Record<string, unknown> = {}): void {
    if (this.mode === "json") {
      this.json({
        type: "reply",
        command,
        ok: r.status === Status.OK,
        status: statusName(r.status),
        msg: r.msg,
        ...replyFields(r),
        ...extra,
      });
      return;
    }
    this.line(r.status === Status.OK ? this.paint("green", `✓ ${r.msg}`) : this.paint("red", `✗ ${r.msg}`));
  }

  message(m: WireMessage): void {
    if (this.mode === "json") {
      this.json({
        type: "message",
        id: m.id,
        from: m.sender,
        text: m.text,
        sentAt: new Date(m.sentAt).toISOString(),
      });
      return;
    }
    const text = m.text.replace(/\n/g, "\n    ");
    this.line(`${this.paint("dim", `[${clock(m.sentAt)}]`)} ${this.paint("cyan", m.sender)}: ${text}`);
  }

  accounts(accounts: WireAccount[], pattern: string, truncated: boolean): void {
    if (this.mode === "json") return; // the reply carries them
    if (!accounts.length) return;
    const names = accounts.map((a) => (a.online ? `${a.name} ${this.paint("green", "(online)")}` : a.name));
    this.line(
      `  ${names.join(", ")}${truncated ? `, … (more: narrow the pattern${pattern ? "" : ", e.g. /list a*"})` : ""}`,
    );
  }

  /** Something the client itself says: an error in the input, a connection change. */
  info(text: string, fields: Record<string, unknown> = {}): void {
    if (this.mode === "json") this.json({ type: "info", msg: text, ...fields });
    else this.line(this.paint("dim", `… ${text}`));
  }

  error(text: string, fields: Record<string, unknown> = {}): void {
    if (this.mode === "json") this.json({ type: "error", msg: text, ...fields });
    else this.line(this.paint("red", `✗ ${text}`));
  }

  plain(text: string): void {
    if (this.mode !== "json") this.line(text);
  }

  event(e: ClientEvent): void {
    if (e.type === "message") {
      this.message(e.message);
      return;
    }
    const shown = this.describe(e);
    if (this.mode === "json") this.json(shown.json);
    else if (shown.text) this.line(shown.text);
  }

  /** An event as a JSON object and as a line for people (null: nothing worth a line). */
  private describe(e: Exclude<ClientEvent, { type: "message" }>): {
    json: Record<string, unknown>;
    text: string | null;
  } {
    switch (e.type) {
      case "connected":
        return { json: { type: "connected", address: e.address }, text: null };
      case "notice":
        return {
          json: { type: "notice", status: statusName(e.status), msg: e.text },
          text: this.paint(e.status === Status.OK ? "dim" : "red", `! ${e.text}`),
        };
      case "session_ended":
        return { json: { type: "session_ended", msg: e.text }, text: this.paint("red", `! ${e.text}`) };
      case "lost":
        return {
          json: { type: "lost", msg: e.reason, reconnecting: e.reconnecting },
          text: this.paint("red", `! connection lost: ${e.reason}${e.reconnecting ? "; reconnecting…" : ""}`),
        };
      case "reconnecting":
        return {
          json: { type: "reconnecting", attempt: e.attempt, delayMs: e.delayMs, reason: e.reason },
          text:
            e.attempt > 1 ? this.paint("dim", `… reconnecting (attempt ${e.attempt}: ${e.reason})`) : null,
        };
      case "reconnected": {
        const as = e.resumed ? ` as ${e.resumed}` : "";
        const resent = e.resent
          ? `; resending ${e.resent} unconfirmed message${e.resent === 1 ? "" : "s"}`
          : "";
        return {
          json: { type: "reconnected", resumed: e.resumed, unread: e.unread, resent: e.resent },
          text: this.paint("green", `✓ reconnected${as}${resent}`),
        };
      }
      case "gave_up":
        return { json: { type: "gave_up", msg: e.reason }, text: this.paint("red", `✗ ${e.reason}`) };
    }
  }

  private json(o: Record<string, unknown>): void {
    this.write(JSON.stringify(o));
  }

  private line(text: string): void {
    this.write(text);
  }

  private paint(color: keyof typeof ANSI, text: string): string {
    return this.mode === "tty" ? `${ANSI[color]}${text}${ANSI.reset}` : text;
  }
}

/** The answer fields worth showing in JSON, without protobuf defaults. */
function replyFields(r: Reply): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  if (r.name) f.name = r.name;
  if (r.unread) f.unread = r.unread;
  if (r.messageId) f.messageId = r.messageId;
  if (r.sentAt) f.sentAt = new Date(r.sentAt).toISOString();
  if (r.delivery) f.delivery = r.delivery === Delivery.LIVE ? "live" : "queued";
  if (r.duplicate) f.duplicate = true;
  if (r.more) f.more = true;
  if (r.retryAfterMs) f.retryAfterMs = r.retryAfterMs;
  if (r.accounts.length) f.accounts = r.accounts.map((a) => ({ name: a.name, online: a.online }));
  return f;
}

/** "14:02" today, "Nov 24 14:02" before. */
function clock(ms: number): string {
  const d = new Date(ms);
  const hm = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === new Date().toDateString()) return hm;
  return `${d.toLocaleDateString("en-US", { month: "short", day: "numeric" })} ${hm}`;
}
