// What the pieces of the core (handlers, pipeline, roster, timers) see of it: the one
// shape ChatCore implements, so none of them imports ChatCore and ChatCore imports them.

import type { Account, Store } from "../store/store";
import type { Push, ReplyInit, Request, Status } from "../wire";
import type { HashGate } from "./auth";
import type { DeletingMarks } from "./deleting";
import type { Delivery } from "./delivery";
import type { DummyHash } from "./dummy-hash";
import type { EventSink } from "./events";
import type { InOrder } from "./in-order";
import type { Metrics } from "./metrics";
import type { CoreOptions } from "./options";
import type { Presence } from "./presence";
import type { KeyedGate } from "./ratelimit";
import type { Receipts } from "./receipts";
import type { Session } from "./session";
import type { Signals } from "./signals";

/**
 * One budget per key (ratelimit.ts's Budget in this process, a shared one on Redis). A
 * shared budget answers asynchronously, and may fail like the store (StorageError).
 */
export interface Throttle {
  /** Milliseconds to wait before another attempt for key (0 = go ahead). */
  waitMs(key: string, now: number): number | Promise<number>;
  /** Counts one event against key. */
  spend(key: string, now: number): void | Promise<void>;
  /** True when key spent within the budget's memory (see Budget). */
  recentlySpent(key: string, now: number): boolean | Promise<boolean>;
  /** Forgets key's spending (its budget is whole again). */
  forget(key: string): void | Promise<void>;
}

/**
 * The login-failure and account-creation budgets. Several nodes of one service share
 * them, so spreading guesses over nodes gains nothing.
 */
export interface Throttles {
  readonly loginFailuresByAccount: Throttle;
  readonly loginFailuresByAddress: Throttle;
  /** Failures per (account, address), remembered RECENT_FAILURE_MS (see beginAttempt). */
  readonly loginFailuresByAccountAddress: Throttle;
  /** New accounts per address: each creation takes from the budget. */
  readonly accountCreations: Throttle;
}

export interface Core extends Throttles {
  /** This node's name in presence claims and signals. */
  readonly node: string;
  readonly store: Store;
  readonly options: CoreOptions;
  readonly events: EventSink;
  readonly metrics: Metrics;
  readonly hashes: HashGate;
  readonly delivery: Delivery;
  readonly receipts: Receipts;
  readonly presence: Presence;
  readonly signals: Signals;
  /** Store writes whose results are acted on in the order they were made (SEND). */
  readonly commits: InOrder;
  /** Password checks run one at a time per account, a few at a time per address. */
  readonly checksByAccount: KeyedGate;
  readonly checksByAddress: KeyedGate;
  /** Accounts are created one at a time per address, so the budget is exact. */
  readonly creationsByAddress: KeyedGate;
  /** A hash of a random password: unknown names are checked against it, so they cost as much as known ones. */
  readonly dummy: DummyHash;
  /** Keys of accounts whose deletion is under way on any node: sends to them are refused. */
  readonly deleting: DeletingMarks;
  readonly sessions: Set<Session>;
  readonly now: () => number;
  readonly shuttingDown: boolean;

  // Answers and pushes (pipeline.ts).
  reply(s: Session, req: Request, at: number, fields: Omit<ReplyInit, "opcode">, close?: boolean): void;
  answerSend(s: Session, seq: number, frame: ReplyInit, at: number): void;
  fail(
    s: Session,
    req: Request,
    at: number,
    status: Status,
    msg: string,
    extra?: Omit<ReplyInit, "opcode">,
  ): void;
  write(s: Session, frame: ReplyInit): void;
  /** A push that may wait a few ms to travel with the client's next frame (RECEIPT). */
  writeLingering(s: Session, frame: ReplyInit): void;
  notify(s: Session, opcode: Push, status: Status, msg: string): void;
  close(s: Session): void;
  failureFrame(req: Request, error: unknown, what: string): ReplyInit;
  internalError(s: Session, req: Request, at: number, error: unknown): void;

  // Sessions and who holds them (roster.ts).
  /**
   * Makes s the session of account, forcing out the account's session wherever it is.
   * Resolves false when s closed meanwhile (it then holds nothing).
   */
  beginSession(s: Session, account: Account, tokenHash: string, resumed: boolean): Promise<boolean>;
  endSession(s: Session, reason: string, revoke: boolean): void;
  /** The account's session on this node, if it has one here. */
  onlineSession(accountId: number): Session | undefined;
  /** The node holding the account: this one if it has the session, else presence's answer. */
  holderNode(accountId: number): string | null | Promise<string | null>;
  /**
   * Signals to this node may have been lost (its bus subscription or its lease lapsed):
   * each local session re-reads its queue and checks that its claim still holds.
   */
  resync(): void;

  limit(s: Session, limit: string, detail: string): void;
  /** Runs a store call nobody waits on; failures are logged, never thrown. */
  background(p: Promise<unknown>, what: string): void;
}
