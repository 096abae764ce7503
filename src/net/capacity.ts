// How many connections fit under the open-file limit. Every connection is a descriptor;
// the rest of the process (data file, WAL, logs, listener, epoll, metrics) needs some too,
// and a refusal is only polite while a descriptor is left to accept the socket with.

import type { FileLimit } from "./rlimit";

/** Used when the limit cannot be read: the common Linux default hard limit is far above. */
export const FALLBACK_MAX_CONNECTIONS = 1000;
/** Descriptors the process needs besides connections, at the least. */
export const MIN_HEADROOM = 64;

/** Descriptors kept free below the limit: a tenth of it, and never fewer than MIN_HEADROOM. */
export function headroom(limit: number): number {
  return Math.max(MIN_HEADROOM, Math.floor(limit / 10));
}

/** The default --max-connections for a descriptor limit (at least 1). */
export function defaultMaxConnections(limit: FileLimit | null): number {
  if (!limit) return FALLBACK_MAX_CONNECTIONS;
  return Math.max(1, limit.soft - headroom(limit.soft));
}

/**
 * TLS refusals waiting for their handshake (so the client can read TOO_MANY_CONNECTIONS)
 * hold descriptors too: at most half the headroom; past it a refused socket is cut at once.
 */
export function refusalSlots(limit: FileLimit | null): number {
  return Math.floor(headroom(limit?.soft ?? FALLBACK_MAX_CONNECTIONS + MIN_HEADROOM) / 2);
}

/** A warning when an explicit --max-connections leaves no headroom, else null. */
export function capWarning(maxConnections: number, limit: FileLimit | null): string | null {
  if (!limit) return null;
  const fits = defaultMaxConnections(limit);
  if (maxConnections <= fits) return null;
  return `--max-connections ${maxConnections} leaves too few of the ${limit.soft} file descriptors this process may open (at most ${fits} fit): past that, new clients hang instead of being refused; raise the limit (ulimit -n) or lower --max-connections`;
}
