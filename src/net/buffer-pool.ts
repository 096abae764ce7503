// Output buffers, lent to a connection (TCP or WebSocket) only while it has frames to send:
// an idle connection holds none, and a busy one does not allocate per turn. One pool for
// every connection, so what it keeps is bounded in total (POOL_MAX × BUFFER_BYTES, 4 MiB).
// Buffers, not plain Uint8Arrays: the reply writer uses Buffer's native UTF-8 writes.

const BUFFER_BYTES = 16 * 1024;
const POOL_MAX = 256;
const pool: Uint8Array[] = [];

/** A buffer of at least min bytes (a pooled one when min fits one). */
export function takeBuffer(min: number): Uint8Array {
  if (min <= BUFFER_BYTES) return pool.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES);
  return Buffer.allocUnsafeSlow(min);
}

/** Gives a buffer back; pooled ones are kept (up to the bound), larger ones left to the collector. */
export function giveBuffer(buf: Uint8Array): void {
  if (buf.length === BUFFER_BYTES && pool.length < POOL_MAX) pool.push(buf);
}
