// One client connection's state. The core reaches the socket only through Conn.

import type { Account } from "../store/store";
import type { FrameQueue, ReplyInit, Request } from "../wire";
import type { Handoff } from "./handoff";

/** What the core needs from a connection; the network shell implements it. */
export interface Conn {
  readonly address: string;
  /**
   * Queues one frame; it is written at the end of the event-loop turn. With linger it may
   * wait a few ms (net/connection.ts MAX_LINGER_MS) for other output to go in the same write.
   */
  send(frame: ReplyInit, linger?: boolean): void;
  /** Writes what is queued, then closes. */
  close(): void;
  /** Stops and restarts reading from the socket (backpressure on a busy session). */
  pause(): void;
  resume(): void;
  /** Cuts the connection at once (no goodbye, nothing more written). */
  abort(): void;
  /**
   * Charges request-budget tokens beyond a frame's own to the client's address (shared by
   * its connections); while the address is in debt, the promise says when it has paid.
   */
  charge?(tokens: number): Promise<void> | undefined;
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
  /** Frames read beyond the backlog's length, kept as bytes until their turn. */
  held: FrameQueue | null = null;
  /** Reading from the socket is paused because requests are waiting. */
  readPaused = false;
  sendSeq = 0;
  answeredSeq = 0;
  deferred: Deferred[] | null = null;
  sendWaiters: { seq: number; resolve: () => void }[] | null = null;
  /** SEND answers ready before an earlier SEND's: seq → answer, sent in seq order. */
  earlySends: Map<number, { frame: ReplyInit; at: number }> | null = null;

  /** What is being handed to this session (delivery.ts); null while there is nothing to track. */
  handoff: Handoff | null = null;
  deleting = false;

  /** The last SEND receiver and its folded key: senders mostly write to one person. */
  lastTo = "";
  lastToKey = "";
  /** The SEND answers' sentences for the last recipient answered (one string each, not one per message). */
  answeredTo = "";
  sentTo = "";
  queuedFor = "";

  /** The request-rate bucket (see ratelimit.ts), inline. */
  tokens: number;
  tokensAt: number;
  slowDowns = 0;
  /** No further frame is taken; the socket closes once the answers owed are out. */
  closing = false;
  closingSince = 0;
  /** The closing frame (a refusal), written after the answers owed. */
  farewell: ReplyInit | null = null;
  /** conn.close() has been called. */
  shut = false;
  closed = false;

  constructor(
    readonly id: number,
    readonly conn: Conn,
    now: number,
    burst: number,
  ) {
    this.anonymousSince = now;
    this.lastHeard = now;
    this.lastSent = now;
    this.tokens = burst;
    this.tokensAt = now;
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
}
