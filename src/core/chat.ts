// The chat server's logic, free of sockets: sessions, the request pipeline, who is online,
// and the timers (heartbeats, login and confirmation timeouts). The network shell feeds it
// frame bodies and connection events; handlers/ holds one file per operation.

import { MAX_PATTERN_CHARS } from "../rules/glob";
import { MAX_NAME_CHARS } from "../rules/names";
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS } from "../rules/password";
import { MAX_TEXT_CHARS } from "../rules/text";
import type { Account, Store } from "../store/store";
import { StorageError, StorageFullError } from "../store/store";
import {
  ACK_IDS_PER_TOKEN,
  ackCost,
  decodeRequest,
  FIRST_PUSH_OPCODE,
  FrameQueue,
  MAX_ACK_IDS,
  Op,
  opcodeName,
  PROTOCOL_VERSION,
  type ProtocolError,
  Push,
  type ReplyInit,
  type Request,
  Status,
  statusName,
} from "../wire";
import { HashGate, type PasswordHasher } from "./auth";
import { Delivery } from "./delivery";
import { DummyHash } from "./dummy-hash";
import type { EventSink } from "./events";
import { HANDLERS } from "./handlers";
import type { Metrics } from "./metrics";
import type { CoreOptions } from "./options";
import { Budget, KeyedGate, RECENT_FAILURE_MS, takeToken, tokenWaitMs } from "./ratelimit";
import { type Conn, Session } from "./session";

/** Requests queued behind a busy one: reading from the socket pauses past these. */
const PAUSE_AT = 32;
const PAUSE_BYTES = 64 * 1024;
/**
 * Bytes of requests waiting past which a connection is cut as abusive. With reading paused
 * only frames already read can pile up, so a client meets this only by sending more than
 * this in one burst while a request runs.
 */
export const MAX_BACKLOG_BYTES = 1024 * 1024;
/** A closing connection waits at most this long for the answers to requests that already ran. */
const CLOSE_WAIT_MS = 10_000;

export interface CoreDeps {
  store: Store;
  options: CoreOptions;
  events: EventSink;
  metrics: Metrics;
  passwords: PasswordHasher;
  serverVersion: string;
  /** Wall clock in ms (message timestamps, token expiry); tests may fake it. */
  now?: () => number;
}

export class ChatCore {
  readonly store: Store;
  readonly options: CoreOptions;
  readonly events: EventSink;
  readonly metrics: Metrics;
  readonly hashes: HashGate;
  readonly delivery: Delivery;
  readonly loginFailuresByAccount: Budget;
  readonly loginFailuresByAddress: Budget;
  /** Failures per (account, address), remembered RECENT_FAILURE_MS (see beginAttempt). */
  readonly loginFailuresByAccountAddress: Budget;
  /** New accounts per address: each creation takes from the budget. */
  readonly accountCreations: Budget;
  /** Password checks run one at a time per account, a few at a time per address. */
  readonly checksByAccount = new KeyedGate(1, 100);
  readonly checksByAddress = new KeyedGate(4, 1000);
  /** Accounts are created one at a time per address, so the budget is exact. */
  readonly creationsByAddress = new KeyedGate(1, 1000);
  readonly now: () => number;
  private readonly serverVersion: string;
  readonly sessions = new Set<Session>();
  private readonly online = new Map<number, Session>();
  /** Accounts whose deletion is under way: sends to them are refused. */
  readonly deleting = new Set<string>();
  private nextSessionId = 1;
  shuttingDown = false;
  /** A hash of a random password: unknown names are checked against it, so they cost as much as known ones. */
  readonly dummy: DummyHash;

  constructor(deps: CoreDeps) {
    this.store = deps.store;
    this.options = deps.options;
    this.events = deps.events;
    this.metrics = deps.metrics;
    this.serverVersion = deps.serverVersion;
    this.now = deps.now ?? Date.now;
    this.hashes = new HashGate(deps.passwords, deps.options.maxHashQueue);
    this.delivery = new Delivery(this);
    this.loginFailuresByAccount = new Budget(deps.options.loginFailuresPerAccount);
    this.loginFailuresByAddress = new Budget(deps.options.loginFailuresPerAddress);
    this.loginFailuresByAccountAddress = new Budget(
      deps.options.loginFailuresPerAccountAddress,
      100_000,
      RECENT_FAILURE_MS,
    );
    this.dummy = new DummyHash(this.store, this.hashes, this.now);
    this.accountCreations = new Budget(deps.options.accountCreationsPerAddress);
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
      },
    });
    return s;
  }

  /** One frame body from the connection. */
  receive(s: Session, body: Uint8Array): void {
    if (s.closing) return;
    const now = this.now();
    s.lastHeard = now;
    this.metrics.frames++;
    const at = performance.now();
    const o = this.options;
    // ACK ids are decoded only for an ACK that can run: logged in (else it is refused
    // whatever it carries) and with a token left (else it is refused with SLOW_DOWN).
    const ackCap =
      s.account && (s.tokens >= 1 || tokenWaitMs(s, now, o.requestRate, o.requestBurst) === 0)
        ? MAX_ACK_IDS
        : 0;
    let req: Request;
    try {
      req = decodeRequest(body, ackCap);
    } catch (error) {
      this.refuse(s, 0, 0, Status.MALFORMED_FRAME, (error as Error).message);
      return;
    }
    if (req.version !== PROTOCOL_VERSION) {
      this.refuse(
        s,
        req.opcode,
        req.requestId,
        Status.BAD_VERSION,
        `protocol version mismatch: this server speaks version "${PROTOCOL_VERSION}", the client sent "${printable(req.version)}"`,
      );
      return;
    }
    if (!takeToken(s, now, o.requestRate, o.requestBurst)) {
      this.slowDown(s, req, at, now);
      return;
    }
    s.slowDowns = 0;
    // An ACK costs by the ids it carries (those skipped past the cap included). Once it
    // has a token it is paid in full, into debt if need be, which the requests after it repay.
    if (req.opcode === Op.ACK) {
      const extra = ackCost(req.ackIds.length + req.ackIdsSkipped) - 1;
      s.tokens -= extra;
      s.conn.charge?.(extra);
    }
    // Confirmations never wait: a busy request (DELETE_ACCOUNT) may be waiting for them.
    if ((s.busy || s.held || s.backlog?.length) && req.opcode !== Op.ACK) {
      this.enqueue(s, req, body, at);
      return;
    }
    this.dispatch(s, req, at);
  }

  /** Queues a request behind the one running; pauses reading while many wait. */
  private enqueue(s: Session, req: Request, body: Uint8Array, at: number): void {
    const waiting = s.backlogBytes + (s.held?.bytes ?? 0) + body.length;
    if (waiting > MAX_BACKLOG_BYTES) {
      this.limit(s, "backlog", `more than ${MAX_BACKLOG_BYTES} bytes of requests waiting`);
      this.refuse(
        s,
        req.opcode,
        req.requestId,
        Status.SLOW_DOWN,
        "too many requests waiting; disconnecting (requests not answered before this were not run)",
      );
      return;
    }
    if (!s.held && (s.backlog?.length ?? 0) < this.options.maxBacklog) {
      s.backlog ??= [];
      s.backlog.push({ req, at, bytes: body.length });
      s.backlogBytes += body.length;
    } else {
      // Beyond maxBacklog, frames wait as the bytes they came in, decoded again when their turn comes.
      s.held ??= new FrameQueue();
      s.held.push(body);
    }
    // Let the kernel hold the rest: stop reading until the session catches up.
    if (!s.readPaused && (s.held || s.backlog!.length >= PAUSE_AT || waiting > PAUSE_BYTES)) {
      s.readPaused = true;
      s.conn.pause();
    }
  }

  /** The decoder rejected the byte stream (frame too large, bad length prefix). */
  frameError(s: Session, error: ProtocolError): void {
    const status = error.name === "FrameTooLargeError" ? Status.FRAME_TOO_LARGE : Status.MALFORMED_FRAME;
    this.refuse(s, 0, 0, status, error.message);
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
    const now = this.now();
    const o = this.options;
    const deadAfter = o.heartbeatMs * o.heartbeatMisses;
    for (const s of this.sessions) {
      if (s.closing) {
        if (!s.shut && now - s.closingSince >= CLOSE_WAIT_MS) this.shut(s);
        continue;
      }
      if (now - s.lastHeard >= deadAfter) {
        this.metrics.heartbeatTimeouts++;
        this.events({
          type: "dead_peer",
          conn: s.id,
          address: s.address,
          silentMs: now - s.lastHeard,
          ...(s.account ? { account: s.account.name } : {}),
        });
        this.notify(
          s,
          Push.LOGGED_OUT,
          Status.HEARTBEAT_TIMEOUT,
          `nothing heard for ${formatDuration(deadAfter)}; closing`,
        );
        this.close(s);
        continue;
      }
      if (!s.account && now - s.anonymousSince >= o.loginTimeoutMs) {
        this.limit(s, "login_timeout", `no login within ${o.loginTimeoutMs} ms`);
        this.notify(
          s,
          Push.LOGGED_OUT,
          Status.LOGIN_TIMEOUT,
          `closing: no login within ${formatDuration(o.loginTimeoutMs)}`,
        );
        this.close(s);
        continue;
      }
      if (now - s.lastSent >= o.heartbeatMs) this.write(s, { opcode: Push.HEARTBEAT });
    }
    this.delivery.checkTimeouts(now);
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

  // --- used by handlers ---

  /** Answers req (in request order, after any SEND answers still pending). */
  reply(s: Session, req: Request, at: number, fields: Omit<ReplyInit, "opcode">, close = false): void {
    const frame: ReplyInit = { opcode: answerOpcode(req.opcode), requestId: req.requestId, ...fields };
    if (fields.status) this.metrics.error(fields.status);
    if (s.sendSeq !== s.answeredSeq) {
      s.deferred ??= [];
      s.deferred.push({ afterSend: s.sendSeq, frame, started: at, close });
      return;
    }
    this.answer(s, frame, at, close);
  }

  /** Answers SEND number seq; releases the replies that were waiting for it. */
  answerSend(s: Session, seq: number, frame: ReplyInit, at: number): void {
    s.answeredSeq = seq;
    if (frame.status) this.metrics.error(frame.status);
    this.answer(s, frame, at, false);
    while (s.deferred?.length && s.deferred[0]!.afterSend <= seq) {
      const d = s.deferred.shift()!;
      this.answer(s, d.frame, d.started, d.close);
    }
    while (s.sendWaiters?.length && s.sendWaiters[0]!.seq <= seq) s.sendWaiters.shift()!.resolve();
    if (s.closing) this.closeWhenAnswered(s);
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
    this.reply(s, req, at, { status, msg, ...extra });
  }

  /** A server-initiated frame (push). */
  write(s: Session, frame: ReplyInit): void {
    if (s.closed) return;
    s.conn.send(frame);
    s.lastSent = this.now();
  }

  notify(s: Session, opcode: Push, status: Status, msg: string): void {
    this.metrics.error(status);
    this.write(s, { opcode, status, msg });
  }

  /**
   * Closes the connection: no further frame is taken, those waiting never run, and the
   * socket closes once every request that did run has been answered (at most CLOSE_WAIT_MS).
   */
  close(s: Session): void {
    if (s.closing) return;
    s.closing = true;
    s.closingSince = this.now();
    s.backlog = null;
    s.backlogBytes = 0;
    s.held = null;
    // A request waiting for confirmations (DELETE_ACCOUNT) would wait for ever: let it end.
    this.delivery.forget(s);
    this.closeWhenAnswered(s);
  }

  private closeWhenAnswered(s: Session): void {
    if (s.shut || s.closed) return;
    if (s.busy || s.sendSeq !== s.answeredSeq) {
      if (!s.readPaused) {
        s.readPaused = true;
        s.conn.pause();
      }
      return;
    }
    this.shut(s);
  }

  /** Writes the farewell frame, if any, after everything else, and closes the socket. */
  private shut(s: Session): void {
    s.shut = true;
    if (s.farewell) this.write(s, s.farewell);
    s.farewell = null;
    s.conn.close();
  }

  isOnline(accountId: number): boolean {
    return this.online.has(accountId);
  }

  onlineSession(accountId: number): Session | undefined {
    return this.online.get(accountId);
  }

  /**
   * Makes s the session of account: ends what s was logged in as, and forces out any
   * other session of the account (told why; its token revoked, unless it is the token s
   * resumed with: a RESUME replacing its own half-open connection).
   */
  beginSession(s: Session, account: Account, tokenHash: string, resumed: boolean): void {
    if (s.account) this.endSession(s, `switched to ${account.name}`, true);
    const other = this.online.get(account.id);
    if (other && other !== s) {
      const how = resumed ? "resumed" : "logged in";
      this.notify(
        other,
        Push.LOGGED_OUT,
        Status.LOGGED_IN_ELSEWHERE,
        `logged out: ${account.name} ${how} elsewhere (${s.address})`,
      );
      this.events({
        type: "forced_logout",
        conn: other.id,
        address: other.address,
        account: account.name,
        byAddress: s.address,
      });
      this.endSession(other, "logged in elsewhere", other.tokenHash !== tokenHash);
    }
    s.account = account;
    s.tokenHash = tokenHash;
    this.delivery.reset(s, false);
    this.online.set(account.id, s);
    this.metrics.sessions++;
    this.events({ type: "login", conn: s.id, address: s.address, account: account.name, resumed });
  }

  /** Logs s out (if logged in); revoke=true also invalidates its session token. */
  endSession(s: Session, reason: string, revoke: boolean): void {
    const account = s.account;
    if (!account) return;
    if (this.online.get(account.id) === s) this.online.delete(account.id);
    if (revoke && s.tokenHash)
      this.background(this.store.deleteToken(s.tokenHash), "revoking a session token");
    s.account = null;
    s.tokenHash = null;
    s.anonymousSince = this.now();
    if (s.deleting) {
      s.deleting = false;
      this.deleting.delete(account.key);
    }
    this.delivery.reset(s, true);
    this.metrics.sessions--;
    this.events({ type: "logout", conn: s.id, address: s.address, account: account.name, reason });
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

  /** Runs a store call nobody waits on; failures are logged, never thrown. */
  background(p: Promise<unknown>, what: string): void {
    p.catch((error) => this.events({ type: "storage_error", detail: `${what}: ${describeError(error)}` }));
  }

  /** The answer for a request that threw: the client learns what failed, the log learns why. */
  failureFrame(req: Request, error: unknown, what: string): ReplyInit {
    const base = { opcode: answerOpcode(req.opcode), requestId: req.requestId };
    if (error instanceof StorageFullError)
      return { ...base, status: Status.STORAGE_FULL, msg: `${what}: ${error.message}; try again later` };
    if (error instanceof StorageError) {
      this.events({ type: "storage_error", detail: `${opcodeName(req.opcode)}: ${describeError(error)}` });
      return { ...base, status: Status.STORAGE_FAILED, msg: `${what}: ${error.message}; please try again` };
    }
    this.events({ type: "internal_error", detail: `${opcodeName(req.opcode)} failed`, error });
    return {
      ...base,
      status: Status.INTERNAL_ERROR,
      msg: `${what}: internal server error (the server logged the details)`,
    };
  }

  internalError(s: Session, req: Request, at: number, error: unknown): void {
    const { opcode: _, ...frame } = this.failureFrame(
      req,
      error,
      `${opcodeName(req.opcode).toLowerCase().replace(/_/g, " ")} failed`,
    );
    this.reply(s, req, at, frame);
  }

  // --- internal ---

  private dispatch(s: Session, req: Request, at: number): void {
    const handler = HANDLERS[req.opcode];
    if (!handler) {
      this.fail(
        s,
        req,
        at,
        Status.UNKNOWN_OPCODE,
        `unknown opcode ${req.opcode}; this server knows 1-10 (see docs/PROTOCOL.md)`,
      );
      return;
    }
    if (this.shuttingDown && req.opcode !== Op.QUIT && req.opcode !== Op.ACK) {
      this.fail(s, req, at, Status.SHUTTING_DOWN, "the server is shutting down; try again later");
      return;
    }
    if (handler.needsLogin && !s.account) {
      this.fail(s, req, at, Status.NOT_LOGGED_IN, "log in first");
      return;
    }
    let pending: Promise<void> | void;
    try {
      pending = handler.run(this, s, req, at);
    } catch (error) {
      this.internalError(s, req, at, error);
      return;
    }
    if (!pending) return;
    s.busy = true;
    pending
      .catch((error) => this.internalError(s, req, at, error))
      .finally(() => {
        s.busy = false;
        if (s.closing) this.closeWhenAnswered(s);
        else this.runBacklog(s);
      });
  }

  /** Runs what waited behind a finished request, in order, until one is busy again. */
  private runBacklog(s: Session): void {
    while (!s.busy && !s.closing) {
      const next = s.backlog?.shift();
      if (next) {
        s.backlogBytes -= next.bytes;
        this.dispatch(s, next.req, next.at);
        continue;
      }
      const body = s.held?.shift();
      if (!body) break;
      if (s.held!.length === 0) s.held = null;
      // Its version and request budget were checked as it arrived; it is never an ACK.
      this.dispatch(s, decodeRequest(body, 0), performance.now());
    }
    if (!s.busy && !s.closing && s.readPaused) {
      s.readPaused = false;
      s.conn.resume();
    }
  }

  private answer(s: Session, frame: ReplyInit, at: number, close: boolean): void {
    this.write(s, frame);
    this.metrics.latency(performance.now() - at);
    if (close) this.close(s);
  }

  /**
   * Answers a request that cannot be served and closes the connection; the answer goes out
   * after those to every request that ran before it, so the client can tell that any
   * request it sent and has no answer for did not run.
   */
  private refuse(s: Session, opcode: number, requestId: number, status: Status, msg: string): void {
    if (s.closing) return;
    this.events({
      type: "protocol_error",
      conn: s.id,
      address: s.address,
      status: statusName(status),
      detail: msg,
    });
    this.metrics.error(status);
    s.farewell = { opcode: answerOpcode(opcode), requestId, status, msg };
    this.close(s);
  }

  private slowDown(s: Session, req: Request, at: number, now: number): void {
    s.slowDowns++;
    if (s.slowDowns > this.options.maxSlowDowns) {
      this.limit(
        s,
        "request_rate",
        `over ${this.options.requestRate} requests/s after ${this.options.maxSlowDowns} warnings`,
      );
      this.refuse(s, req.opcode, req.requestId, Status.SLOW_DOWN, "too many requests; disconnecting");
      return;
    }
    if (s.slowDowns === 1) this.limit(s, "request_rate", `over ${this.options.requestRate} requests/s`);
    const wait = tokenWaitMs(s, now, this.options.requestRate, this.options.requestBurst);
    this.fail(s, req, at, Status.SLOW_DOWN, `too many requests; slow down (try again in ${wait} ms)`, {
      retryAfterMs: wait,
    });
  }
}

/** A HELLO field is a uint32: a setting beyond it (49 days of ms) is announced as its maximum. */
const u32 = (n: number): number => Math.min(n, 0xffffffff);

/** The opcode an answer carries: the request's, or 0 where that could pass for a push. */
function answerOpcode(opcode: number): number {
  return opcode > 0 && opcode < FIRST_PUSH_OPCODE ? opcode : 0;
}

/** "300 ms", "10 s", "1.5 s": for texts people read. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Math.round(ms / 100) / 10} s`;
}

/** Keeps a client-supplied string printable and short in our own messages. */
export function printable(text: string, max = 40): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed.
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  const chars = [...clean];
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : clean;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
