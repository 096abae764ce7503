// The header a bench message starts with, so a receiver can check order and measure latency
// from the text alone.
import { utf8 } from "./client";

// A message is 64 characters by default: 32 hex digits carrying the send time (float64,
// performance.now()), the sequence number within the pair and the pair index, then filler.
const stamp = new Float64Array(1);
const stampBytes = new Uint8Array(stamp.buffer);
const HEX = utf8("0123456789abcdef");
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE[HEX[i]!] = i;

/** Sets the send time written by the following writeHeader calls: one clock read per batch. */
export function stampNow(): void {
  stamp[0] = performance.now();
}

export function writeHeader(text: Uint8Array, seq: number, pair: number): void {
  for (let i = 0; i < 8; i++) {
    text[2 * i] = HEX[stampBytes[i]! >> 4]!;
    text[2 * i + 1] = HEX[stampBytes[i]! & 15]!;
  }
  putU32(text, 16, seq);
  putU32(text, 24, pair);
}

function putU32(text: Uint8Array, at: number, v: number): void {
  for (let i = 7; i >= 0; i--) {
    text[at + i] = HEX[v & 15]!;
    v >>>= 4;
  }
}

function hexByte(buf: Uint8Array, at: number): number {
  return (HEX_VALUE[buf[at]!]! << 4) | HEX_VALUE[buf[at + 1]!]!;
}

export function getU32(buf: Uint8Array, at: number): number {
  let v = 0;
  for (let i = 0; i < 8; i++) v = v * 16 + HEX_VALUE[buf[at + i]!]!;
  return v;
}

export function readStamp(buf: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) stampBytes[i] = hexByte(buf, at + 2 * i);
  return stamp[0]!;
}
