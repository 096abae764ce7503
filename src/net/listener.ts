// Bun.listen glue: accepts sockets (within the connection limits) and hands each to a
// Connection. TLS is the same listener with a certificate.

import type { Socket, TCPSocketListener } from "bun";
import type { ChatCore } from "../core/chat";
import { encodeFrame, encodeReply, FrameDecoder, Push, Status } from "../wire";
import { Connection, type ConnectionLimits } from "./connection";

export interface ListenOptions extends ConnectionLimits {
  host: string;
  port: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  tls?: { cert: string; key: string };
  /** Checked at every accept: a reason to refuse the address (it is banned), or undefined. */
  refuse?: (address: string) => string | undefined;
}

export interface Listener {
  readonly port: number;
  readonly host: string;
  /** Stops accepting; open connections are left to the caller. */
  stop(): void;
}

export function listen(core: ChatCore, o: ListenOptions): Listener {
  const perAddress = new Map<string, number>();
  const gone = (c: Connection) => {
    const n = (perAddress.get(c.address) ?? 1) - 1;
    if (n > 0) perAddress.set(c.address, n);
    else perAddress.delete(c.address);
  };
  const ctx = { core, limits: o, onGone: gone, decoder: new FrameDecoder(o.maxFrameBytes) };
  const server: TCPSocketListener<Connection | undefined> = Bun.listen<Connection | undefined>({
    hostname: o.host,
    port: o.port,
    ...(o.tls ? { tls: { cert: o.tls.cert, key: o.tls.key } } : {}),
    socket: {
      open(socket) {
        const address = socket.remoteAddress;
        const refused = o.refuse?.(address);
        if (refused !== undefined) {
          core.metrics.error(Status.BANNED);
          socket.end(
            encodeFrame(encodeReply({ opcode: Push.LOGGED_OUT, status: Status.BANNED, msg: refused })),
          );
          return;
        }
        const fromAddress = perAddress.get(address) ?? 0;
        const open = core.sessions.size;
        if (open >= o.maxConnections || fromAddress >= o.maxConnectionsPerAddress) {
          const which =
            open >= o.maxConnections
              ? `the server is at its limit of ${o.maxConnections} connections`
              : `too many connections from ${address} (limit ${o.maxConnectionsPerAddress})`;
          core.events({ type: "limit", conn: 0, address, limit: "connections", detail: which });
          socket.end(
            encodeFrame(
              encodeReply({
                opcode: Push.LOGGED_OUT,
                status: Status.TOO_MANY_CONNECTIONS,
                msg: `${which}; try again later`,
              }),
            ),
          );
          return;
        }
        socket.setNoDelay(true);
        const c = new Connection(socket as Socket<Connection>, ctx);
        socket.data = c;
        perAddress.set(address, fromAddress + 1);
        c.start();
      },
      data(socket, chunk) {
        socket.data?.onData(chunk);
      },
      drain(socket) {
        socket.data?.onDrain();
      },
      close(socket, error) {
        socket.data?.onClose(error ? `error: ${error.message}` : "closed");
      },
      error(socket, error) {
        socket.data?.onClose(`error: ${error.message}`);
      },
    },
  });
  return {
    port: server.port,
    host: o.host,
    stop: () => server.stop(false),
  };
}
