// One accepted socket: bytes in through the frame decoder to the core, frames out through
// a per-connection buffer written once per event-loop turn. Implements the core's Conn.

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

export interface ConnectionContext {
  core: ChatCore;
  /** Decodes for every connection of the listener whose last read ended on a frame boundary. */
  decoder: FrameDecoder;
  limits: ConnectionLimits;
  /** Called once when the socket has closed. */
  onGone(c: Connection): void;
}

export interface ConnectionLimits {
  maxFrameBytes: number;
  /** Unsent output past this marks a slow consumer: the connection is dropped. */
  maxOutboundBytes: number;
}

/** Connections with output waiting, written together once the current turn's work is done. */
const dirty: Connection[] = [];
let flushScheduled = false;
function flushDirty(): void {
  flushScheduled = false;
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

/** A socket that has not drained its output this long after close() is cut off. */
const CLOSE_GRACE_MS = 2000;

/**
 * Output buffers are lent only while a connection has bytes to write, so an idle
 * connection holds none (memory per connection) and a busy one does not allocate per turn.
 */
const BUFFER_BYTES = 16 * 1024;
const pool: Uint8Array[] = [];
const POOL_MAX = 256;
function takeBuffer(min: number): Uint8Array {
  // Buffers (not plain Uint8Arrays): the reply writer uses Buffer's native UTF-8 writes.
  if (min <= BUFFER_BYTES) return pool.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES);
  return Buffer.allocUnsafeSlow(min);
}
function giveBuffer(buf: Uint8Array): void {
  if (buf.length === BUFFER_BYTES && pool.length < POOL_MAX) pool.push(buf);
}

export class Connection implements Conn {
  readonly address: string;
  session!: Session;
  /** Own decoder only while a frame is split across reads; otherwise the listener's shared one. */
  private decoder: FrameDecoder | null = null;
  private out: Uint8Array | null = null;
  private outLen = 0;
  private blocked = false;
  private queued = false;
  private ending = false;
  private gone = false;

  constructor(
    private readonly socket: Socket<Connection>,
    /** Shared by every connection of a listener: one field here instead of three. */
    private readonly ctx: ConnectionContext,
  ) {
    this.address = socket.remoteAddress;
  }

  start(): void {
    this.session = this.ctx.core.connect(this);
  }

  onData(chunk: Uint8Array): void {
    if (this.ending) return;
    let frames: Uint8Array[];
    try {
      const decoder = this.decoder ?? this.ctx.decoder;
      frames = decoder.push(chunk);
      if (decoder.waiting === 0) this.decoder = null;
      else if (decoder === this.ctx.decoder) this.decoder = decoder.split();
    } catch (error) {
      this.ctx.core.frameError(this.session, error as ProtocolError);
      return;
    }
    for (let i = 0; i < frames.length && !this.ending; i++) this.ctx.core.receive(this.session, frames[i]!);
  }

  onDrain(): void {
    this.blocked = false;
    this.flush();
  }

  onClose(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.ctx.core.disconnected(this.session, reason);
    this.ctx.onGone(this);
  }

  // --- Conn ---

  send(frame: ReplyInit): void {
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
    if (!this.queued) {
      this.queued = true;
      dirty.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        queueMicrotask(flushDirty);
      }
    }
  }

  close(): void {
    if (this.ending) return;
    this.ending = true;
    if (this.outLen === 0 && !this.queued) this.socket.end();
    setTimeout(() => this.abort(), CLOSE_GRACE_MS).unref();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Cuts the connection at once (no goodbye). */
  abort(): void {
    if (this.gone) return;
    this.socket.terminate();
  }

  // --- internal ---

  flush(): void {
    this.queued = false;
    if (this.gone || this.blocked) return;
    if (this.outLen > 0) {
      const n = this.socket.write(this.out!.subarray(0, this.outLen));
      if (n < 0) return; // closed; the close callback follows
      if (n < this.outLen) {
        this.out!.copyWithin(0, n, this.outLen);
        this.outLen -= n;
        this.blocked = true;
        return;
      }
      this.outLen = 0;
      giveBuffer(this.out!);
      this.out = null;
    }
    if (this.ending) this.socket.end();
  }

  private slowConsumer(need: number): void {
    this.ctx.core.limit(
      this.session,
      "slow_consumer",
      `${need} bytes of output waiting (limit ${this.ctx.limits.maxOutboundBytes})`,
    );
    this.ending = true;
    this.outLen = 0;
    if (this.out) giveBuffer(this.out);
    this.out = null;
    this.socket.terminate();
  }
}
