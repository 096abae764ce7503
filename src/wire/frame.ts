// Length-delimited framing: each frame is its byte length as a varint, then that many
// bytes (protobuf's writeDelimitedTo / encodeDelimited format). The decoder is a
// two-state machine (length, body) fed with whatever chunks the socket produced.

import { FrameTooLargeError, ProtocolError } from "./errors";
import { varintSize, writeVarint } from "./varint";

/** A 32-bit length needs at most 5 varint bytes; a longer prefix is malformed. */
const MAX_PREFIX_BYTES = 5;

const State = { length: 0, body: 1 } as const;
type State = (typeof State)[keyof typeof State];

export class FrameDecoder {
  private state: State = State.length;
  private length = 0;
  private shift = 0;
  private prefixBytes = 0;
  /** Body of a frame split across chunks; null while frames arrive whole. */
  private partial: Uint8Array | null = null;
  private filled = 0;

  constructor(readonly maxFrameBytes: number) {}

  /** Bytes read of the frame in progress (prefix and body) that are not yet a frame. */
  get waiting(): number {
    return this.state === State.body ? this.prefixBytes + this.filled : this.prefixBytes;
  }

  /**
   * Moves a frame in progress into a new decoder and starts this one clean: a server can
   * run one decoder for all connections and give a connection its own only while one of
   * its frames is split across reads.
   */
  split(): FrameDecoder {
    const d = new FrameDecoder(this.maxFrameBytes);
    d.state = this.state;
    d.length = this.length;
    d.shift = this.shift;
    d.prefixBytes = this.prefixBytes;
    d.partial = this.partial;
    d.filled = this.filled;
    this.reset();
    return d;
  }

  /**
   * Feeds one chunk; returns the frames it completed, in order. A frame that lies
   * wholly inside the chunk is a view into it (valid until the chunk is reused);
   * only a frame split across chunks is copied. Throws FrameTooLargeError as soon as
   * a prefix announces more than maxFrameBytes, and ProtocolError for a malformed
   * prefix; the decoder then starts clean, but the stream is lost: close it.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.state === State.length) {
        const byte = chunk[pos++]!;
        this.prefixBytes++;
        this.length += (byte & 0x7f) * 2 ** this.shift;
        this.shift += 7;
        if (this.length > this.maxFrameBytes) {
          this.fail(new FrameTooLargeError(this.length, this.maxFrameBytes, (byte & 0x80) === 0));
        }
        if (byte & 0x80) {
          if (this.prefixBytes >= MAX_PREFIX_BYTES) {
            this.fail(new ProtocolError(`frame length prefix is longer than ${MAX_PREFIX_BYTES} bytes`));
          }
          continue;
        }
        if (this.length === 0) {
          frames.push(chunk.subarray(pos, pos));
          this.reset();
          continue;
        }
        if (end - pos >= this.length) {
          frames.push(chunk.subarray(pos, pos + this.length));
          pos += this.length;
          this.reset();
          continue;
        }
        this.state = State.body;
        this.partial = new Uint8Array(this.length);
        this.filled = 0;
      }
      const take = Math.min(this.length - this.filled, end - pos);
      this.partial!.set(chunk.subarray(pos, pos + take), this.filled);
      this.filled += take;
      pos += take;
      if (this.filled === this.length) {
        frames.push(this.partial!);
        this.reset();
      }
    }
    return frames;
  }

  private reset(): void {
    this.state = State.length;
    this.length = 0;
    this.shift = 0;
    this.prefixBytes = 0;
    this.partial = null;
    this.filled = 0;
  }

  private fail(error: ProtocolError): never {
    this.reset();
    throw error;
  }
}

/** The frame for body: its length as a varint, then the body. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintSize(body.length) + body.length);
  out.set(body, writeVarint(out, 0, body.length));
  return out;
}
