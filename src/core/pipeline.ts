// The request pipeline of every session: decode, request budget, one request at a time
// (SEND pipelined), a bounded backlog behind a busy one, answers in request order, and
// closing once the answers owed are out.

import { StorageError, StorageFullError } from "../store/store";
import {
  ackCost,
  decodeRequest,
  FIRST_PUSH_OPCODE,
  FrameQueue,
  MAX_ACK_IDS,
  Op,
  opcodeName,
  PROTOCOL_VERSION,
  type ProtocolError,
  type Push,
  type ReplyInit,
  type Request,
  Status,
  statusName,
} from "../wire";
import type { Core } from "./context";
import { HANDLERS } from "./handlers";
import { takeToken, tokenWaitMs } from "./ratelimit";
import type { Session } from "./session";
import { describeError, printable } from "./text";

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
export const CLOSE_WAIT_MS = 10_000;

export class Pipeline {
  constructor(private readonly core: Core) {}

  /** One frame body from the connection. */
  receive(s: Session, body: Uint8Array): void {
    if (s.closing) return;
    const core = this.core;
    const now = core.now();
    s.lastHeard = now;
    core.metrics.frames++;
    const at = performance.now();
    const o = core.options;
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
      const extra =
        ackCost(
          req.ackIds.length +
            req.ackIdsSkipped +
            (req.receiptIds?.length ?? 0) +
            (req.receiptIdsSkipped ?? 0),
        ) - 1;
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

  /** The decoder rejected the byte stream (frame too large, bad length prefix). */
  frameError(s: Session, error: ProtocolError): void {
    const status = error.name === "FrameTooLargeError" ? Status.FRAME_TOO_LARGE : Status.MALFORMED_FRAME;
    this.refuse(s, 0, 0, status, error.message);
  }

  /** Answers req (in request order, after any SEND answers still pending). */
  reply(s: Session, req: Request, at: number, fields: Omit<ReplyInit, "opcode">, close = false): void {
    const frame: ReplyInit = { opcode: answerOpcode(req.opcode), requestId: req.requestId, ...fields };
    // NAME_AVAILABLE answers a question about a name: not an error.
    if (fields.status && fields.status !== Status.NAME_AVAILABLE) this.core.metrics.error(fields.status);
    if (s.sendSeq !== s.answeredSeq) {
      s.deferred ??= [];
      s.deferred.push({ afterSend: s.sendSeq, frame, started: at, close });
      return;
    }
    this.answer(s, frame, at, close);
  }

  /**
   * Answers SEND number seq, in SEND order whatever order the answers come in: an answer
   * that comes early waits for those before it. Releases the replies waiting for it.
   */
  answerSend(s: Session, seq: number, frame: ReplyInit, at: number): void {
    if (frame.status) this.core.metrics.error(frame.status);
    if (seq !== s.answeredSeq + 1) {
      s.earlySends ??= new Map();
      s.earlySends.set(seq, { frame, at });
      return;
    }
    this.sendAnswered(s, seq, frame, at);
    const early = s.earlySends;
    if (early) {
      for (let e = early.get(s.answeredSeq + 1); e; e = early.get(s.answeredSeq + 1)) {
        early.delete(s.answeredSeq + 1);
        this.sendAnswered(s, s.answeredSeq + 1, e.frame, e.at);
      }
      if (early.size === 0) s.earlySends = null;
    }
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
    s.lastSent = this.core.now();
  }

  /** A push that may wait a few ms to travel with the client's next frame (RECEIPT). */
  writeLingering(s: Session, frame: ReplyInit): void {
    if (s.closed) return;
    s.conn.send(frame, true);
    s.lastSent = this.core.now();
  }

  notify(s: Session, opcode: Push, status: Status, msg: string): void {
    this.core.metrics.error(status);
    this.write(s, { opcode, status, msg });
  }

  /**
   * Closes the connection: no further frame is taken, those waiting never run, and the
   * socket closes once every request that did run has been answered (at most CLOSE_WAIT_MS).
   */
  close(s: Session): void {
    if (s.closing) return;
    s.closing = true;
    s.closingSince = this.core.now();
    s.backlog = null;
    s.backlogBytes = 0;
    s.held = null;
    // A request waiting for confirmations (DELETE_ACCOUNT) would wait for ever: let it end.
    this.core.delivery.forget(s);
    this.closeWhenAnswered(s);
  }

  /** Writes the farewell frame, if any, after everything else, and closes the socket. */
  shut(s: Session): void {
    s.shut = true;
    if (s.farewell) this.write(s, s.farewell);
    s.farewell = null;
    s.conn.close();
  }

  /** The answer for a request that threw: the client learns what failed, the log learns why. */
  failureFrame(req: Request, error: unknown, what: string): ReplyInit {
    const base = { opcode: answerOpcode(req.opcode), requestId: req.requestId };
    if (error instanceof StorageFullError)
      return { ...base, status: Status.STORAGE_FULL, msg: `${what}: ${error.message}; try again later` };
    if (error instanceof StorageError) {
      this.core.events({
        type: "storage_error",
        detail: `${opcodeName(req.opcode)}: ${describeError(error)}`,
      });
      return { ...base, status: Status.STORAGE_FAILED, msg: `${what}: ${error.message}; please try again` };
    }
    this.core.events({ type: "internal_error", detail: `${opcodeName(req.opcode)} failed`, error });
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

  private sendAnswered(s: Session, seq: number, frame: ReplyInit, at: number): void {
    s.answeredSeq = seq;
    this.answer(s, frame, at, false);
    while (s.deferred?.length && s.deferred[0]!.afterSend <= seq) {
      const d = s.deferred.shift()!;
      this.answer(s, d.frame, d.started, d.close);
    }
    while (s.sendWaiters?.length && s.sendWaiters[0]!.seq <= seq) s.sendWaiters.shift()!.resolve();
  }

  /** Queues a request behind the one running; pauses reading while many wait. */
  private enqueue(s: Session, req: Request, body: Uint8Array, at: number): void {
    const waiting = s.backlogBytes + (s.held?.bytes ?? 0) + body.length;
    if (waiting > MAX_BACKLOG_BYTES) {
      this.core.limit(s, "backlog", `more than ${MAX_BACKLOG_BYTES} bytes of requests waiting`);
      this.refuse(
        s,
        req.opcode,
        req.requestId,
        Status.SLOW_DOWN,
        "too many requests waiting; disconnecting (requests not answered before this were not run)",
      );
      return;
    }
    if (!s.held && (s.backlog?.length ?? 0) < this.core.options.maxBacklog) {
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
    if (this.core.shuttingDown && req.opcode !== Op.QUIT && req.opcode !== Op.ACK) {
      this.fail(s, req, at, Status.SHUTTING_DOWN, "the server is shutting down; try again later");
      return;
    }
    if (handler.needsLogin && !s.account) {
      this.fail(s, req, at, Status.NOT_LOGGED_IN, "log in first");
      return;
    }
    let pending: Promise<void> | void;
    try {
      pending = handler.run(this.core, s, req, at);
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
    this.core.metrics.latency(performance.now() - at);
    if (close) this.close(s);
  }

  /**
   * Answers a request that cannot be served and closes the connection; the answer goes out
   * after those to every request that ran before it, so the client can tell that any
   * request it sent and has no answer for did not run.
   */
  private refuse(s: Session, opcode: number, requestId: number, status: Status, msg: string): void {
    if (s.closing) return;
    this.core.events({
      type: "protocol_error",
      conn: s.id,
      address: s.address,
      status: statusName(status),
      detail: msg,
    });
    this.core.metrics.error(status);
    s.farewell = { opcode: answerOpcode(opcode), requestId, status, msg };
    this.close(s);
  }

  private slowDown(s: Session, req: Request, at: number, now: number): void {
    const o = this.core.options;
    s.slowDowns++;
    if (s.slowDowns > o.maxSlowDowns) {
      this.core.limit(s, "request_rate", `over ${o.requestRate} requests/s after ${o.maxSlowDowns} warnings`);
      this.refuse(s, req.opcode, req.requestId, Status.SLOW_DOWN, "too many requests; disconnecting");
      return;
    }
    if (s.slowDowns === 1) this.core.limit(s, "request_rate", `over ${o.requestRate} requests/s`);
    const wait = tokenWaitMs(s, now, o.requestRate, o.requestBurst);
    this.fail(s, req, at, Status.SLOW_DOWN, `too many requests; slow down (try again in ${wait} ms)`, {
      retryAfterMs: wait,
    });
  }
}

/** The opcode an answer carries: the request's, or 0 where that could pass for a push. */
function answerOpcode(opcode: number): number {
  return opcode > 0 && opcode < FIRST_PUSH_OPCODE ? opcode : 0;
}
