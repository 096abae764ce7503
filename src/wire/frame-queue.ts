// Frames kept as the bytes they came in, in order: what a connection has read beyond its
// backlog while a request runs. One buffer holds them all, each behind its length as a
// varint, so a waiting frame costs its size plus a byte or two, not an object.

import { varintSize, writeVarint } from "./varint";

export class FrameQueue {
  private buf = new Uint8Array(0);
  private head = 0;
  private tail = 0;
  /** Frames waiting. */
  length = 0;

  /** Bytes held, length prefixes included. */
  get bytes(): number {
    return this.tail - this.head;
  }

  /** Copies body in at the end. */
  push(body: Uint8Array): void {
    const need = varintSize(body.length) + body.length;
    if (this.tail + need > this.buf.length) this.makeRoom(need);
    this.tail = writeVarint(this.buf, this.tail, body.length);
    this.buf.set(body, this.tail);
    this.tail += body.length;
    this.length++;
  }

  /** The oldest frame, or null; a view that stays valid until the next push. */
  shift(): Uint8Array | null {
    if (this.length === 0) return null;
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.head++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    const body = this.buf.subarray(this.head, this.head + n);
    this.head += n;
    if (--this.length === 0) this.head = this.tail = 0;
    return body;
  }

  private makeRoom(need: number): void {
    const used = this.tail - this.head;
    if (used + need <= this.buf.length && this.head > 0) {
      this.buf.copyWithin(0, this.head, this.tail);
    } else {
      const grown = new Uint8Array(Math.max(1024, 2 * (used + need)));
      grown.set(this.buf.subarray(this.head, this.tail));
      this.buf = grown;
    }
    this.head = 0;
    this.tail = used;
  }
}
