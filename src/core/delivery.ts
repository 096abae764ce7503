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
//
// The state of all this lives in a Handoff object (handoff.ts) that exists only while
// there is something to track: a session that is caught up with nothing unconfirmed has
// none (memory per idle connection).

import type { Account, Store, StoredMessage } from "../store/store";
import { messageFieldSize, Push, type ReplyInit, Status, type WireMessage } from "../wire";
import { Handoff } from "./handoff";
import type { Metrics } from "./metrics";
import type { CoreOptions } from "./options";
import type { Session } from "./session";
import { formatDuration } from "./text";

/** What delivery needs of the core. */
export interface DeliveryHost {
  readonly store: Store;
  readonly options: CoreOptions;
  readonly metrics: Metrics;
  readonly now: () => number;
  write(s: Session, frame: ReplyInit): void;
  notify(s: Session, opcode: Push, status: Status, msg: string): void;
  close(s: Session): void;
  limit(s: Session, limit: string, detail: string): void;
  background(p: Promise<unknown>, what: string): void;
  /** Removes confirmed messages from account's queue (and makes their receipts). */
  confirmed(account: Account, ids: readonly number[]): void;
}

export const toWire = (m: StoredMessage): WireMessage => ({
  id: m.id,
  sender: m.senderName,
  text: m.text,
  sentAt: m.sentAt,
});

/** Bytes of a frame kept for everything but its messages or accounts. */
const FRAME_MARGIN = 512;

/**
 * How many of items (in order) fit in one frame of at most maxFrameBytes; at least one,
 * since a single message or account is far below any allowed frame size.
 */
export function fitting<T>(items: readonly T[], size: (item: T) => number, maxFrameBytes: number): number {
  let total = FRAME_MARGIN;
  for (let i = 0; i < items.length; i++) {
    total += size(items[i]!);
    if (total > maxFrameBytes) return Math.max(1, i);
  }
  return items.length;
}

export class Delivery {
  /** Sessions with unconfirmed messages, for the confirmation timeout. */
  private readonly waiting = new Set<Session>();
  /**
   * Per session, how many messages its last CHECK page had room for in one frame, when the
   * frame was what limited it: the next page reads about that many, not a full page whose
   * rest would be read again by the check after it.
   */
  private readonly frameFits = new WeakMap<Session, number>();

  constructor(private readonly core: DeliveryHost) {}

  /** The session's handoff state, made on first need (a session without one is caught up). */
  state(s: Session): Handoff {
    s.handoff ??= new Handoff(true);
    return s.handoff;
  }

  /**
   * A message was stored for the account online at s, and messages reach s in id order
   * (Signals.inOrder): push it, or drain when others wait before it.
   */
  live(s: Session, m: StoredMessage): void {
    if (s.closing) return;
    const h = s.handoff;
    if (!h) {
      this.push(s, [m]);
      return;
    }
    if (m.id <= h.handedUpTo) return;
    if (h.caughtUp && !h.draining && h.unconfirmed < this.core.options.deliveryWindow) {
      this.push(s, [m]);
      return;
    }
    h.caughtUp = false;
    h.pushing = true;
    this.drain(s);
  }

  /**
   * A message with id fromId was stored for the account online at s, and is not at hand
   * (or may have overtaken others on the way): the queue is read from what s has, so
   * nothing is pushed out of id order.
   */
  arrived(s: Session, fromId: number): void {
    if (s.closing) return;
    const h = this.state(s);
    if (fromId <= h.handedUpTo) return;
    h.caughtUp = false;
    h.pushing = true;
    this.drain(s);
  }

  /** Runs fn after every earlier handoff of this session (CHECK, drains, DELETE). */
  serial<T>(s: Session, fn: () => Promise<T>): Promise<T> {
    const h = this.state(s);
    const next = h.chain ? h.chain.then(fn, fn) : fn();
    const tail: Promise<void> = next.then(
      () => this.settled(s, h, tail),
      () => this.settled(s, h, tail),
    );
    h.chain = tail;
    return next;
  }

  /** Pushes waiting messages (oldest first) while the window has room. */
  drain(s: Session): void {
    const h = this.state(s);
    if (h.draining) {
      h.drainAgain = true;
      return;
    }
    const account = s.account;
    if (!account) return;
    h.draining = true;
    const core = this.core;
    void this.serial(s, async () => {
      for (;;) {
        h.drainAgain = false;
        const room = core.options.deliveryWindow - h.unconfirmed;
        if (room <= 0) return; // an ACK resumes the drain
        const want = Math.min(room, core.options.maxPageSize);
        const page = await this.fetch(s, account.id, want);
        if (s.handoff !== h || s.closing) return;
        if (page.length) this.push(s, page);
        if (page.length < want && !h.drainAgain) {
          h.caughtUp = true;
          h.pushing = false;
          return;
        }
      }
    })
      .catch((error) => core.background(Promise.reject(error), "handing over messages"))
      .finally(() => {
        h.draining = false;
        this.tidy(s, h);
      });
  }

  /** Waiting messages after what s already has, oldest first (for CHECK and drains). */
  async fetch(s: Session, accountId: number, limit: number): Promise<StoredMessage[]> {
    const page = await this.core.store.pending(accountId, this.handedUpTo(s), limit);
    // Anything pushed while the read was under way is already handed over.
    const after = this.handedUpTo(s);
    // Usually nothing was: the page is returned as it is, without a copy.
    return page.length && page[0]!.id <= after ? page.filter((m) => m.id > after) : page;
  }

  /** Rows a CHECK page of at most n messages reads (before its one extra row for `more`). */
  pageRead(s: Session, n: number): number {
    const fit = this.frameFits.get(s);
    return fit === undefined ? n : Math.min(n, fit + (fit >> 3) + 1);
  }

  /** A CHECK page of `read` rows had room for `fit` messages. */
  pageFitted(s: Session, read: number, fit: number): void {
    if (fit < read) this.frameFits.set(s, fit);
    else this.frameFits.delete(s);
  }

  handedUpTo(s: Session): number {
    return s.handoff?.handedUpTo ?? 0;
  }

  /** Records messages as handed over (they will need an ACK). */
  handed(s: Session, messages: readonly StoredMessage[]): void {
    if (!messages.length) return;
    const h = this.state(s);
    const now = this.core.now();
    h.inflight ??= new Map();
    for (const m of messages) {
      h.inflight.set(m.id, now);
      if (m.id > h.handedUpTo) h.handedUpTo = m.id;
    }
    this.waiting.add(s);
    this.core.metrics.messagesPushed += messages.length;
  }

  /** Hands messages over in DELIVER pushes, as many frames as the frame size needs. */
  push(s: Session, messages: StoredMessage[]): void {
    this.handed(s, messages);
    if (messages.length === 1) {
      this.core.write(s, { opcode: Push.DELIVER, messages: [toWire(messages[0]!)] });
      return;
    }
    let wire = messages.map(toWire);
    while (wire.length) {
      const n = fitting(wire, messageFieldSize, this.core.options.maxFrameBytes);
      this.core.write(s, { opcode: Push.DELIVER, messages: n === wire.length ? wire : wire.slice(0, n) });
      wire = wire.slice(n);
    }
  }

  /** The client confirmed these ids; those handed to this session leave the queue. */
  ack(s: Session, ids: readonly number[]): void {
    const account = s.account;
    const h = s.handoff;
    const inflight = h?.inflight;
    if (!account || !h || !inflight) return;
    const confirmed: number[] = [];
    for (const id of ids) if (inflight.delete(id)) confirmed.push(id);
    if (!confirmed.length) return;
    this.core.metrics.messagesConfirmed += confirmed.length;
    this.core.confirmed(account, confirmed);
    if (inflight.size === 0) {
      h.inflight = null;
      this.waiting.delete(s);
      this.release(h);
    }
    if (h.pushing) this.drain(s);
    this.tidy(s, h);
  }

  /** Resolves when s has no unconfirmed messages (or closes). */
  whenConfirmed(s: Session): Promise<void> {
    const h = s.handoff;
    if (!h || h.unconfirmed === 0 || s.closing) return Promise.resolve();
    return new Promise((resolve) => {
      h.confirmWaiters ??= [];
      h.confirmWaiters.push(resolve);
    });
  }

  /** Drops sessions that leave pushed messages unconfirmed too long; the messages stay queued. */
  checkTimeouts(now: number): void {
    const limit = this.core.options.ackTimeoutMs;
    for (const s of this.waiting) {
      const oldest = s.handoff?.inflight?.entries().next();
      if (!oldest || oldest.done) {
        this.waiting.delete(s);
        continue;
      }
      const [id, since] = oldest.value;
      if (now - since < limit || s.closing) continue;
      this.core.metrics.ackTimeouts++;
      this.core.limit(s, "ack_timeout", `message ${id} unconfirmed for ${now - since} ms`);
      this.core.notify(
        s,
        Push.LOGGED_OUT,
        Status.ACK_TIMEOUT,
        `delivered messages were not confirmed within ${formatDuration(limit)}; they stay queued`,
      );
      this.core.close(s);
    }
  }

  /** Just logged in: with nothing waiting, new messages can be pushed at once. */
  loggedIn(s: Session, unread: number): void {
    if (unread === 0) this.caughtUp(s);
  }

  /** Everything waiting has been handed over (unless a drain is still at it). */
  caughtUp(s: Session): void {
    const h = s.handoff;
    if (!h || h.draining) return;
    h.caughtUp = true;
    this.tidy(s, h);
  }

  /**
   * Forgets what was handed to s (logout, account switch). A fresh login starts not
   * caught up, until loggedIn() has counted what is waiting.
   */
  reset(s: Session, loggedOut: boolean): void {
    const h = s.handoff;
    if (h) {
      this.waiting.delete(s);
      this.release(h);
    }
    s.handoff = loggedOut ? null : new Handoff(false);
  }

  forget(s: Session): void {
    this.waiting.delete(s);
    if (s.handoff) this.release(s.handoff);
  }

  private settled(s: Session, h: Handoff, tail: Promise<unknown>): void {
    if (h.chain !== tail) return;
    h.chain = null;
    this.tidy(s, h);
  }

  /** Drops the state of a session that has nothing left to track. */
  private tidy(s: Session, h: Handoff): void {
    if (s.handoff === h && h.idle) s.handoff = null;
  }

  private release(h: Handoff): void {
    const waiters = h.confirmWaiters;
    if (!waiters) return;
    h.confirmWaiters = null;
    for (const w of waiters) w();
  }
}
