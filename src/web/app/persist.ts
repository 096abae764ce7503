// The tab's conversations across a reload: kept in sessionStorage (this tab only, gone when
// it closes) next to the session token, so that after a reload my messages are still on the
// page and the receipts pushed on RESUME can mark them delivered. Pure: the page passes the
// storage's text in and out.

import type { ChatLine, Conversation, SendState, State } from "./state";

export const LINES_KEY = "chat.lines";

/** Kept per conversation and conversations kept at most: a bounded snapshot. */
export const SAVED_LINES = 200;
export const SAVED_CONVERSATIONS = 50;

const STATES: readonly SendState[] = ["sending", "sent", "queued", "delivered", "failed"];

interface Saved {
  owner: string;
  maxSeenId: number;
  conversations: Conversation[];
}

/** What to keep of s (null: nothing, as nobody's conversations are on the page). */
export function snapshot(s: State): string | null {
  if (s.owner === null) return null;
  const saved: Saved = {
    owner: s.owner,
    maxSeenId: s.maxSeenId,
    conversations: s.conversations.slice(0, SAVED_CONVERSATIONS).map((c) => ({
      peer: c.peer,
      unread: c.unread,
      lines: c.lines.slice(-SAVED_LINES),
    })),
  };
  return JSON.stringify(saved);
}

/**
 * The snapshot read back, or null when there is none or it is not one. A message that was
 * still being sent when the page went away cannot be resent from here: it says so.
 */
export function restore(text: string | null): Saved | null {
  if (!text) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(raw) || typeof raw.owner !== "string" || !Array.isArray(raw.conversations)) return null;
  const conversations: Conversation[] = [];
  for (const c of raw.conversations.slice(0, SAVED_CONVERSATIONS)) {
    if (!isObject(c) || typeof c.peer !== "string" || !Array.isArray(c.lines)) continue;
    const lines = c.lines
      .slice(-SAVED_LINES)
      .map(line)
      .filter((l): l is ChatLine => l !== null);
    conversations.push({ peer: c.peer, lines, unread: num(c.unread) });
  }
  return { owner: raw.owner, maxSeenId: num(raw.maxSeenId), conversations };
}

function line(v: unknown): ChatLine | null {
  if (!isObject(v) || typeof v.key !== "string" || typeof v.peer !== "string" || typeof v.text !== "string")
    return null;
  const l: ChatLine = { key: v.key, mine: v.mine === true, peer: v.peer, text: v.text, at: num(v.at) };
  const state = STATES.find((x) => x === v.state);
  if (state === "sending") {
    l.state = "failed";
    l.error = "the page was reloaded before the server answered; it may not have been sent";
  } else if (state) l.state = state;
  if (typeof v.error === "string" && state !== "sending") l.error = v.error;
  if (num(v.messageId)) l.messageId = num(v.messageId);
  if (num(v.deliveredAt)) l.deliveredAt = num(v.deliveredAt);
  return l;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}
