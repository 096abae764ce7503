// Handing messages to a logged-in recipient, in id order, at most deliveryWindow
// unconfirmed at a time. A message leaves the queue only when the client confirms it
// (ACK); unconfirmed messages are handed over again in the next session.
//
// A session is "caught up" when every waiting message has been handed over: then a new
// message is pushed the moment it is stored. Otherwise (a backlog from while it was
// offline, or a full window) new messages stay in the store and a drain pushes the
// oldest ones first, so a sender's messages are never seen out of order. Without new
// messages a backlog waits for CHECK_MESSAGES; once a drain has started ("pushing"), it
// goes on as acknowledgements free the window, until the session is caught up.

import type { StoredMessage } from "../store/store";
import { Push, Status, type WireMessage } from "../wire";
import { type ChatCore, formatDuration } from "./chat";
import type { Session } from "./session";

const toWire = (m: StoredMessage): WireMessage => ({
  id: m.id,
  sender: m.senderName,
  text: m.text,
  sentAt: m.sentAt,
});

export class Delivery {
  /** Sessions with unconfirmed messages, for the confirmation timeout. */
  private readonly waiting = new Set<Session>();

  constructor(private readonly core: ChatCore) {}

  /** A message was stored for an account that is online at s; push it or drain. */
  live(s: Session, m: StoredMessage): void {
    if (s.closing || m.id <= s.handedUpTo) return;
    if (s.caughtUp && !s.draining && s.unconfirmed < this.core.options.deliveryWindow) {
      this.push(s, [m]);
      return;
    }
    s.caughtUp = false;
    s.pushing = true;
    this.drain(s);
  }

  /** Pushes waiting messages (oldest first) while the window has room. */
  drain(s: Session): void {
    if (s.draining) {
      s.drainAgain = true;
      return;
    }
    const account = s.account;
    if (!account) return;
    s.draining = true;
    const epoch = s.epoch;
    const core = this.core;
    void s
      .serial(async () => {
        for (;;) {
          s.drainAgain = false;
          const room = core.options.deliveryWindow - s.unconfirmed;
          if (room <= 0) return; // an ACK resumes the drain
          const want = Math.min(room, core.options.maxPageSize);
          const page = await this.fetch(s, account.id, want);
          if (s.epoch !== epoch || s.closing) return;
          if (page.length) this.push(s, page);
          if (page.length < want && !s.drainAgain) {
            s.caughtUp = true;
            s.pushing = false;
            return;
          }
        }
      })
      .catch((error) => core.background(Promise.reject(error), "handing over messages"))
      .finally(() => {
        if (s.epoch === epoch) s.draining = false;
      });
  }

  /** Waiting messages after what s already has, oldest first (for CHECK and drains). */
  async fetch(s: Session, accountId: number, limit: number): Promise<StoredMessage[]> {
    const page = await this.core.store.pending(accountId, s.handedUpTo, limit);
    // Anything pushed while the read was under way is already handed over.
    return page.filter((m) => m.id > s.handedUpTo);
  }

  /** Records messages as handed over (they will need an ACK). */
  handed(s: Session, messages: readonly StoredMessage[]): void {
    const now = this.core.now();
    s.inflight ??= new Map();
    for (const m of messages) {
      s.inflight.set(m.id, now);
      if (m.id > s.handedUpTo) s.handedUpTo = m.id;
    }
    if (messages.length) this.waiting.add(s);
    this.core.metrics.messagesPushed += messages.length;
  }

  push(s: Session, messages: StoredMessage[]): void {
    this.handed(s, messages);
    this.core.write(s, { opcode: Push.DELIVER, messages: messages.map(toWire) });
  }

  /** The client confirmed these ids; those handed to this session leave the queue. */
  ack(s: Session, ids: readonly number[]): void {
    const account = s.account;
    if (!account) return;
    const confirmed: number[] = [];
    const inflight = s.inflight;
    if (!inflight) return;
    for (const id of ids) if (inflight.delete(id)) confirmed.push(id);
    if (!confirmed.length) return;
    this.core.metrics.messagesConfirmed += confirmed.length;
    this.core.background(this.core.store.ack(account.id, confirmed), "removing confirmed messages");
    if (inflight.size === 0) {
      s.inflight = null;
      this.waiting.delete(s);
      this.release(s);
    }
    if (s.pushing) this.drain(s);
  }

  /** Resolves when s has no unconfirmed messages (or closes). */
  whenConfirmed(s: Session): Promise<void> {
    if (s.unconfirmed === 0 || s.closing) return Promise.resolve();
    return new Promise((resolve) => {
      s.confirmWaiters ??= [];
      s.confirmWaiters.push(resolve);
    });
  }

  /** Drops sessions that leave pushed messages unconfirmed too long; the messages stay queued. */
  checkTimeouts(now: number): void {
    const limit = this.core.options.ackTimeoutMs;
    for (const s of this.waiting) {
      const oldest = s.inflight?.values().next();
      if (!oldest || oldest.done) {
        this.waiting.delete(s);
        continue;
      }
      if (now - oldest.value < limit || s.closing) continue;
      this.core.metrics.ackTimeouts++;
      this.core.limit(
        s,
        "ack_timeout",
        `message ${s.inflight?.keys().next().value} unconfirmed for ${now - oldest.value} ms`,
      );
      this.core.notify(
        s,
        Push.LOGGED_OUT,
        Status.ACK_TIMEOUT,
        `delivered messages were not confirmed within ${formatDuration(limit)}; they stay queued`,
      );
      this.core.close(s);
    }
  }

  /** Login found `unread` messages waiting: with none, new messages can be pushed at once. */
  loggedIn(s: Session, unread: number): void {
    if (unread === 0 && !s.draining) s.caughtUp = true;
  }

  /** Forgets what was handed to s (logout, account switch); loggedIn() decides caughtUp. */
  reset(s: Session, loggedOut: boolean): void {
    s.epoch++;
    s.inflight = null;
    s.handedUpTo = 0;
    s.draining = false;
    s.drainAgain = false;
    s.pushing = false;
    s.caughtUp = loggedOut;
    this.waiting.delete(s);
    this.release(s);
  }

  forget(s: Session): void {
    this.waiting.delete(s);
    this.release(s);
  }

  private release(s: Session): void {
    const waiters = s.confirmWaiters;
    if (!waiters) return;
    s.confirmWaiters = null;
    for (const w of waiters) w();
  }
}
