// The chat server's logic, free of sockets. ChatCore puts the pieces together and is what
// the network shell and the admin operations call: the request pipeline (pipeline.ts),
// who is logged in here and the signals between nodes (roster.ts), the timers (timers.ts),
// the hand-over of messages (delivery.ts) and one file per operation (handlers/). What
// several nodes share comes in as interfaces (Presence, Signals, Throttles) with local
// implementations for one server.

import { MAX_PATTERN_CHARS } from "../rules/glob";
import { MAX_NAME_CHARS } from "../rules/names";
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS } from "../rules/password";
import { MAX_TEXT_CHARS } from "../rules/text";
import type { Account, Store } from "../store/store";
import {
  ACK_IDS_PER_TOKEN,
  MAX_ACK_IDS,
  PROTOCOL_VERSION,
  type ProtocolError,
  Push,
  type ReplyInit,
  type Request,
  Status,
} from "../wire";
import { HashGate, type PasswordHasher } from "./auth";
import type { Core, Throttle, Throttles } from "./context";
import { DeletingMarks } from "./deleting";
import { Delivery } from "./delivery";
import { DummyHash } from "./dummy-hash";
import type { EventSink } from "./events";
import { InOrder } from "./in-order";
import type { Metrics } from "./metrics";
import type { CoreOptions } from "./options";
import { MAX_BACKLOG_BYTES, Pipeline } from "./pipeline";
import { LocalPresence, type Presence } from "./presence";
import { Budget, KeyedGate, RECENT_FAILURE_MS } from "./ratelimit";
import { Receipts } from "./receipts";
import { Roster } from "./roster";
import { type Conn, Session } from "./session";
import { LocalSignals, type Signals } from "./signals";
import { describeError } from "./text";
import { Timers } from "./timers";

export { describeError, formatDuration, printable } from "./text";
export { MAX_BACKLOG_BYTES };

export interface CoreDeps {
  store: Store;
  options: CoreOptions;
  events: EventSink;
  metrics: Metrics;
  passwords: PasswordHasher;
  serverVersion: string;
  /** Wall clock in ms (message timestamps, token expiry); tests may fake it. */
  now?: () => number;
  /** This node's name among the nodes of one service (default: "local"). */
  node?: string;
  /** Who holds which account, shared by the nodes (default: this process only). */
  presence?: Presence;
  /** The bus between the nodes (default: this process only). */
  signals?: Signals;
  /** Login-failure and account-creation budgets, shared by the nodes (default: this process's). */
  throttles?: Throttles;
}

/** Budgets kept in this process, from the options. */
export function localThrottles(o: CoreOptions): Throttles {
  return {
    loginFailuresByAccount: new Budget(o.loginFailuresPerAccount),
    loginFailuresByAddress: new Budget(o.loginFailuresPerAddress),
    loginFailuresByAccountAddress: new Budget(o.loginFailuresPerAccountAddress, 100_000, RECENT_FAILURE_MS),
    accountCreations: new Budget(o.accountCreationsPerAddress),
  };
}

export class ChatCore implements Core {
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
  readonly commits: InOrder;
  readonly loginFailuresByAccount: Throttle;
  readonly loginFailuresByAddress: Throttle;
  readonly loginFailuresByAccountAddress: Throttle;
  readonly accountCreations: Throttle;
  readonly checksByAccount = new KeyedGate(1, 100);
  readonly checksByAddress = new KeyedGate(4, 1000);
  readonly creationsByAddress = new KeyedGate(1, 1000);
  readonly now: () => number;
  private readonly serverVersion: string;
  readonly sessions = new Set<Session>();
  readonly deleting: DeletingMarks;
  private nextSessionId = 1;
  shuttingDown = false;
  readonly dummy: DummyHash;
  private readonly pipeline: Pipeline;
  private readonly roster: Roster;
  private readonly timers: Timers;

  constructor(deps: CoreDeps) {
    this.node = deps.node ?? "local";
    this.store = deps.store;
    this.options = deps.options;
    this.events = deps.events;
    this.metrics = deps.metrics;
    this.serverVersion = deps.serverVersion;
    this.now = deps.now ?? Date.now;
    this.presence = deps.presence ?? new LocalPresence();
    this.deleting = new DeletingMarks(this.now, () => this.presence.leaseMs);
    this.signals = deps.signals ?? new LocalSignals();
    this.commits = new InOrder((error) =>
      this.events({ type: "internal_error", detail: "acting on a stored message", error }),
    );
    this.hashes = new HashGate(deps.passwords, deps.options.maxHashQueue);
    this.delivery = new Delivery(this);
    this.receipts = new Receipts(this);
    const throttles = deps.throttles ?? localThrottles(deps.options);
    this.loginFailuresByAccount = throttles.loginFailuresByAccount;
    this.loginFailuresByAddress = throttles.loginFailuresByAddress;
    this.loginFailuresByAccountAddress = throttles.loginFailuresByAccountAddress;
    this.accountCreations = throttles.accountCreations;
    this.dummy = new DummyHash(this.store, this.hashes, this.now);
    this.pipeline = new Pipeline(this);
    this.roster = new Roster(this);
    this.timers = new Timers(this, this.pipeline);
  }

  // --- connection lifecycle (called by the network shell) ---

  connect(conn: Conn): Session {
    const o = this.options;
    const s = new Session(this.nextSessionId++, conn, this.now(), o.requestBurst);
    this.sessions.add(s);
    this.metrics.connections++;
    this.metrics.connectionsOpened++;
    this.events({ type: "connect", conn: s.id, address: s.address });
    this.write(s, {
      opcode: Push.HELLO,
      msg: `chat server ${this.serverVersion}, protocol ${PROTOCOL_VERSION}`,
      info: {
        serverVersion: this.serverVersion,
        heartbeatMs: u32(o.heartbeatMs),
        maxFrameBytes: o.maxFrameBytes,
        maxNameChars: MAX_NAME_CHARS,
        maxTextChars: MAX_TEXT_CHARS,
        minPasswordChars: MIN_PASSWORD_CHARS,
        maxPageSize: o.maxPageSize,
        ackTimeoutMs: u32(o.ackTimeoutMs),
        loginTimeoutMs: u32(o.loginTimeoutMs),
        heartbeatMisses: o.heartbeatMisses,
        deliveryWindow: o.deliveryWindow,
        maxBacklogBytes: MAX_BACKLOG_BYTES,
        maxAckIds: MAX_ACK_IDS,
        requestRate: o.requestRate,
        requestBurst: o.requestBurst,
        ackIdsPerToken: ACK_IDS_PER_TOKEN,
        maxSlowDowns: o.maxSlowDowns,
        maxPasswordBytes: MAX_PASSWORD_BYTES,
        maxQueuedPerAccount: o.maxQueuedPerAccount,
        sessionTtlMs: u32(o.sessionTtlMs),
        maxPatternChars: MAX_PATTERN_CHARS,
        maxUnansweredSends: o.maxUnansweredSends,
        maxReceipts: o.maxReceiptsPerAccount,
      },
    });
    return s;
  }

  /** One frame body from the connection. */
  receive(s: Session, body: Uint8Array): void {
    this.pipeline.receive(s, body);
  }

  /** The decoder rejected the byte stream (frame too large, bad length prefix). */
  frameError(s: Session, error: ProtocolError): void {
    this.pipeline.frameError(s, error);
  }

  /** The socket closed, for whatever reason. Idempotent. */
  disconnected(s: Session, reason: string): void {
    if (s.closed) return;
    s.closed = true;
    s.closing = true;
    const account = s.accountName;
    this.endSession(s, `disconnected (${reason})`, false);
    this.sessions.delete(s);
    this.delivery.forget(s);
    this.metrics.connections--;
    this.events({
      type: "disconnect",
      conn: s.id,
      address: s.address,
      reason,
      ...(account ? { account } : {}),
    });
  }

  /** Timers: heartbeats, dead peers, login and confirmation timeouts. Call every few hundred ms. */
  tick(): void {
    this.timers.tick();
  }

  /** Graceful shutdown: refuse new work and tell every client. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const s of this.sessions) {
      if (s.closing) continue;
      this.notify(s, Push.SHUTDOWN, Status.SHUTTING_DOWN, "the server is shutting down; try again later");
      this.close(s);
    }
  }

  /** Stops taking signals from the other nodes (a core that goes away while the bus stays). */
  detach(): void {
    this.roster.detach();
  }

  // --- answers and pushes (pipeline.ts) ---

  /** Answers req (in request order, after any SEND answers still pending). */
  reply(s: Session, req: Request, at: number, fields: Omit<ReplyInit, "opcode">, close = false): void {
    this.pipeline.reply(s, req, at, fields, close);
  }

  /** Answers SEND number seq (in SEND order); releases the replies that were waiting for it. */
  answerSend(s: Session, seq: number, frame: ReplyInit, at: number): void {
    this.pipeline.answerSend(s, seq, frame, at);
  }

  /** An error answer (a status, a sentence, and any extra fields such as retry_after_ms). */
  fail(
    s: Session,
    req: Request,
    at: number,
    status: Status,
    msg: string,
    extra?: Omit<ReplyInit, "opcode">,
  ): void {
    this.pipeline.reply(s, req, at, { status, msg, ...extra });
  }

  /** A server-initiated frame (push). */
  write(s: Session, frame: ReplyInit): void {
    this.pipeline.write(s, frame);
  }

  /** A push that may wait a few ms to travel with the client's next frame (RECEIPT). */
  writeLingering(s: Session, frame: ReplyInit): void {
    this.pipeline.writeLingering(s, frame);
  }

  notify(s: Session, opcode: Push, status: Status, msg: string): void {
    this.pipeline.notify(s, opcode, status, msg);
  }

  /**
   * Closes the connection: no further frame is taken, those waiting never run, and the
   * socket closes once every request that did run has been answered (at most 10 s).
   */
  close(s: Session): void {
    this.pipeline.close(s);
  }

  /** The answer for a request that threw: the client learns what failed, the log learns why. */
  failureFrame(req: Request, error: unknown, what: string): ReplyInit {
    return this.pipeline.failureFrame(req, error, what);
  }

  internalError(s: Session, req: Request, at: number, error: unknown): void {
    this.pipeline.internalError(s, req, at, error);
  }

  // --- sessions and who holds them (roster.ts) ---

  /** Logged in on this node. For every node of the service, ask presence. */
  isOnline(accountId: number): boolean {
    return this.roster.local(accountId) !== undefined;
  }

  onlineSession(accountId: number): Session | undefined {
    return this.roster.local(accountId);
  }

  /**
   * Makes s the session of account: ends what s was logged in as, and forces out the
   * account's session on whichever node holds it (told why; its token revoked, unless it
   * is the token s resumed with). False when s closed meanwhile.
   */
  beginSession(s: Session, account: Account, tokenHash: string, resumed: boolean): Promise<boolean> {
    return this.roster.begin(s, account, tokenHash, resumed);
  }

  /** Logs s out (if logged in); revoke=true also invalidates its session token. */
  endSession(s: Session, reason: string, revoke: boolean): void {
    this.roster.end(s, reason, revoke);
  }

  /** The node holding the account: this one if it has the session, else presence's answer. */
  holderNode(accountId: number): string | null | Promise<string | null> {
    return this.roster.holderNode(accountId);
  }

  /** Signals may have been lost: local sessions re-read their queues and check their claims. */
  resync(): void {
    this.roster.resync();
  }

  limit(s: Session, limit: string, detail: string): void {
    this.events({
      type: "limit",
      conn: s.id,
      address: s.address,
      limit,
      detail,
      ...(s.account ? { account: s.account.name } : {}),
    });
  }

  /** Confirmed messages leave the recipient's queue, and their senders get receipts (delivery.ts). */
  confirmed(account: Account, ids: readonly number[]): void {
    this.background(this.receipts.confirmed(account, ids), "removing confirmed messages");
  }

  /** Runs a store call nobody waits on; failures are logged, never thrown. */
  background(p: Promise<unknown>, what: string): void {
    p.catch((error) => this.events({ type: "storage_error", detail: `${what}: ${describeError(error)}` }));
  }
}

/** A HELLO field is a uint32: a setting beyond it (49 days of ms) is announced as its maximum. */
const u32 = (n: number): number => Math.min(n, 0xffffffff);
