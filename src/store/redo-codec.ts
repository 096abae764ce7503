// The redo log's format: what the SQLite store's hot path changed in one event-loop turn,
// as the statements it ran and their arguments, so that replaying them in order on the last
// committed file gives the state the clients were answered for. Pure encoding; the file is
// redo-log.ts.
//
// File:   "CHATREDO" · u32 format · u32 schema version · f64 epoch (the data file's, from meta)
// Frame:  u32 payload bytes · u32 CRC-32 of the payload · payload
// Payload: f64 seq · records…
// Record: u8 DEFINE · u16 statement · u32 bytes · SQL (UTF-8)   (once per statement per file)
//         u8 RUN · u16 statement · u16 argc · args…
// Arg:    u8 NULL | u8 NUMBER f64 | u8 TEXT u32 bytes UTF-8 | u8 BLOB u32 bytes raw
// A frame that is short or fails its CRC ends the log: it was being written when the
// process died, and nobody was answered for it.

export type RedoValue = number | string | null | Uint8Array;

export const REDO_MAGIC = "CHATREDO";
export const REDO_FORMAT = 1;
export const REDO_HEADER_BYTES = 24;
const FRAME_HEADER = 8;
const SEQ_BYTES = 8;
/** The writer's buffer to start with, and the most it keeps once a large frame is written. */
const BUFFER_BYTES = 16 * 1024;
const KEEP_BYTES = 1024 * 1024;

const DEFINE = 1;
const RUN = 2;
const NULL = 0;
const NUMBER = 1;
const TEXT = 2;
const BLOB = 3;

export interface RedoHeader {
  format: number;
  schemaVersion: number;
  epoch: number;
}

export function encodeHeader(h: Omit<RedoHeader, "format">): Buffer {
  const b = Buffer.alloc(REDO_HEADER_BYTES);
  b.write(REDO_MAGIC, 0, "latin1");
  b.writeUInt32LE(REDO_FORMAT, 8);
  b.writeUInt32LE(h.schemaVersion, 12);
  b.writeDoubleLE(h.epoch, 16);
  return b;
}

/** The header of a redo file, or null if it does not start with one. */
export function decodeHeader(b: Uint8Array): RedoHeader | null {
  if (b.length < REDO_HEADER_BYTES) return null;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  if (buf.toString("latin1", 0, 8) !== REDO_MAGIC) return null;
  return { format: buf.readUInt32LE(8), schemaVersion: buf.readUInt32LE(12), epoch: buf.readDoubleLE(16) };
}

/** Strings up to this many UTF-16 units are tried as ASCII first (see value()). */
const SHORT_TEXT = 128;

/** A number's eight bytes as the host stores them: little-endian, as the format's, on the hosts Bun runs on. */
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Builds one frame at a time: records are added as statements run, finish() seals them. */

export class FrameWriter {
  private buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private at = FRAME_HEADER + SEQ_BYTES;
  private runs = 0;
  private readonly defined = new Set<number>();
  /** Statements first defined in the open frame: undefined again if it is discarded. */
  private readonly openDefs: number[] = [];

  /** Records of the open frame (RUN records; definitions do not count). */
  get records(): number {
    return this.runs;
  }

  /** Bytes of the open frame so far. */
  get bytes(): number {
    return this.at;
  }

  /** Records that statement `index` (with SQL `sql`) ran with `args`. */
  run(index: number, sql: string, args: readonly unknown[]): void {
    // A large batch grew the buffer: a new frame starts in a small one again (a view that
    // finish() returned keeps the old one alive for as long as it is used).
    if (this.at === FRAME_HEADER + SEQ_BYTES && this.buf.length > KEEP_BYTES)
      this.buf = Buffer.allocUnsafe(BUFFER_BYTES);
    if (!this.defined.has(index)) this.define(index, sql);
    if (args.length > 0xffff)
      throw new RangeError("the redo log records at most 65,535 arguments per statement");
    this.room(5);
    const buf = this.buf;
    const at = this.at;
    const argc = args.length;
    // Byte stores: Buffer's writeUInt16LE is a call each, on a path taken for every row.
    buf[at] = RUN;
    buf[at + 1] = index & 0xff;
    buf[at + 2] = index >>> 8;
    buf[at + 3] = argc & 0xff;
    buf[at + 4] = argc >>> 8;
    this.at = at + 5;
    for (let i = 0; i < argc; i++) this.value(args[i]);
    this.runs++;
  }

  /** Statement `index`'s SQL, once per file: a method of its own keeps run() small to compile. */
  private define(index: number, sql: string): void {
    this.defined.add(index);
    this.openDefs.push(index);
    const n = Buffer.byteLength(sql);
    this.room(7 + n);
    this.buf[this.at] = DEFINE;
    this.buf.writeUInt16LE(index, this.at + 1);
    this.buf.writeUInt32LE(n, this.at + 3);
    this.buf.write(sql, this.at + 7, "utf8");
    this.at += 7 + n;
  }

  /** Seals the open frame as number `seq`; the view is valid until the next call. */
  finish(seq: number): Uint8Array {
    const len = this.at - FRAME_HEADER;
    const buf = this.buf;
    buf.writeDoubleLE(seq, FRAME_HEADER);
    buf.writeUInt32LE(len, 0);
    // Plain views: a Buffer's subarray costs about twice as much (it makes a Buffer).
    buf.writeUInt32LE(Bun.hash.crc32(new Uint8Array(buf.buffer, buf.byteOffset + FRAME_HEADER, len)), 4);
    const frame = new Uint8Array(buf.buffer, buf.byteOffset, this.at);
    this.at = FRAME_HEADER + SEQ_BYTES;
    this.runs = 0;
    this.openDefs.length = 0;
    return frame;
  }

  /** Drops the open frame's records (its turn failed, or was committed another way). */
  discard(): void {
    this.at = FRAME_HEADER + SEQ_BYTES;
    this.runs = 0;
    for (const i of this.openDefs) this.defined.delete(i);
    this.openDefs.length = 0;
  }

  /** The file starts again empty: every statement is defined anew in it. */
  restart(): void {
    this.discard();
    this.defined.clear();
  }

  private value(a: unknown): void {
    if (a === null || a === undefined) {
      this.room(1);
      this.buf[this.at++] = NULL;
    } else if (typeof a === "number") {
      this.room(9);
      const buf = this.buf;
      const at = this.at;
      buf[at] = NUMBER;
      if (LITTLE_ENDIAN) {
        F64[0] = a;
        for (let i = 0; i < 8; i++) buf[at + 1 + i] = F64_BYTES[i]!;
      } else buf.writeDoubleLE(a, at + 1);
      this.at = at + 9;
    } else if (typeof a === "string") {
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      const len = a.length;
      this.room(5 + 3 * len);
      const buf = this.buf;
      const at = this.at;
      buf[at] = TEXT;
      // A short ASCII string (names, most texts) is copied by a loop: cheaper than the call.
      let n = 0;
      if (len <= SHORT_TEXT)
        for (; n < len; n++) {
          const c = a.charCodeAt(n);
          if (c >= 0x80) break;
          buf[at + 5 + n] = c;
        }
      if (n < len) n = buf.write(a, at + 5, "utf8");
      buf[at + 1] = n & 0xff;
      buf[at + 2] = (n >>> 8) & 0xff;
      buf[at + 3] = (n >>> 16) & 0xff;
      buf[at + 4] = n >>> 24;
      this.at = at + 5 + n;
    } else if (a instanceof Uint8Array) {
      this.room(5 + a.length);
      this.buf[this.at] = BLOB;
      this.buf.writeUInt32LE(a.length, this.at + 1);
      this.buf.set(a, this.at + 5);
      this.at += 5 + a.length;
    } else {
      throw new TypeError(`the redo log cannot record a ${typeof a} argument`);
    }
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

export interface RedoFrame {
  seq: number;
  /** Where the next frame starts in the log. */
  end: number;
  runs: { sql: string; args: RedoValue[] }[];
}

/**
 * The whole frames of a log, from `from` (just after the header) on, in order; stops at the
 * first frame that is short, fails its CRC or cannot be read. `end` of the last one is where
 * the next write belongs.
 */
export function decodeFrames(log: Uint8Array, from = REDO_HEADER_BYTES): RedoFrame[] {
  const b = Buffer.from(log.buffer, log.byteOffset, log.length);
  const frames: RedoFrame[] = [];
  const sqls = new Map<number, string>();
  let at = from;
  while (at + FRAME_HEADER + SEQ_BYTES <= b.length) {
    const len = b.readUInt32LE(at);
    const end = at + FRAME_HEADER + len;
    if (len < SEQ_BYTES || end > b.length) break;
    if (Bun.hash.crc32(b.subarray(at + FRAME_HEADER, end)) !== b.readUInt32LE(at + 4)) break;
    const frame = decodePayload(b, at + FRAME_HEADER, end, sqls);
    if (!frame) break;
    frames.push({ ...frame, end });
    at = end;
  }
  return frames;
}

function decodePayload(
  b: Buffer,
  start: number,
  end: number,
  sqls: Map<number, string>,
): Omit<RedoFrame, "end"> | null {
  const seq = b.readDoubleLE(start);
  const runs: RedoFrame["runs"] = [];
  let at = start + SEQ_BYTES;
  const need = (n: number) => at + n <= end;
  while (at < end) {
    const kind = b[at];
    if (!need(4)) return null;
    const index = b.readUInt16LE(at + 1);
    if (kind === DEFINE) {
      if (!need(7)) return null;
      const n = b.readUInt32LE(at + 3);
      if (!need(7 + n)) return null;
      sqls.set(index, b.toString("utf8", at + 7, at + 7 + n));
      at += 7 + n;
      continue;
    }
    const sql = sqls.get(index);
    if (kind !== RUN || sql === undefined || !need(5)) return null;
    const argc = b.readUInt16LE(at + 3);
    at += 5;
    const args: RedoValue[] = [];
    for (let i = 0; i < argc; i++) {
      if (!need(1)) return null;
      const tag = b[at]!;
      if (tag === NULL) {
        args.push(null);
        at += 1;
      } else if (tag === NUMBER) {
        if (!need(9)) return null;
        args.push(b.readDoubleLE(at + 1));
        at += 9;
      } else if (tag === TEXT || tag === BLOB) {
        if (!need(5)) return null;
        const n = b.readUInt32LE(at + 1);
        if (!need(5 + n)) return null;
        args.push(
          tag === TEXT
            ? b.toString("utf8", at + 5, at + 5 + n)
            : new Uint8Array(b.subarray(at + 5, at + 5 + n)),
        );
        at += 5 + n;
      } else {
        return null;
      }
    }
    runs.push({ sql, args });
  }
  return { seq, runs };
}
