// Base-128 varints, as protobuf writes lengths: 7 bits per byte, least significant
// group first, high bit set on every byte but the last. Numbers up to 2^53.

/** Bytes needed to write n (0 <= n < 2^53) as a varint. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 2 ** 35) return 5;
  if (n < 2 ** 42) return 6;
  if (n < 2 ** 49) return 7;
  return 8;
}

/** Writes n at out[offset]; returns the offset after it. */
export function writeVarint(out: Uint8Array, offset: number, n: number): number {
  // Above 2^31 bit operations would wrap: peel those bytes off with division first.
  while (n > 0x7fffffff) {
    out[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  while (n >= 0x80) {
    out[offset++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[offset++] = n;
  return offset;
}
