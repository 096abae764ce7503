// The servers a client may use: parsing a "host1:8080,host2:8080" list, the order in which
// their addresses are tried, and the backoff between rounds of tries. Pure: the resolver
// and the sockets are the caller's (src/client/dial.ts).

export interface ServerAddress {
  /** A host name, an IPv4 address, or an IPv6 address without brackets. */
  host: string;
  port: number;
}

/** The address as people write it: host:port, [v6]:port. */
export function formatAddress(a: ServerAddress): string {
  return `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}

/** A host name (RFC 1123 labels, an optional trailing dot) or an IPv4 address. */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/;

/**
 * Parses a comma-separated list of servers: `host`, `host:port`, `[v6]`, `[v6]:port`, or a
 * bare IPv6 address (`::1`, whose last group cannot be told from a port, so it takes the
 * default port). Entries without a port get defaultPort. Duplicates are dropped; throws
 * an Error naming the bad entry otherwise. `what` names the option in messages.
 */
export function parseServerList(list: string, defaultPort: number, what = "server"): ServerAddress[] {
  const entries = list.split(",").map((e) => e.trim());
  if (entries.every((e) => e === "")) throw new Error(`${what}: no server given`);
  const out: ServerAddress[] = [];
  for (const entry of entries) {
    if (entry === "") throw new Error(`${what}: an empty entry in ${JSON.stringify(list)} (two commas?)`);
    const a = parseEntry(entry, defaultPort, what);
    if (!out.some((b) => b.host.toLowerCase() === a.host.toLowerCase() && b.port === a.port)) out.push(a);
  }
  return out;
}

function parseEntry(entry: string, defaultPort: number, what: string): ServerAddress {
  const bad = (why: string) => new Error(`${what}: ${JSON.stringify(entry)} ${why}`);
  let host: string;
  let portText: string | undefined;
  if (entry.startsWith("[")) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
    if (!m) throw bad("is not [IPv6 address] or [IPv6 address]:port");
    host = m[1]!;
    portText = m[2];
    if (!host.includes(":") || !IPV6.test(host)) throw bad("has no IPv6 address between the brackets");
  } else if ((entry.match(/:/g) ?? []).length > 1) {
    // More than one colon: an IPv6 address without brackets, so without a port.
    if (!IPV6.test(entry)) throw bad("is not an IPv6 address (write [address]:port to give a port)");
    host = entry;
  } else {
    const colon = entry.indexOf(":");
    host = colon < 0 ? entry : entry.slice(0, colon);
    portText = colon < 0 ? undefined : entry.slice(colon + 1);
    if (!HOST_NAME.test(host)) throw bad("is not a host name or address");
  }
  if (portText === undefined) return { host, port: defaultPort };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
    throw bad("has no valid port after the colon (1-65535)");
  return { host, port: Number(portText) };
}

/** True for an IPv4 or IPv6 literal: nothing to resolve. */
export function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(?:\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/**
 * The order in which a round tries the servers (indices into the list): the first
 * connection starts with the first one; after losing server `lost`, the round starts with
 * the one after it and comes back to it last, so a dead node costs one try at the end.
 */
export function roundOrder(n: number, lost: number | null): number[] {
  const start = lost === null ? 0 : (lost + 1) % n;
  return Array.from({ length: n }, (_, i) => (start + i) % n);
}

/** Backoff before round n (0-based) of reconnection: doubling from 200 ms up to 5 s, with jitter. */
export function backoffMs(attempt: number, random = Math.random): number {
  const ceiling = Math.min(5000, 200 * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Rounds the first connection makes before giving up: a node starting a moment late is still found. */
export const FIRST_CONNECT_ROUNDS = 3;

/** Backoff between the first connection's rounds: short, so an unreachable server is reported soon. */
export function firstConnectBackoffMs(round: number, random = Math.random): number {
  return Math.round(100 * 2 ** round * (0.5 + random() / 2));
}

/** The addresses of one round, each with the list entry it came from (names resolved by the caller). */
export interface Try {
  server: number;
  /** What to connect to: the resolved address, or the host as given. */
  address: string;
}

/** Flattens the round's servers into tries, each server's addresses in the resolver's order. */
export function roundTries(order: number[], addressesOf: (server: number) => string[]): Try[] {
  const tries: Try[] = [];
  for (const server of order) {
    const seen = new Set<string>();
    for (const address of addressesOf(server)) {
      if (seen.has(address)) continue;
      seen.add(address);
      tries.push({ server, address });
    }
  }
  return tries;
}
