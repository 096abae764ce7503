// A lean WebSocket client (RFC 6455) on a plain TCP socket, for the load generator: every
// frame of a flush masked into one buffer and written at once, every frame of a read parsed
// in place. Bun's built-in WebSocket client dispatches an event and allocates a buffer per
// message, which on a small machine takes the CPU the server under test needs.

import { createHash, randomBytes } from "node:crypto";
import type { Socket } from "bun";
import { framePrefix } from "./lite";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OP_CONT = 0;
const OP_TEXT = 1;
const OP_BINARY = 2;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;

/** The Sec-WebSocket-Accept a server must answer for key. */
export function acceptFor(key: string): string {
  return createHash("sha1")
    .update(key + GUID)
    .digest("base64");
}

/** The opening handshake request. */
export function upgradeRequest(hostPort: string, key: string, origin: string): string {
  return (
    `GET /ws HTTP/1.1\r\nHost: ${hostPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nOrigin: ${origin}\r\n\r\n`
  );
}

/** Checks the handshake answer (head: up to the blank line); returns why it is refused, or null. */
export function checkUpgrade(head: string, key: string): string | null {
  const status = /^HTTP\/1\.1 (\d{3})[^\r\n]*/.exec(head);
  if (!status) return "the answer is not HTTP/1.1";
  if (status[1] !== "101") return `the server answered ${status[0].slice(9)}`;
  const accept = /\r\nsec-websocket-accept:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim();
  if (accept !== acceptFor(key)) return "the server's Sec-WebSocket-Accept does not match the key";
  return null;
}

/** Masked client frames: one per length-prefixed frame of `frames`, into out from `at`; returns the end. */
export function maskFrames(frames: Uint8Array, out: Uint8Array, at: number, mask: () => number): number {
  let p = 0;
  let o = at;
  while (p < frames.length) {
    const f = framePrefix(frames, p, frames.length);
    if (!f) break;
    const [len, body] = f;
    out[o++] = 0x80 | OP_BINARY;
    if (len < 126) out[o++] = 0x80 | len;
    else if (len < 65536) {
      out[o++] = 0x80 | 126;
      out[o++] = len >> 8;
      out[o++] = len & 0xff;
    } else {
      out[o++] = 0x80 | 127;
      for (let i = 7; i >= 0; i--) out[o++] = i >= 4 ? 0 : (len >>> (8 * i)) & 0xff;
    }
    const m = mask();
    const k = [m >>> 24, (m >>> 16) & 0xff, (m >>> 8) & 0xff, m & 0xff];
    out.set(k, o);
    o += 4;
    for (let i = 0; i < len; i++) out[o + i] = frames[body + i]! ^ k[i & 3]!;
    o += len;
    p = body + len;
  }
  return o;
}

/** Room maskFrames needs at most for these frames: 14 header bytes each, plus the bodies. */
export function maskedBound(frames: Uint8Array): number {
  return frames.length * 15 + 14;
}

export interface ServerFrame {
  opcode: number;
  fin: boolean;
  start: number;
  end: number;
}

/** One server frame at buf[p] (servers do not mask), or null if incomplete; throws on a masked one. */
export function readServerFrame(
  buf: Uint8Array,
  p: number,
  end: number,
): (ServerFrame & { next: number }) | null {
  if (end - p < 2) return null;
  const b0 = buf[p]!;
  const b1 = buf[p + 1]!;
  if (b1 & 0x80) throw new Error("the server sent a masked WebSocket frame");
  let len = b1 & 0x7f;
  let q = p + 2;
  if (len === 126) {
    if (end - q < 2) return null;
    len = (buf[q]! << 8) | buf[q + 1]!;
    q += 2;
  } else if (len === 127) {
    if (end - q < 8) return null;
    len = 0;
    for (let i = 0; i < 8; i++) len = len * 256 + buf[q + i]!;
    q += 8;
  }
  if (end - q < len) return null;
  return { opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, start: q, end: q + len, next: q + len };
}

export interface WsWireEvents {
  message(body: Uint8Array): void;
  closed(error?: Error): void;
}

/** Opens a WebSocket to ws://hostPort/ws; resolves once the server accepted the upgrade. */
export async function openRawWs(
  host: string,
  port: number,
  hostPort: string,
  origin: string,
  ev: WsWireEvents,
): Promise<{ write(frames: Uint8Array): number; end(): void; terminate(): void }> {
  const key = randomBytes(16).toString("base64");
  let upgraded = false;
  let failed: ((e: Error) => void) | null = null;
  let ready: (() => void) | null = null;
  let carry: Uint8Array | null = null;
  let pending: Uint8Array | null = null;
  let fragments: Uint8Array[] = [];
  let closed = false;
  /** Our closing frame went out: the server's answer to it needs none. */
  let ending = false;
  let seed = randomBytes(4).readUInt32LE(0) | 1;
  const mask = () => {
    // xorshift32: masks vary per frame without a syscall each.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  let out = new Uint8Array(16 * 1024);
  let sock!: Socket<undefined>;

  const send = (bytes: Uint8Array) => {
    if (closed) return;
    if (pending) {
      const joined = new Uint8Array(pending.length + bytes.length);
      joined.set(pending);
      joined.set(bytes, pending.length);
      pending = joined;
      return;
    }
    const n = sock.write(bytes);
    if (n < bytes.length) pending = bytes.slice(Math.max(0, n));
  };
  const control = (opcode: number, body: Uint8Array) => {
    const frame = new Uint8Array(6 + body.length);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | body.length;
    const m = mask();
    const k = [m >>> 24, (m >>> 16) & 0xff, (m >>> 8) & 0xff, m & 0xff];
    frame.set(k, 2);
    for (let i = 0; i < body.length; i++) frame[6 + i] = body[i]! ^ k[i & 3]!;
    send(frame);
  };
  const gone = (error?: Error) => {
    if (closed) return;
    closed = true;
    if (failed) failed(error ?? new Error("the connection closed during the WebSocket handshake"));
    else ev.closed(error);
  };

  const onData = (chunk: Uint8Array) => {
    let buf = chunk;
    if (carry) {
      buf = new Uint8Array(carry.length + chunk.length);
      buf.set(carry);
      buf.set(chunk, carry.length);
      carry = null;
    }
    let p = 0;
    if (!upgraded) {
      const text = Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString("latin1");
      const headEnd = text.indexOf("\r\n\r\n");
      // A chat TCP port speaks first, and not HTTP: say so rather than wait for a header.
      const notHttp = text.length >= 5 && !text.startsWith("HTTP/");
      if (notHttp || headEnd >= 0) {
        const why = notHttp
          ? "the answer is not HTTP (a chat TCP port, not a --web-port?)"
          : checkUpgrade(text.slice(0, headEnd), key);
        if (why) {
          const f = failed;
          failed = null;
          closed = true;
          sock.terminate();
          f?.(new Error(`WebSocket to ${hostPort}/ws refused: ${why}`));
          return;
        }
      }
      if (headEnd < 0) {
        carry = buf.slice();
        return;
      }
      upgraded = true;
      failed = null;
      ready?.();
      p = headEnd + 4;
    }
    while (p < buf.length) {
      const f = readServerFrame(buf, p, buf.length);
      if (!f) break;
      p = f.next;
      const body = buf.subarray(f.start, f.end);
      if (f.opcode === OP_BINARY || f.opcode === OP_TEXT || f.opcode === OP_CONT) {
        if (f.fin && !fragments.length) {
          if (f.opcode !== OP_TEXT) ev.message(body);
          continue;
        }
        fragments.push(body.slice());
        if (f.fin) {
          const whole = Buffer.concat(fragments);
          fragments = [];
          ev.message(new Uint8Array(whole.buffer, whole.byteOffset, whole.length));
        }
      } else if (f.opcode === OP_PING) control(OP_PONG, body);
      else if (f.opcode === OP_CLOSE) {
        if (!ending) control(OP_CLOSE, body.subarray(0, 2));
        ending = true;
        sock.end();
      }
    }
    if (p < buf.length) carry = buf.slice(p);
  };

  await new Promise<void>((resolve, reject) => {
    failed = reject;
    ready = resolve;
    Bun.connect<undefined>({
      hostname: host,
      port,
      socket: {
        open: (s) => {
          sock = s;
          s.setNoDelay(true);
          s.write(upgradeRequest(hostPort, key, origin));
        },
        data: (_s, d) => onData(d),
        drain: () => {
          const p = pending;
          pending = null;
          if (p) send(p);
        },
        close: (_s, e) => gone(e ?? undefined),
        error: (_s, e) => gone(e),
      },
    }).catch((e) => gone(e as Error));
  });

  return {
    write(frames) {
      if (closed) return -1;
      const need = maskedBound(frames);
      if (out.length < need) out = new Uint8Array(need);
      send(out.subarray(0, maskFrames(frames, out, 0, mask)));
      return frames.length;
    },
    end() {
      if (ending || closed) return;
      ending = true;
      control(OP_CLOSE, new Uint8Array([0x03, 0xe8])); // 1000, normal closure
    },
    terminate: () => sock.terminate(),
  };
}
