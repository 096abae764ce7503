// Delivery receipts: when a recipient confirms messages (ACK), their senders are told.
//
// Every receipt is stored first (in the same step that removes the message, see
// Store.ackWithReceipts), then signalled to the node holding the sender, which pushes it
// in a RECEIPT frame at once. A receipt leaves the store only when the sender's client
// confirms it (ACK receipt_ids), so one made while the sender was offline, or pushed to a
// connection that dropped, is pushed again on its next login or resume.
//
// Per session at most `window` receipts are handed over unconfirmed; further ones stay in
// the store (`more`) and are read, oldest first, as confirmations free the window. Store
// reads of one session run one after another (`chain`), removals are asked at once (the
// store applies calls in order), and a read's result skips what was handed over or
// confirmed meanwhile, so none is pushed twice in a session.

import type { Account, Receipt, Store } from "../store/store";
import { Push, type ReplyInit, receiptFieldSize, type WireReceipt } from "../wire";
import { fitting } from "./delivery";
import type { Metrics } from "./metrics";
import type { CoreOptions } from "./options";
import type { Session } from "./session";
import type { Signals } from "./signals";

/** What receipts need of the core. */
export interface ReceiptsHost {
  readonly store: Store;
  readonly options: CoreOptions;
  readonly metrics: Metrics;
  readonly signals: Signals;
  readonly now: () => number;
  /** Receipts are not urgent: they may wait a few ms for the sender's next answer. */
  writeLingering(s: Session, frame: ReplyInit): void;
  holderNode(accountId: number): string | null | Promise<string | null>;
  background(p: Promise<unknown>, what: string): void;
}

/** One session's receipts in hand. */
interface ReceiptState {
  readonly accountId: number;
  /** Pushed, not yet confirmed. */
  readonly handed: Set<number>;
  /** Confirmed, their removal not yet done. */
  readonly confirming: Set<number>;
  /** The store may hold receipts not handed over. */
  more: boolean;
  reading: boolean;
  readAgain: boolean;
  chain: Promise<void>;
}

export const toWireReceipt = (r: Receipt): WireReceipt => ({
  messageId: r.messageId,
  recipient: r.recipientName,
  confirmedAt: r.confirmedAt,
  clientMsgId: r.clientMsgId,
});

export class Receipts {
  private readonly states = new WeakMap<Session, ReceiptState>();

  constructor(private readonly core: ReceiptsHost) {}

  /** Receipts one session may have unconfirmed (and a store read's page). */
  get window(): number {
    return Math.max(1, Math.min(this.core.options.maxPageSize, this.core.options.maxReceiptsPerAccount));
  }

  /**
   * The recipient logged in as account confirmed these messages (ids handed to it): they
   * leave its queue, their senders' receipts are stored, then signalled to their holders.
   */
  confirmed(account: Account, ids: readonly number[]): Promise<void> {
    const core = this.core;
    return core.store
      .ackWithReceipts(account.id, ids, {
        recipientName: account.name,
        confirmedAt: core.now(),
        maxPerAccount: core.options.maxReceiptsPerAccount,
      })
      .then((r) => {
        core.metrics.receiptsStored += r.receipts.length;
        core.metrics.receiptsDropped += r.dropped;
        // One sender (a conversation, the light path) needs no grouping.
        const first = r.receipts[0];
        if (!first) return;
        if (r.receipts.every((x) => x.senderId === first.senderId)) {
          this.signal(first.senderId, r.receipts);
          return;
        }
        const bySender = new Map<number, Receipt[]>();
        for (const x of r.receipts) {
          const list = bySender.get(x.senderId);
          if (list) list.push(x);
          else bySender.set(x.senderId, [x]);
        }
        for (const [sender, receipts] of bySender) this.signal(sender, receipts);
      });
  }

  /** Receipts for the account online at s arrived (a "receipt" signal): push them if there is room. */
  live(s: Session, receipts: readonly Receipt[]): void {
    const st = this.state(s);
    if (!st) return;
    const fresh = receipts.some((r) => st.handed.has(r.messageId) || st.confirming.has(r.messageId))
      ? receipts.filter((r) => !st.handed.has(r.messageId) && !st.confirming.has(r.messageId))
      : receipts;
    if (!fresh.length) return;
    const room = this.window - st.handed.size;
    if (st.reading || st.more || fresh.length > room) {
      // Order and the window are the store read's to keep.
      st.more = true;
      this.read(s, st);
      return;
    }
    this.push(s, st, fresh, false);
  }

  /** s just logged in or resumed: what waits is pushed. */
  loggedIn(s: Session): void {
    const st = this.state(s);
    if (!st) return;
    st.more = true;
    this.read(s, st);
  }

  /** The client confirmed these receipts (ACK receipt_ids): those handed over are removed. */
  confirm(s: Session, ids: readonly number[]): void {
    // Only a session that was handed receipts has anything to confirm.
    const st = this.states.get(s);
    if (!st || !this.current(s, st)) return;
    const done: number[] = [];
    for (const id of ids) {
      if (!st.handed.delete(id)) continue;
      st.confirming.add(id);
      done.push(id);
    }
    if (!done.length) return;
    this.core.metrics.receiptsConfirmed += done.length;
    // Asked of the store now, not behind the chain: the store applies calls in call order
    // (a later read does not see them), and one queued behind an earlier lazy removal could
    // come after a shutdown had closed the store, leaving confirmed receipts stored.
    const removal = this.core.store.deleteReceipts(st.accountId, done);
    removal.catch(() => {}); // reported where the chain awaits it
    this.run(st, async () => {
      try {
        await removal;
      } finally {
        for (const id of done) st.confirming.delete(id);
      }
      if (st.more && this.current(s, st)) this.read(s, st);
      else this.dropIfIdle(s, st);
    });
  }

  /** s logged out or in as another account: what it had is forgotten (the store keeps it). */
  reset(s: Session): void {
    this.states.delete(s);
  }

  private signal(senderId: number, receipts: Receipt[]): void {
    const core = this.core;
    const send = (node: string | null) => {
      if (!node) return;
      // A window's worth per signal: one ACK's 10,000 would make one outsized bus message.
      const window = this.window;
      for (let i = 0; i < receipts.length; i += window)
        core.signals.send(node, {
          type: "receipt",
          accountId: senderId,
          receipts: i === 0 && receipts.length <= window ? receipts : receipts.slice(i, i + window),
        });
    };
    const node = core.holderNode(senderId);
    if (node instanceof Promise) core.background(node.then(send), "looking up who holds an account");
    else send(node);
  }

  /** The state of s's session, made on first need; null when s is not logged in. */
  private state(s: Session): ReceiptState | null {
    const account = s.account;
    if (!account || s.closing) return null;
    let st = this.states.get(s);
    if (st && st.accountId !== account.id) st = undefined;
    if (!st) {
      st = {
        accountId: account.id,
        handed: new Set(),
        confirming: new Set(),
        more: false,
        reading: false,
        readAgain: false,
        chain: Promise.resolve(),
      };
      this.states.set(s, st);
    }
    return st;
  }

  private current(s: Session, st: ReceiptState): boolean {
    return !s.closing && this.states.get(s) === st && s.account?.id === st.accountId;
  }

  private run(st: ReceiptState, fn: () => Promise<void>): void {
    const next = st.chain.then(fn);
    st.chain = next.catch(() => {});
    this.core.background(next, "handing over receipts");
  }

  /** Reads waiting receipts (oldest first) into the window; again while asked to. */
  private read(s: Session, st: ReceiptState): void {
    if (st.reading) {
      st.readAgain = true;
      return;
    }
    st.reading = true;
    this.run(st, async () => {
      try {
        do {
          st.readAgain = false;
          const room = this.window - st.handed.size;
          if (room <= 0) return; // a confirmation reads on
          // Enough to fill the window past those the read may find again.
          const want = room + st.handed.size + st.confirming.size;
          const page = await this.core.store.receipts(st.accountId, want);
          if (!this.current(s, st)) return;
          const fresh = page.filter((r) => !st.handed.has(r.messageId) && !st.confirming.has(r.messageId));
          const more = page.length >= want || fresh.length > room;
          st.more = more;
          if (fresh.length) this.push(s, st, fresh.slice(0, room), more);
        } while (st.readAgain);
      } finally {
        st.reading = false;
      }
      this.dropIfIdle(s, st);
    });
  }

  /** Nothing in hand and nothing waiting: an idle session keeps no receipt state. */
  private dropIfIdle(s: Session, st: ReceiptState): void {
    if (
      !st.more &&
      !st.reading &&
      st.handed.size === 0 &&
      st.confirming.size === 0 &&
      this.states.get(s) === st
    )
      this.states.delete(s);
  }

  /** Hands receipts over in RECEIPT pushes, as many frames as the frame size needs. */
  private push(s: Session, st: ReceiptState, receipts: readonly Receipt[], more: boolean): void {
    for (const r of receipts) st.handed.add(r.messageId);
    this.core.metrics.receiptsPushed += receipts.length;
    let wire = receipts.map(toWireReceipt);
    while (wire.length) {
      const n = fitting(wire, receiptFieldSize, this.core.options.maxFrameBytes);
      const last = n === wire.length;
      this.core.writeLingering(s, {
        opcode: Push.RECEIPT,
        receipts: last ? wire : wire.slice(0, n),
        // Always present (false writes nothing): every RECEIPT frame has one shape.
        more: last && more,
      });
      wire = wire.slice(n);
    }
  }
}
