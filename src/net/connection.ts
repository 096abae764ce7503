// One accepted socket: bytes in through the frame decoder to the core, frames out through
// a per-connection buffer written once per event-loop turn. Implements the core's Conn.
// What it buffers (output, a half-received frame) is charged to the server's memory budget;
// reading stops while its replies are not being read.

import type { Socket } from "bun";
import type { ChatCore } from "../core/chat";
import type { Conn, Session } from "../core/session";
import {
  type FrameDecoder,
  type ProtocolError,
  type ReplyInit,
  replySize,
  varintSize,
  writeReply,
  writeVarint,
} from "../wire";
import { type AddressBudget, BYTES_PER_UNIT, newShare, type Share } from "./address-budget";
import { giveBuffer, takeBuffer } from "./buffer-pool";
import { type Holder, type MemoryBudget, partialFrameBytes } from "./memory";

export interface ConnectionContext {
  core: ChatCore;
  /** Decodes for every connection of the listener whose last read ended on a frame boundary. */
  decoder: FrameDecoder;
  limits: ConnectionLimits;
  /** Output and partial input of every connection together. */
  memory: MemoryBudget;
  /** Called once when the socket has closed. */
  onGone(c: Connection): void;
  /** Work per client address: frames wait while their address is in debt. */
  budget: AddressBudget;
}

export interface ConnectionLimits {
  maxFrameBytes: number;
  /** Unsent output past this marks a slow consumer: the connection is dropped. */
  maxOutboundBytes: number;
}

/** Unsent output past this stops reading from the connection until the client reads. */
export const PAUSE_OUTPUT_BYTES = 64 * 1024;

/**
 * Requests queued in the core behind a busy one past which further frames already read are
 * held here instead: the core answers its whole queue, so what it is handed bounds the
 * output one client can make the server build up (8 × a 64 KiB page stays under 1 MiB).
 */
export const MAX_HANDED_BEHIND_BUSY = 8;

/** Why reading is paused: the core's backlog, unread output, frames held; resumes when none holds. */
const PAUSED_BY_CORE = 1;
const PAUSED_BY_OUTPUT = 2;
const PAUSED_BY_INBOX = 4;
const PAUSED_BY_HANDSHAKE = 8;

/** Connections with output waiting, written together once the current turn's work is done. */
const dirty: Connection[] = [];
let flushScheduled = false;
function flushDirty(): void {
  flushScheduled = false;
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

/**
 * The longest a frame sent with linger (a RECEIPT push) waits for other output to the same
 * connection before it is written on its own: a receipt then travels in the write of the
 * next answer instead of costing a write of its own (docs/PROTOCOL.md, "Delivery receipts").
 */
export const MAX_LINGER_MS = 10;

/** Connections whose output waits only for lingering frames; written when the timer fires. */
const lingering = new Set<Connection>();
/** One timer for all connections. */
let lingerScheduled = false;
function flushLingering(): void {
  lingerScheduled = false;
  const due = [...lingering];
  lingering.clear();
  for (const c of due) c.flush();
}

/** A socket that has not drained its output this long after close() is cut off. */
const CLOSE_GRACE_MS = 2000;

export class Connection implements Conn, Holder {
  readonly address: string;
  session!: Session;
  /** Bytes charged to the memory budget: output buffer capacity, a partial frame, held frames. */
  held = 0;
  private partial = 0;
  /** Whole frames read but not yet handed to the core (back-pressure), and their bytes. */
  private inbox: Uint8Array[] | null = null;
  private inboxBytes = 0;
  private delivering = false;
  private paused = 0;
  /** Handed to the core: after the TLS handshake, or at accept for plain TCP. */
  started = false;
  /** Own decoder only while a frame is split across reads; otherwise the listener's shared one. */
  private decoder: FrameDecoder | null = null;
  private out: Uint8Array | null = null;
  private outLen = 0;
  private blocked = false;
  private queued = false;
  /** In `lingering`: output waits for the next frame or the linger timer. */
  private lingers = false;
  private ending = false;
  private gone = false;
  /** Frames are held until this connection's address has paid its debt (see wakeWhenPaid). */
  private awaitingBudget = false;
  /** This connection's part of its address's budget. */
  private readonly share: Share;

  constructor(
    private readonly socket: Socket<Connection>,
    /** Shared by every connection of a listener: one field here instead of three. */
    private readonly ctx: ConnectionContext,
  ) {
    this.address = socket.remoteAddress;
    this.share = newShare(ctx.budget.now());
  }

  /**
   * Hands the connection to the core (HELLO is sent). acceptedAt (Date.now() when the socket
   * was accepted) starts the login timeout: a TLS handshake spends from it too.
   */
  start(acceptedAt = Date.now()): void {
    this.started = true;
    this.session = this.ctx.core.connect(this);
    if (acceptedAt < this.session.anonymousSince) this.session.anonymousSince = acceptedAt;
  }

  /**
   * A TLS socket just accepted: its handshake's cost is spent from the total budget, and
   * while the total does not let this address go on the socket is not read, so the
   * handshake waits (the handshake timeout still runs).
   */
  beforeHandshake(units: number): void {
    const budget = this.ctx.budget;
    budget.chargeTotal(this.address, units);
    if (budget.totalLets(this.address)) return;
    this.pauseFor(PAUSED_BY_HANDSHAKE);
    budget.whenTotalLets(
      this.address,
      () => this.resumeFor(PAUSED_BY_HANDSHAKE),
      () => this.gone,
    );
  }

  onData(chunk: Uint8Array): void {
    if (this.ending || !this.started) return;
    this.ctx.budget.charge(this.address, chunk.length / BYTES_PER_UNIT, this.share);
    let frames: Uint8Array[];
    try {
      const decoder = this.decoder ?? this.ctx.decoder;
      frames = decoder.push(chunk);
      const waiting = decoder.waiting;
      if (waiting === 0) this.decoder = null;
      else if (decoder === this.ctx.decoder) this.decoder = decoder.split();
      if (waiting !== 0 || this.partial !== 0) {
        this.partial = partialFrameBytes(chunk, waiting, this.partial, this.ctx.limits.maxFrameBytes);
        this.account();
      }
    } catch (error) {
      this.partial = 0;
      this.account();
      this.ctx.core.frameError(this.session, error as ProtocolError);
      return;
    }
    if (this.inbox) {
      this.hold(frames, 0);
      this.deliver();
      return;
    }
    for (let i = 0; i < frames.length && !this.ending; i++) {
      if (this.congested()) {
        this.hold(frames, i);
        return;
      }
      this.ctx.budget.charge(this.address, 1, this.share);
      this.ctx.core.receive(this.session, frames[i]!);
    }
  }

  /**
   * True while this client should not be handed more requests: its answers are not being
   * read, or the core already has a queue of them behind a busy request.
   */
  private congested(): boolean {
    if (this.outLen > PAUSE_OUTPUT_BYTES) return true;
    if (!this.ctx.budget.mayGo(this.address, this.share)) return true;
    const s = this.session;
    return s.busy && (s.backlog?.length ?? 0) >= MAX_HANDED_BEHIND_BUSY;
  }

  /** Keeps frames[from..] (copies: they are views into a chunk Bun reuses) and stops reading. */
  private hold(frames: Uint8Array[], from: number): void {
    if (from >= frames.length) return;
    this.inbox ??= [];
    for (let i = from; i < frames.length; i++) {
      this.inbox.push(frames[i]!.slice());
      this.inboxBytes += frames[i]!.length;
    }
    this.pauseFor(PAUSED_BY_INBOX);
    this.account();
    this.wakeWhenPaid();
  }

  /** If the address is what holds the frames back, delivers them once it has paid. */
  private wakeWhenPaid(): void {
    if (this.awaitingBudget || this.ctx.budget.mayGo(this.address, this.share)) return;
    this.awaitingBudget = true;
    this.ctx.budget.whenMayGo(this.address, this.share, () => {
      this.awaitingBudget = false;
      this.deliver();
    });
  }

  /** Hands held frames to the core while it can take them; reading resumes once all are in. */
  private deliver(): void {
    const inbox = this.inbox;
    if (!inbox || this.delivering) return;
    this.delivering = true;
    let i = 0;
    try {
      while (i < inbox.length && !this.ending && !this.congested()) {
        const f = inbox[i++]!;
        this.inboxBytes -= f.length;
        this.ctx.budget.charge(this.address, 1, this.share);
        this.ctx.core.receive(this.session, f);
      }
    } finally {
      this.delivering = false;
    }
    if (this.inbox !== inbox) return; // released meanwhile
    inbox.splice(0, i);
    if (inbox.length === 0 || this.ending) {
      this.inbox = null;
      this.inboxBytes = 0;
      this.resumeFor(PAUSED_BY_INBOX);
    } else this.wakeWhenPaid();
    this.account();
  }

  onDrain(): void {
    this.blocked = false;
    this.flush();
  }

  onClose(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.release();
    if (this.started) this.ctx.core.disconnected(this.session, reason);
    this.ctx.onGone(this);
  }

  /** Over the memory budget and among the largest holders: cut. */
  shed(why: string): void {
    if (this.started) this.ctx.core.limit(this.session, "memory", why);
    this.ending = true;
    this.release();
    this.socket.terminate();
  }

  // --- Conn ---

  charge(units: number): Promise<void> | undefined {
    return this.ctx.budget.chargeAndWait(this.address, units, this.share);
  }

  /** linger: the frame may wait up to MAX_LINGER_MS for other output to go with it. */
  send(frame: ReplyInit, linger = false): void {
    if (this.gone) return;
    const size = replySize(frame);
    const need = this.outLen + varintSize(size) + size;
    if (need > this.ctx.limits.maxOutboundBytes) {
      this.slowConsumer(need);
      return;
    }
    if (!this.out) {
      this.out = takeBuffer(need);
    } else if (need > this.out.length) {
      const grown = takeBuffer(Math.max(need, this.out.length * 2));
      grown.set(this.out.subarray(0, this.outLen));
      giveBuffer(this.out);
      this.out = grown;
    }
    this.outLen = writeReply(this.out, writeVarint(this.out, this.outLen, size), frame);
    this.account();
    if (this.queued) return;
    if (!linger) this.queue();
    else if (!this.lingers) {
      this.lingers = true;
      lingering.add(this);
      if (!lingerScheduled) {
        lingerScheduled = true;
        setTimeout(flushLingering, MAX_LINGER_MS);
      }
    }
  }

  close(): void {
    if (this.ending) return;
    this.ending = true;
    if (this.outLen === 0 && !this.queued) this.socket.end();
    else if (!this.queued) this.queue(); // lingering output goes now, then the socket ends
    setTimeout(() => this.abort(), CLOSE_GRACE_MS).unref();
  }

  pause(): void {
    this.pauseFor(PAUSED_BY_CORE);
  }

  resume(): void {
    this.resumeFor(PAUSED_BY_CORE);
    // The core calls this when its queue has run: held frames may go in now.
    this.deliver();
  }

  /** Cuts the connection at once (no goodbye). */
  abort(): void {
    if (this.gone) return;
    this.socket.terminate();
  }

  // --- internal ---

  flush(): void {
    this.queued = false;
    this.unlinger();
    if (this.gone || this.blocked) return;
    if (this.outLen > 0) {
      const n = this.socket.write(this.out!, 0, this.outLen);
      if (n < 0) return; // closed; the close callback follows
      if (n < this.outLen) {
        this.out!.copyWithin(0, n, this.outLen);
        this.outLen -= n;
        this.blocked = true;
        // Back-pressure: a client that does not read its answers gets no more read.
        if (this.outLen > PAUSE_OUTPUT_BYTES) this.pauseFor(PAUSED_BY_OUTPUT);
        return;
      }
      this.outLen = 0;
      giveBuffer(this.out!);
      this.out = null;
      this.account();
    }
    this.resumeFor(PAUSED_BY_OUTPUT);
    this.deliver();
    if (this.ending) this.socket.end();
  }

  /** Written at the end of this event-loop turn, with whatever else it has by then. */
  private queue(): void {
    this.queued = true;
    dirty.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flushDirty);
    }
  }

  private unlinger(): void {
    if (!this.lingers) return;
    this.lingers = false;
    lingering.delete(this);
  }

  private pauseFor(why: number): void {
    if (this.paused === 0) this.socket.pause();
    this.paused |= why;
  }

  private resumeFor(why: number): void {
    if ((this.paused & why) === 0) return;
    this.paused &= ~why;
    if (this.paused === 0 && !this.gone) this.socket.resume();
  }

  /** Brings the memory budget up to date with what this connection holds now. */
  private account(): void {
    const held = (this.out?.length ?? 0) + this.partial + this.inboxBytes;
    if (held === this.held) return;
    const before = this.held;
    this.held = held;
    this.ctx.memory.change(this, before, held);
  }

  /** Gives back every buffer (closed or cut). */
  private release(): void {
    this.unlinger();
    this.outLen = 0;
    if (this.out) giveBuffer(this.out);
    this.out = null;
    this.partial = 0;
    this.decoder = null;
    this.inbox = null;
    this.inboxBytes = 0;
    this.account();
  }

  private slowConsumer(need: number): void {
    this.ctx.core.limit(
      this.session,
      "slow_consumer",
      `${need} bytes of output waiting (limit ${this.ctx.limits.maxOutboundBytes})`,
    );
    this.ending = true;
    this.release();
    this.socket.terminate();
  }
}
