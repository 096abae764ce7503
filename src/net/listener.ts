// Bun.listen glue: accepts sockets (within the connection limits) and hands each to a
// Connection. TLS is the same listener with a certificate.

import type { Socket, TCPSocketListener, TCPSocketListenOptions } from "bun";
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
  /** New connections get this certificate; open ones keep theirs. Throws if it is unusable. */
  reloadTls(tls: { cert: string; key: string }): void;
}

export function listen(core: ChatCore, o: ListenOptions): Listener {
  const perAddress = new Map<string, number>();
  const gone = (c: Connection) => {
    const n = (perAddress.get(c.address) ?? 1) - 1;
    if (n > 0) perAddress.set(c.address, n);
    else perAddress.delete(c.address);
  };
  const ctx = { core, limits: o, onGone: gone, decoder: new FrameDecoder(o.maxFrameBytes) };
  const options: TCPSocketListenOptions<Connection | undefined> = {
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
  };
  let server: TCPSocketListener<Connection | undefined> = Bun.listen(options);
  let tls = options.tls;
  const port = server.port;
  return {
    port,
    host: o.host,
    stop: () => server.stop(false),
    // Bun cannot change a listener's certificate (reload() takes handlers only), so the
    // listening socket is replaced; connections already open are not touched. A connection
    // attempt in the instant between the two is refused, as during a restart but far shorter.
    reloadTls(next) {
      server.stop(false);
      try {
        server = Bun.listen({ ...options, port, tls: { cert: next.cert, key: next.key } });
      } catch (error) {
        server = Bun.listen({ ...options, port, tls });
        throw error;
      }
      tls = { cert: next.cert, key: next.key };
    },
  };
}
