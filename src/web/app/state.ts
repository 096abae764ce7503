// The web client's state and the one function that changes it. Pure: no DOM, no sockets,
// so every rule of what the person sees is tested under `bun test`.

import type { Account, Message, Receipt } from "./protocol";

/** Where an outgoing message stands: not yet answered, stored and handed to the online
 * recipient, stored and waiting for the recipient, shown by the recipient's client (a
 * delivery receipt came), or refused. */
export type SendState = "sending" | "sent" | "queued" | "delivered" | "failed";

export interface ChatLine {
  /** Unique in the page: "in:<server id>" or "out:<client_msg_id>". */
  key: string;
  mine: boolean;
  /** The other party of the conversation. */
  peer: string;
  text: string;
  /** Milliseconds since the epoch (server time for received ones). */
  at: number;
  state?: SendState;
  /** Why a send failed, in the server's words. */
  error?: string;
  /** Mine: the server's id for it, from the SEND answer (receipts name it). */
  messageId?: number;
  /** Mine: when the recipient's client confirmed it. */
  deliveredAt?: number;
}

export interface Conversation {
  peer: string;
  lines: ChatLine[];
  unread: number;
}

export type Connection = "connecting" | "online" | "reconnecting" | "offline";

export interface State {
  connection: Connection;
  /** Why the connection is not online, for the status line. */
  connectionNote: string;
  me: string | null;
  /** Whose conversations are on the page (they stay after a forced logout). */
  owner: string | null;
  /** Messages the server said were waiting at login and not yet fetched. */
  waiting: number;
  /** Conversations, most recently active first. */
  conversations: Conversation[];
  active: string | null;
  notice: { kind: "info" | "error"; text: string } | null;
  /** Shown on the login screen after a logout the person did not ask for. */
  loggedOutBecause: string | null;
  accounts: { pattern: string; list: Account[]; more: boolean; cursor: string } | null;
  /** Highest message id shown this session: a redelivered id at or below it is not shown again. */
  maxSeenId: number;
}

export const initialState: State = {
  connection: "connecting",
  connectionNote: "",
  me: null,
  owner: null,
  waiting: 0,
  conversations: [],
  active: null,
  notice: null,
  loggedOutBecause: null,
  accounts: null,
  maxSeenId: 0,
};

export type Action =
  | { type: "connecting" }
  | { type: "online" }
  | { type: "reconnecting"; reason: string }
  | { type: "offline"; reason: string }
  | { type: "logged_in"; name: string; unread: number; resumed: boolean }
  | { type: "logged_out"; reason: string | null }
  | { type: "deleted"; text: string }
  | { type: "received"; messages: Message[]; reading: boolean }
  | { type: "fetched"; unread: number }
  | { type: "send_started"; key: string; to: string; text: string; at: number }
  | { type: "send_answered"; key: string; ok: boolean; queued: boolean; error?: string; messageId?: number }
  | { type: "receipts"; receipts: Receipt[] }
  /** The conversations this tab had before a reload (persist.ts). */
  | { type: "restored"; owner: string; conversations: Conversation[]; maxSeenId: number }
  | { type: "open"; peer: string }
  | { type: "close_conversation" }
  | { type: "accounts"; pattern: string; list: Account[]; more: boolean; cursor: string; append: boolean }
  | { type: "accounts_closed" }
  | { type: "notice"; kind: "info" | "error"; text: string }
  | { type: "notice_cleared" };

/** Lines kept per conversation: older ones are dropped from the page (never from the server). */
export const MAX_LINES = 500;

export function reduce(s: State, a: Action): State {
  switch (a.type) {
    case "connecting":
      return { ...s, connection: "connecting", connectionNote: "" };
    case "online":
      return { ...s, connection: "online", connectionNote: "" };
    case "reconnecting":
      return { ...s, connection: "reconnecting", connectionNote: a.reason };
    case "offline":
      return { ...s, connection: "offline", connectionNote: a.reason };
    case "logged_in":
      return {
        ...s,
        me: a.name,
        owner: a.name,
        waiting: a.unread,
        loggedOutBecause: null,
        // Another account in this tab starts with its own conversations.
        ...(s.owner !== null && s.owner !== a.name ? { conversations: [], active: null, maxSeenId: 0 } : {}),
        notice: a.resumed
          ? s.notice
          : {
              kind: "info",
              text: a.unread
                ? `logged in as ${a.name}: ${a.unread} unread`
                : `logged in as ${a.name}: no unread`,
            },
      };
    case "logged_out":
      return {
        ...s,
        me: null,
        waiting: 0,
        accounts: null,
        loggedOutBecause: a.reason,
        // A reason is shown (and announced) on the login form itself.
        notice: a.reason ? null : { kind: "info", text: "logged out" },
        ...(a.reason ? {} : { conversations: [], active: null, maxSeenId: 0, owner: null }),
      };
    case "deleted":
      return { ...s, me: null, waiting: 0, accounts: null, notice: { kind: "info", text: a.text } };
    case "received":
      return received(s, a.messages, a.reading);
    case "fetched":
      return { ...s, waiting: a.unread };
    case "send_started": {
      const line: ChatLine = { key: a.key, mine: true, peer: a.to, text: a.text, at: a.at, state: "sending" };
      return { ...withLine(s, a.to, line, false), active: a.to };
    }
    case "send_answered":
      return mapLine(s, a.key, (l) => ({
        ...l,
        // A receipt can overtake the answer (it comes by another path): delivered stays.
        state: l.state === "delivered" ? "delivered" : a.ok ? (a.queued ? "queued" : "sent") : "failed",
        ...(a.error ? { error: a.error } : {}),
        ...(a.messageId ? { messageId: a.messageId } : {}),
      }));
    case "receipts":
      return delivered(s, a.receipts);
    case "restored":
      if (s.owner !== null) return s; // a login got here first: its conversations stand
      return { ...s, owner: a.owner, conversations: a.conversations, maxSeenId: a.maxSeenId };
    case "open": {
      const exists = s.conversations.some((c) => c.peer === a.peer);
      const conversations = exists
        ? s.conversations.map((c) => (c.peer === a.peer ? { ...c, unread: 0 } : c))
        : [{ peer: a.peer, lines: [], unread: 0 }, ...s.conversations];
      return { ...s, conversations, active: a.peer, accounts: null };
    }
    case "close_conversation":
      return { ...s, active: null };
    case "accounts":
      return {
        ...s,
        accounts: {
          pattern: a.pattern,
          list: a.append && s.accounts ? [...s.accounts.list, ...a.list] : a.list,
          more: a.more,
          cursor: a.cursor,
        },
      };
    case "accounts_closed":
      return { ...s, accounts: null };
    case "notice":
      return { ...s, notice: { kind: a.kind, text: a.text } };
    case "notice_cleared":
      return { ...s, notice: null };
  }
}

/** Messages from the server: shown once each (by id), in their sender's conversation. */
function received(s: State, messages: Message[], reading: boolean): State {
  let next = s;
  for (const m of messages) {
    if (m.id <= next.maxSeenId) continue;
    const line: ChatLine = { key: `in:${m.id}`, mine: false, peer: m.sender, text: m.text, at: m.sentAt };
    // Unread unless it lands in the conversation open in a page the person is looking at.
    next = withLine(next, m.sender, line, !(reading && next.active === m.sender));
    next = { ...next, maxSeenId: m.id };
  }
  return next;
}

/**
 * Receipts mark my lines delivered, matched by client_msg_id (the line's key) or by the
 * server's id; receipts for lines no longer on the page change nothing.
 */
function delivered(s: State, receipts: Receipt[]): State {
  const byKey = new Map<string, Receipt>();
  const byId = new Map<number, Receipt>();
  for (const r of receipts) {
    if (r.clientMsgId) byKey.set(`out:${r.clientMsgId}`, r);
    byId.set(r.messageId, r);
  }
  let changed = false;
  const conversations = s.conversations.map((c) => {
    if (!c.lines.some((l) => l.mine && (byKey.has(l.key) || (l.messageId && byId.has(l.messageId)))))
      return c;
    changed = true;
    const lines = c.lines.map((l) => {
      if (!l.mine) return l;
      const r = byKey.get(l.key) ?? (l.messageId ? byId.get(l.messageId) : undefined);
      if (!r) return l;
      const { error: _, ...rest } = l;
      return { ...rest, state: "delivered" as const, messageId: r.messageId, deliveredAt: r.confirmedAt };
    });
    return { ...c, lines };
  });
  return changed ? { ...s, conversations } : s;
}

function withLine(s: State, peer: string, line: ChatLine, unread: boolean): State {
  const old = s.conversations.find((c) => c.peer === peer);
  const lines = [...(old?.lines ?? []), line];
  if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
  const c: Conversation = { peer, lines, unread: (old?.unread ?? 0) + (unread ? 1 : 0) };
  return { ...s, conversations: [c, ...s.conversations.filter((x) => x.peer !== peer)] };
}

function mapLine(s: State, key: string, f: (l: ChatLine) => ChatLine): State {
  return {
    ...s,
    conversations: s.conversations.map((c) =>
      c.lines.some((l) => l.key === key)
        ? { ...c, lines: c.lines.map((l) => (l.key === key ? f(l) : l)) }
        : c,
    ),
  };
}

/** The text of the last message I sent in a conversation (Up in an empty composer recalls it). */
export function lastSent(s: State, peer: string): string | null {
  const c = s.conversations.find((x) => x.peer === peer);
  if (!c) return null;
  for (let i = c.lines.length - 1; i >= 0; i--) if (c.lines[i]!.mine) return c.lines[i]!.text;
  return null;
}

/** Unread across every conversation (the page title shows it). */
export function totalUnread(s: State): number {
  return s.conversations.reduce((n, c) => n + c.unread, 0) + s.waiting;
}
