// One round of connection tries over the servers a client was given: each server's
// addresses (A and AAAA of a name) in turn, until one answers HELLO.

import { ClientConnection, type ConnectionHandlers, type ConnectionOptions } from "./connection";
import { formatAddress, isIpLiteral, roundOrder, roundTries, type ServerAddress } from "./servers";

export interface DialOptions extends ConnectionOptions {
  /** Every server to try; without it, just host:port. */
  servers?: ServerAddress[];
}

export interface Dialled {
  conn: ClientConnection;
  /** Index of the server in the list. */
  server: number;
  /** host:port as given (names stay names). */
  where: string;
}

/** The addresses of a name (both families), or the literal itself. */
export type Resolver = (host: string) => Promise<string[]>;

export const resolveHost: Resolver = async (host) => {
  if (isIpLiteral(host)) return [host];
  // Both families (A and AAAA), in the resolver's order.
  const found = await Bun.dns.lookup(host, { family: 0, socketType: "tcp" });
  return found.map((a) => a.address);
};

/** A failed round; transient when every try was refused or unreachable (worth another round). */
export class DialError extends Error {
  override name = "DialError";
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

export function serversOf(o: DialOptions): ServerAddress[] {
  return o.servers?.length ? o.servers : [{ host: o.host, port: o.port }];
}

/**
 * Tries the servers in roundOrder (after `lost`, when a connection to it was lost), each of
 * their addresses once; resolves with the first connection that opened.
 */
export async function dialRound(
  o: DialOptions,
  lost: number | null,
  h: ConnectionHandlers,
  resolve: Resolver = resolveHost,
): Promise<Dialled> {
  const servers = serversOf(o);
  const order = roundOrder(servers.length, lost);
  const resolved = new Map<number, string[]>();
  const failures: string[] = [];
  let transient = true;
  for (const server of order) {
    const s = servers[server]!;
    try {
      resolved.set(server, await resolve(s.host));
    } catch {
      failures.push(`cannot connect to ${formatAddress(s)}: unknown host`);
      transient = false;
      resolved.set(server, []);
    }
  }
  for (const t of roundTries(order, (i) => resolved.get(i) ?? [])) {
    const s = servers[t.server]!;
    try {
      const conn = await ClientConnection.open({ ...o, host: s.host, port: s.port, address: t.address }, h);
      return { conn, server: t.server, where: formatAddress(s) };
    } catch (error) {
      const message = (error as Error).message;
      // Which of a name's addresses failed, when it has several.
      const several = (resolved.get(t.server)?.length ?? 0) > 1;
      const name = several ? ` (${t.address.includes(":") ? `[${t.address}]` : t.address})` : "";
      failures.push(name ? message.replace(formatAddress(s), `${formatAddress(s)}${name}`) : message);
      if (!(error as { refused?: boolean }).refused) transient = false;
    }
  }
  if (failures.length === 1) throw new DialError(failures[0]!, transient);
  throw new DialError(
    `cannot connect to any of ${servers.map(formatAddress).join(", ")}: ${failures.map((f) => f.replace(/^cannot connect to /, "")).join("; ")}`,
    transient,
  );
}
