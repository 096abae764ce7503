// One WebSocket client: each binary message in is one protobuf frame (no length prefix) for
// the core, each frame out is one binary message. Implements the core's Conn like the TCP
// Connection, with the same limits: output waiting for the client counts against the
// per-connection cap and the server's memory budget, reading stops while the client does
// not read its answers or the core has a queue of its requests, and a client whose output
// passes the cap is dropped.

import type { ServerWebSocket } from "bun";
import type { ChatCore } from "../core/chat";
import type { Conn, Session } from "../core/session";
import { encodeReply, ProtocolError, type ReplyInit, replySize, Status } from "../wire";
import { type AddressBudget, BYTES_PER_UNIT, newShare, type Share } from "./address-budget";
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

export class WsConnection implements Conn, Holder {
  readonly address: string;
  session!: Session;
  held = 0;
  private inbox: Uint8Array[] | null = null;
  private inboxBytes = 0;
  private delivering = false;
  private paused = 0;
  private ending = false;
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
      this.ctx.core.frameError(
        this.session,
        new ProtocolError(
          "text WebSocket message: the chat protocol is carried in binary messages, one protobuf frame each",
        ),
      );
      return;
    }
    if (this.inbox || this.congested()) {
      this.inbox ??= [];
      this.inbox.push(message);
      this.inboxBytes += message.length;
      this.pauseFor(PAUSED_BY_INBOX);
      this.account();
      if (this.inboxBytes > MAX_INBOX_BYTES) {
        this.cut("backlog", `more than ${MAX_INBOX_BYTES} bytes of requests read while reading was paused`);
        return;
      }
      this.deliver();
      return;
    }
    this.pay(message);
    this.ctx.core.receive(this.session, message);
  }

  onDrain(): void {
    this.account();
    if (this.ws.getBufferedAmount() <= PAUSE_OUTPUT_BYTES) this.resumeFor(PAUSED_BY_OUTPUT);
    this.deliver();
  }

  /** code: the WebSocket close code (1009: a message over maxPayloadLength). */
  onClose(code: number, reason: string): void {
    if (this.gone) return;
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
    if (this.gone) return;
    const size = replySize(frame);
    const need = this.ws.getBufferedAmount() + size;
    if (need > this.ctx.limits.maxOutboundBytes) {
      this.cut(
        "slow_consumer",
        `${need} bytes of output waiting (limit ${this.ctx.limits.maxOutboundBytes})`,
      );
      return;
    }
    const status = this.ws.sendBinary(encodeReply(frame));
    if (status === 0 && size > 0) {
      this.cut("slow_consumer", "output dropped under back-pressure");
      return;
    }
    if (status === -1 && this.ws.getBufferedAmount() > PAUSE_OUTPUT_BYTES) this.pauseFor(PAUSED_BY_OUTPUT);
    this.account();
  }

  close(): void {
    if (this.ending) return;
    this.ending = true;
    // Bun writes what is buffered before the close frame.
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
    if (this.ws.getBufferedAmount() > PAUSE_OUTPUT_BYTES) return true;
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
    inbox.splice(0, i);
    if (inbox.length === 0 || this.ending) {
      this.inbox = null;
      this.inboxBytes = 0;
      this.resumeFor(PAUSED_BY_INBOX);
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
    const held = (this.gone ? 0 : this.ws.getBufferedAmount()) + this.inboxBytes;
    if (held === this.held) return;
    const before = this.held;
    this.held = held;
    this.ctx.memory.change(this, before, held);
  }

  private release(): void {
    this.inbox = null;
    this.inboxBytes = 0;
    const before = this.held;
    this.held = 0;
    if (before !== 0) this.ctx.memory.change(this, before, 0);
  }

  /** A limit was passed: the core hears of it, and the socket is cut at once. */
  private cut(limit: string, detail: string): void {
    this.ctx.core.limit(this.session, limit, detail);
    this.ending = true;
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
