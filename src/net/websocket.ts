// One WebSocket client: each binary message in is one protobuf frame (no length prefix) for
// the core, each frame out is one binary message. Implements the core's Conn like the TCP
// Connection, with the same limits: output waiting for the client counts against the
// per-connection cap and the server's memory budget, reading stops while the client does
// not read its answers or the core has a queue of its requests, and a client whose output
// passes the cap is dropped.
//
// Batching, as TCP gets it from one read and one write: Bun calls the message handler once
// per WebSocket message and runs the microtasks after each call, so messages handed to the
// core there would each get their own store commit. They are queued instead and handed on
// together once every socket's reads of this event-loop turn are in (setImmediate). Frames
// out are encoded into one buffer per connection and sent in one cork (one write) when the
// turn's work is done.

import type { ServerWebSocket } from "bun";
import type { ChatCore } from "../core/chat";
import type { Conn, Session } from "../core/session";
import { ProtocolError, type ReplyInit, replySize, Status, writeReply } from "../wire";
import { type AddressBudget, BYTES_PER_UNIT, newShare, type Share } from "./address-budget";
import { giveBuffer, takeBuffer } from "./buffer-pool";
import { MAX_HANDED_BEHIND_BUSY, PAUSE_OUTPUT_BYTES } from "./connection";
import type { Holder, MemoryBudget } from "./memory";

export interface WsLimits {
  maxFrameBytes: number;
  /** Unsent output past this marks a slow consumer: the connection is dropped. */
  maxOutboundBytes: number;
}

export interface WsContext {
  core: ChatCore;
  limits: WsLimits;
  memory: MemoryBudget;
  /** The request budget of each client address (all its connections, TCP ones too). */
  budget?: AddressBudget;
  /** Called once when the socket has closed. */
  onGone(c: WsConnection): void;
}

/** What Bun keeps with each upgraded socket. */
export interface WsData {
  address: string;
  /** Set for a socket refused by admission: this frame is sent, then it is closed. */
  refusal?: Uint8Array;
  conn?: WsConnection;
}

/** WebSocket close codes used (RFC 6455 §7.4.1). */
export const WS_NORMAL = 1000;
export const WS_TOO_BIG = 1009;
export const WS_TRY_AGAIN_LATER = 1013;

/** A socket that has not drained its output this long after close() is cut off. */
const CLOSE_GRACE_MS = 2000;

const PAUSED_BY_CORE = 1;
const PAUSED_BY_OUTPUT = 2;
const PAUSED_BY_INBOX = 4;

/**
 * Bytes of messages already read while reading was paused (Bun may still deliver what it
 * has read): past this the client is cut, as one that sends without ever reading answers.
 */
export const MAX_INBOX_BYTES = 1024 * 1024;

/** Messages of one turn past this many bytes are handed on at once instead of at its end. */
export const HAND_ON_BYTES = 64 * 1024;

/** Connections with messages read this turn, handed to the core together once the reads are done. */
let arrived: WsConnection[] = [];
let spare: WsConnection[] = [];
let handOnScheduled = false;
function handOnArrived(): void {
  handOnScheduled = false;
  const list = arrived;
  arrived = spare;
  for (let i = 0; i < list.length; i++) list[i]!.handOn();
  list.length = 0;
  spare = list;
}

/** Connections with frames encoded but not sent, sent once the current turn's work is done. */
const dirty: WsConnection[] = [];
let flushScheduled = false;
function flushDirty(): void {
  flushScheduled = false;
  // A flush may queue more (the core answers held requests it is handed): they go too.
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

export class WsConnection implements Conn, Holder {
  readonly address: string;
  session!: Session;
  held = 0;
  private inbox: Uint8Array[] | null = null;
  private inboxBytes = 0;
  /** In `arrived`: messages wait for the end of the turn's reads. */
  private arriving = false;
  /** Frames encoded and not yet sent: out[0..outLen), frame i ending at ends[i]. */
  private out: Uint8Array | null = null;
  private outLen = 0;
  private readonly ends: number[] = [];
  private queued = false;
  /** Bun's output buffer as last read (at the last flush or drain): sends check against it. */
  private buffered = 0;
  /** What the last flush's sendBinary calls returned, worst first: 0 dropped, -1 buffered. */
  private sendStatus = 1;
  private readonly sendAll = () => this.sendQueued();
  private delivering = false;
  private paused = 0;
  private ending = false;
  /** Terminated for a passed limit (ending too). */
  private cutOff = false;
  private gone = false;
  /** This connection's part of its address's budget, and whether it waits for the address to pay. */
  private readonly share: Share;
  private awaitingBudget = false;

  constructor(
    private readonly ws: ServerWebSocket<WsData>,
    private readonly ctx: WsContext,
  ) {
    this.address = ws.data.address;
    this.share = newShare(ctx.budget?.now() ?? 0);
  }

  start(): void {
    this.session = this.ctx.core.connect(this);
  }

  onMessage(message: string | Uint8Array): void {
    if (this.ending) return;
    if (typeof message === "string") {
      this.deliver(); // what came before it goes first
      this.ctx.core.frameError(
        this.session,
        new ProtocolError(
          "text WebSocket message: the chat protocol is carried in binary messages, one protobuf frame each",
        ),
      );
      return;
    }
    this.inbox ??= [];
    this.inbox.push(message);
    this.inboxBytes += message.length;
    if (this.inboxBytes > MAX_INBOX_BYTES) {
      this.cut("backlog", `more than ${MAX_INBOX_BYTES} bytes of requests read while reading was paused`);
      return;
    }
    if (this.paused !== 0) {
      // Read although paused (Bun may deliver what it had read): charged at once.
      this.account();
    } else if (this.inboxBytes >= HAND_ON_BYTES) {
      // A large read goes on now: what waits for the turn's end stays small.
      this.deliver();
      if (!this.inbox) return;
    }
    if (!this.arriving) {
      this.arriving = true;
      arrived.push(this);
      if (!handOnScheduled) {
        handOnScheduled = true;
        setImmediate(handOnArrived);
      }
    }
  }

  /** The turn's reads are in: hands the queued messages to the core (as far as it takes them). */
  handOn(): void {
    this.arriving = false;
    this.deliver();
  }

  onDrain(): void {
    if (this.gone) return;
    this.buffered = this.ws.getBufferedAmount();
    this.account();
    if (this.buffered <= PAUSE_OUTPUT_BYTES) this.resumeFor(PAUSED_BY_OUTPUT);
    this.deliver();
  }

  /** code: the WebSocket close code (1009: a message over maxPayloadLength). */
  onClose(code: number, reason: string): void {
    if (this.gone) return;
    // Requests read before the close (waiting for the turn's end) go to the core first, as on TCP.
    if (this.inbox && !this.ending) this.deliver();
    this.gone = true;
    this.release();
    // Bun closes a message over maxPayloadLength itself (1009); the close handler is told.
    const tooBig = code === WS_TOO_BIG || /too big/i.test(reason);
    if (tooBig) {
      this.ctx.core.metrics.error(Status.FRAME_TOO_LARGE);
      this.ctx.core.events({
        type: "protocol_error",
        conn: this.session.id,
        address: this.address,
        status: "FRAME_TOO_LARGE",
        detail: `WebSocket message over the maximum frame size of ${this.ctx.limits.maxFrameBytes} bytes; closed with 1009`,
      });
    }
    this.ctx.core.disconnected(
      this.session,
      tooBig ? "closed: message too big (1009)" : closeReason(code, reason),
    );
    this.ctx.onGone(this);
  }

  shed(why: string): void {
    this.cut("memory", why);
  }

  // --- Conn ---

  send(frame: ReplyInit): void {
    // After close() or a cut nothing more goes out (Bun sends nothing after the close frame).
    if (this.gone || this.ending) return;
    const size = replySize(frame);
    const need = this.outLen + size;
    // The cached amount may be from before Bun wrote some of it: read again before cutting.
    if (
      this.buffered + need > this.ctx.limits.maxOutboundBytes &&
      this.refreshBuffered() + need > this.ctx.limits.maxOutboundBytes
    ) {
      this.cut(
        "slow_consumer",
        `${this.buffered + need} bytes of output waiting (limit ${this.ctx.limits.maxOutboundBytes})`,
      );
      return;
    }
    if (!this.out || need > this.out.length) {
      const grown = takeBuffer(this.out ? Math.max(need, this.out.length * 2) : need);
      if (this.out) {
        grown.set(this.out.subarray(0, this.outLen));
        giveBuffer(this.out);
      }
      this.out = grown;
      // The buffer is charged while it is lent, as on TCP (the budget may shed this connection).
      this.account();
      if (this.ending) return;
    }
    this.outLen = writeReply(this.out, this.outLen, frame);
    this.ends.push(this.outLen);
    if (!this.queued) {
      this.queued = true;
      dirty.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        queueMicrotask(flushDirty);
      }
    }
  }

  /** Sends the frames encoded this turn, one binary message each, in one cork (one write). */
  flush(): void {
    this.queued = false;
    if (this.gone || this.outLen === 0) return;
    const held = this.ws.getBufferedAmount();
    if (held + this.outLen > this.ctx.limits.maxOutboundBytes) {
      this.cut(
        "slow_consumer",
        `${held + this.outLen} bytes of output waiting (limit ${this.ctx.limits.maxOutboundBytes})`,
      );
      return;
    }
    this.sendStatus = 1;
    this.ws.cork(this.sendAll);
    this.outLen = 0;
    this.ends.length = 0;
    giveBuffer(this.out!);
    this.out = null;
    if (this.sendStatus === 0) {
      this.cut("slow_consumer", "output dropped under back-pressure");
      return;
    }
    this.buffered = this.ws.getBufferedAmount();
    if (this.sendStatus === -1 && this.buffered > PAUSE_OUTPUT_BYTES) this.pauseFor(PAUSED_BY_OUTPUT);
    this.account();
    // Requests held because this turn's output passed 64 KiB go on now that it is written
    // (no drain follows a write Bun took whole). Their answers are flushed in this same pass.
    if ((this.paused & PAUSED_BY_INBOX) !== 0 && !this.ending) this.deliver();
  }

  private refreshBuffered(): number {
    this.buffered = this.ws.getBufferedAmount();
    return this.buffered;
  }

  private sendQueued(): void {
    const out = this.out!;
    const ends = this.ends;
    let at = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i]!;
      const status = this.ws.sendBinary(out.subarray(at, end));
      // 0 is "dropped" only for a message with bytes (an empty frame sends nothing).
      if (status === 0 && end > at) this.sendStatus = 0;
      else if (status === -1 && this.sendStatus === 1) this.sendStatus = -1;
      at = end;
    }
  }

  close(): void {
    if (this.ending) return;
    this.ending = true; // nothing more is read or sent
    // What is encoded goes out first; Bun writes what it buffers before the close frame.
    if (this.queued) this.flush();
    if (this.gone || this.cutOff) return; // the flush cut it
    this.ws.close(WS_NORMAL);
    setTimeout(() => this.abort(), CLOSE_GRACE_MS).unref();
  }

  pause(): void {
    this.pauseFor(PAUSED_BY_CORE);
  }

  /** What a request costs its address beyond its message (a LIST page, an ACK's ids, a stored message). */
  charge(units: number): Promise<void> | undefined {
    return this.ctx.budget?.chargeAndWait(this.address, units, this.share);
  }

  resume(): void {
    this.resumeFor(PAUSED_BY_CORE);
    this.deliver();
  }

  abort(): void {
    if (this.gone) return;
    this.ws.terminate();
  }

  // --- internal ---

  private congested(): boolean {
    if (this.buffered + this.outLen > PAUSE_OUTPUT_BYTES) return true;
    const budget = this.ctx.budget;
    if (budget && !budget.mayGo(this.address, this.share)) {
      this.wakeWhenPaid();
      return true;
    }
    const s = this.session;
    return s.busy && (s.backlog?.length ?? 0) >= MAX_HANDED_BEHIND_BUSY;
  }

  private deliver(): void {
    const inbox = this.inbox;
    if (!inbox || this.delivering) return;
    this.delivering = true;
    let i = 0;
    try {
      while (i < inbox.length && !this.ending && !this.congested()) {
        const f = inbox[i++]!;
        this.inboxBytes -= f.length;
        this.pay(f);
        this.ctx.core.receive(this.session, f);
      }
    } finally {
      this.delivering = false;
    }
    if (this.inbox !== inbox) return;
    if (i === inbox.length || this.ending) {
      this.inbox = null;
      this.inboxBytes = 0;
      this.resumeFor(PAUSED_BY_INBOX);
    } else {
      // Held until the client reads, the core catches up or the address has paid.
      inbox.splice(0, i);
      this.pauseFor(PAUSED_BY_INBOX);
    }
    this.account();
  }

  /** A message costs its address one unit, and one more per BYTES_PER_UNIT of it (as on TCP). */
  private pay(message: Uint8Array): void {
    this.ctx.budget?.charge(this.address, 1 + message.length / BYTES_PER_UNIT, this.share);
  }

  /** If the address is what holds messages back, delivers them once it has paid. */
  private wakeWhenPaid(): void {
    const budget = this.ctx.budget;
    if (!budget || this.awaitingBudget) return;
    this.awaitingBudget = true;
    budget.whenMayGo(this.address, this.share, () => {
      this.awaitingBudget = false;
      this.deliver();
    });
  }

  private pauseFor(why: number): void {
    if (this.paused === 0 && !this.gone) this.ws.pause();
    this.paused |= why;
  }

  private resumeFor(why: number): void {
    if ((this.paused & why) === 0) return;
    this.paused &= ~why;
    if (this.paused === 0 && !this.gone) this.ws.resume();
  }

  /** Charges what this connection holds now (Bun's output buffer, messages held) to the budget. */
  private account(): void {
    const held = (this.gone ? 0 : this.buffered + (this.out?.length ?? 0)) + this.inboxBytes;
    if (held === this.held) return;
    const before = this.held;
    this.held = held;
    this.ctx.memory.change(this, before, held);
  }

  private release(): void {
    this.inbox = null;
    this.inboxBytes = 0;
    this.outLen = 0;
    this.ends.length = 0;
    if (this.out) giveBuffer(this.out);
    this.out = null;
    this.buffered = 0;
    const before = this.held;
    this.held = 0;
    if (before !== 0) this.ctx.memory.change(this, before, 0);
  }

  /** A limit was passed: the core hears of it, and the socket is cut at once. */
  private cut(limit: string, detail: string): void {
    this.ctx.core.limit(this.session, limit, detail);
    this.ending = true;
    this.cutOff = true;
    this.release();
    this.ws.terminate();
  }
}

/** The log's words for a WebSocket close (1005: the client gave no code). */
export function closeReason(code: number, reason: string): string {
  if (code === WS_NORMAL || code === 1005 || code === 1001) return reason ? `closed: ${reason}` : "closed";
  if (code === WS_TOO_BIG) return "closed: message too big";
  if (code === 1006) return "connection lost";
  return `closed with code ${code}${reason ? ` (${reason})` : ""}`;
}
