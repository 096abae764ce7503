// One client connection's state. The core reaches the socket only through Conn.

import type { Account } from "../store/store";
import type { ReplyInit, Request } from "../wire";
import { TokenBucket } from "./ratelimit";

/** What the core needs from a connection; the network shell implements it. */
export interface Conn {
  readonly address: string;
  /** Queues one frame; it is written at the end of the event-loop turn. */
  send(frame: ReplyInit): void;
  /** Writes what is queued, then closes. */
  close(): void;
  /** Stops and restarts reading from the socket (backpressure on a busy session). */
  pause(): void;
  resume(): void;
}

/** A reply waiting for earlier SEND answers, so answers keep request order. */
interface Deferred {
  afterSend: number;
  frame: ReplyInit;
  started: number;
  close: boolean;
}

export class Session {
  account: Account | null = null;
  tokenHash: string | null = null;
  readonly openedAt: number;
  /** Since when the connection has had no logged-in account (login timeout). */
  anonymousSince: number;
  lastHeard: number;
  lastSent: number;

  // Request pipeline: most requests run one at a time; SEND is pipelined.
  busy = false;
  // Lists and maps below stay null until first needed: most sessions never need them,
  // and memory per idle connection is what lets one server hold many.
  backlog: { req: Request; at: number; bytes: number }[] | null = null;
  backlogBytes = 0;
  sendSeq = 0;
  answeredSeq = 0;
  deferred: Deferred[] | null = null;
  sendWaiters: { seq: number; resolve: () => void }[] | null = null;

  // Handing messages over (see delivery.ts).
  /** Highest message id handed to this session (pushed or returned by CHECK). */
  handedUpTo = 0;
  /** Every waiting message up to now has been handed over; new ones can be pushed directly. */
  caughtUp = true;
  /** Handed over, not yet confirmed: id → time handed. Insertion order = id order. */
  inflight: Map<number, number> | null = null;
  /** The last handoff queued by serial(), while one is under way. */
  handoff: Promise<unknown> | null = null;
  /** A drain has started and continues as the window frees, until caught up. */
  pushing = false;
  draining = false;
  drainAgain = false;
  /** Bumped when the session changes account, so a drain for the old one stops. */
  epoch = 0;
  /** Waiting for every handed message to be confirmed (DELETE_ACCOUNT). */
  confirmWaiters: (() => void)[] | null = null;
  deleting = false;

  /** The last SEND receiver and its folded key: senders mostly write to one person. */
  lastTo = "";
  lastToKey = "";

  bucket: TokenBucket;
  slowDowns = 0;
  closing = false;
  closed = false;

  constructor(
    readonly id: number,
    readonly conn: Conn,
    now: number,
    rate: number,
    burst: number,
  ) {
    this.openedAt = now;
    this.anonymousSince = now;
    this.lastHeard = now;
    this.lastSent = now;
    this.bucket = new TokenBucket(rate, burst, now);
  }

  get address(): string {
    return this.conn.address;
  }

  get accountName(): string | undefined {
    return this.account?.name;
  }

  /** Resolves once every SEND so far has been answered. */
  sendsAnswered(): Promise<void> {
    if (this.answeredSeq === this.sendSeq) return Promise.resolve();
    return new Promise((resolve) => {
      this.sendWaiters ??= [];
      this.sendWaiters.push({ seq: this.sendSeq, resolve });
    });
  }

  /** Runs fn after every earlier handoff of this session (check, drain, delete). */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.handoff ? this.handoff.then(fn, fn) : fn();
    const tail: Promise<void> = next.then(
      () => this.settle(tail),
      () => this.settle(tail),
    );
    this.handoff = tail;
    return next;
  }

  /** Messages handed over and not yet confirmed. */
  get unconfirmed(): number {
    return this.inflight?.size ?? 0;
  }

  private settle(tail: Promise<unknown>): void {
    if (this.handoff === tail) this.handoff = null;
  }
}
