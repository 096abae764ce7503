// Bun.listen glue: accepts sockets (within the connection limits) and hands each to a
// Connection. TLS is the same listener with a certificate.
//
// Every socket is counted from the moment it is accepted: a TLS socket in its handshake holds
// a descriptor and TLS state like any other, so it counts against both connection caps and
// has until the handshake deadline to finish. (Bun calls `open` before the handshake only
// when a `handshake` handler is given; without one it calls it after, and a socket that never
// finishes its handshake would be invisible.)

import type { Socket, TCPSocketListener, TCPSocketListenOptions } from "bun";
import type { ChatCore } from "../core/chat";
import { encodeFrame, encodeReply, FrameDecoder, Push, Status } from "../wire";
import { type AddressBudget, newAddressBudget, TLS_HANDSHAKE_UNITS } from "./address-budget";
import { Admission, Deadlines, OncePerInterval, type Refusal } from "./admission";
import { Connection, type ConnectionContext, type ConnectionLimits } from "./connection";
import { MemoryBudget } from "./memory";
import { serverTls } from "./tls";

export interface ListenOptions extends ConnectionLimits {
  host: string;
  port: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Time a TLS client has from accept to a finished handshake. */
  handshakeTimeoutMs: number;
  /** Output and partial input of all connections together. */
  maxBufferedBytes: number;
  /** TLS refusals held open until their handshake so the client can read why (beyond: cut). */
  refusalSlots: number;
  tls?: { cert: string; key: string };
  /** Checked at every accept: a reason to refuse the address (it is banned), or undefined. */
  refuse?: (address: string) => string | undefined;
  /** Shared with the web port, so both transports count against one set of caps. */
  admission?: Admission;
  memory?: MemoryBudget;
  budget?: AddressBudget;
  /** Request-budget tokens per second, and at most banked, of one client address (all its connections). */
  addressRequestRate: number;
  addressRequestBurst: number;
  /** The same for all addresses together (default: DEFAULT_TOTAL_ADDRESSES addresses' worth). */
  totalRequestRate?: number;
  totalRequestBurst?: number;
}

export interface Listener {
  readonly port: number;
  readonly host: string;
  /** Stops accepting; open connections are left to the caller. */
  stop(): void;
  /** New connections get this certificate; open ones keep theirs. Throws if it is unusable. */
  reloadTls(tls: { cert: string; key: string }): void;
}

/** Repeated refusals and handshake timeouts are logged once per this interval. */
export const LIMIT_LOG_INTERVAL_MS = 10_000;

/** A TLS socket refused while its handshake was under way: told why once it is done. */
class RefusedTls {
  constructor(
    readonly address: string,
    readonly frame: Uint8Array,
  ) {}
}

type Peer = Connection | RefusedTls | undefined;

export function listen(core: ChatCore, o: ListenOptions): Listener {
  const admission = o.admission ?? new Admission(o.maxConnections, o.maxConnectionsPerAddress);
  const memory = o.memory ?? new MemoryBudget(o.maxBufferedBytes);
  const handshakes = new Deadlines<Socket<Peer>>(o.handshakeTimeoutMs);
  const acceptedAt = new WeakMap<Connection, number>();
  let refusing = 0;
  const gone = (c: Connection) => admission.release(c.address);
  const budget = o.budget ?? newAddressBudget(o, (a) => admission.from(a));
  const ctx: ConnectionContext = {
    budget,
    core,
    limits: o,
    memory,
    onGone: gone,
    decoder: new FrameDecoder(o.maxFrameBytes),
  };

  const refusals = new OncePerInterval(LIMIT_LOG_INTERVAL_MS);
  const timeouts = new OncePerInterval(LIMIT_LOG_INTERVAL_MS);
  const limit = (address: string, name: string, detail: string) =>
    core.events({ type: "limit", conn: 0, address, limit: name, detail });
  const refused = (address: string, r: Refusal) => {
    if (refusals.note(Date.now())) limit(address, "connections", r.detail);
  };
  const refusalFrame = (r: Refusal) =>
    encodeFrame(
      encodeReply({
        opcode: Push.LOGGED_OUT,
        status: Status.TOO_MANY_CONNECTIONS,
        msg: `${r.detail}; try again later`,
      }),
    );

  const expire = () => {
    const now = Date.now();
    const late = handshakes.expired(now);
    const address = late[0]?.remoteAddress ?? "-";
    for (const socket of late) socket.terminate();
    if (late.length && timeouts.note(now))
      limit(
        address,
        "handshake_timeout",
        `${late.length} TLS handshake(s) not finished within ${o.handshakeTimeoutMs} ms; cut`,
      );
    const lateMore = timeouts.due(now);
    if (lateMore)
      limit(
        "-",
        "handshake_timeout",
        `${lateMore} more TLS handshakes cut in the last ${LIMIT_LOG_INTERVAL_MS / 1000} s`,
      );
    const refusedMore = refusals.due(now);
    if (refusedMore)
      limit(
        "-",
        "connections",
        `${refusedMore} more connections refused in the last ${LIMIT_LOG_INTERVAL_MS / 1000} s (limits ${o.maxConnections} in all, ${o.maxConnectionsPerAddress} per address)`,
      );
  };
  const ticker = setInterval(expire, Math.max(20, Math.min(250, o.handshakeTimeoutMs / 4)));
  ticker.unref();

  const options: TCPSocketListenOptions<Peer> = {
    hostname: o.host,
    port: o.port,
    ...(o.tls ? { tls: serverTls(o.tls) } : {}),
    socket: {
      open(socket) {
        const address = socket.remoteAddress;
        const banned = o.refuse?.(address);
        if (banned !== undefined) {
          core.metrics.error(Status.BANNED);
          // Before a TLS handshake nothing can be written: a banned address is owed no courtesy.
          if (o.tls) socket.terminate();
          else
            socket.end(
              encodeFrame(encodeReply({ opcode: Push.LOGGED_OUT, status: Status.BANNED, msg: banned })),
            );
          return;
        }
        const refusal = admission.admit(address);
        if (refusal) {
          refused(address, refusal);
          if (!o.tls) {
            socket.end(refusalFrame(refusal));
          } else if (refusal.kind === "global" && refusing < o.refusalSlots) {
            // Nothing can be written before the handshake: hold it (bounded) to say why.
            refusing++;
            socket.data = new RefusedTls(address, refusalFrame(refusal));
            handshakes.add(socket, Date.now());
          } else {
            socket.terminate(); // the address already holds its share: no courtesy owed
          }
          return;
        }
        socket.setNoDelay(true);
        const c = new Connection(socket as Socket<Connection>, ctx);
        socket.data = c;
        if (o.tls) {
          acceptedAt.set(c, Date.now());
          handshakes.add(socket, Date.now());
          c.beforeHandshake(TLS_HANDSHAKE_UNITS);
        } else {
          c.start();
        }
      },
      handshake(socket, success) {
        if (!handshakes.delete(socket)) return; // timed out meanwhile: already cut
        const peer = socket.data;
        if (!success) {
          socket.terminate();
          return;
        }
        if (peer instanceof RefusedTls) {
          socket.end(peer.frame);
          return;
        }
        peer?.start(acceptedAt.get(peer));
      },
      data(socket, chunk) {
        const peer = socket.data;
        if (!(peer instanceof Connection)) return;
        // A TLS 1.3 client may send its first request with its last handshake message, and
        // Bun can deliver that data before the handshake callback: it proves the handshake.
        if (!peer.started && handshakes.delete(socket)) peer.start(acceptedAt.get(peer));
        peer.onData(chunk);
      },
      drain(socket) {
        const peer = socket.data;
        if (peer instanceof Connection) peer.onDrain();
      },
      close(socket, error) {
        gonePeer(socket, error ? `error: ${error.message}` : "closed");
      },
      error(socket, error) {
        gonePeer(socket, `error: ${error.message}`);
      },
    },
  };
  let server: TCPSocketListener<Peer> = Bun.listen<Peer>(options);
  let tls = options.tls;
  const port = server.port;

  function gonePeer(socket: Socket<Peer>, reason: string) {
    handshakes.delete(socket);
    const peer = socket.data;
    socket.data = undefined;
    if (peer instanceof RefusedTls) refusing--;
    else peer?.onClose(reason);
  }

  return {
    port,
    host: o.host,
    stop: () => {
      clearInterval(ticker);
      budget.stop();
      server.stop(false);
    },
    // Bun cannot change a listener's certificate (reload() takes handlers only), so the
    // listening socket is replaced; connections already open are not touched. A connection
    // attempt in the instant between the two is refused, as during a restart but far shorter.
    reloadTls(next) {
      server.stop(false);
      const nextTls = serverTls(next);
      try {
        server = Bun.listen<Peer>({ ...options, port, tls: nextTls });
      } catch (error) {
        server = Bun.listen<Peer>({ ...options, port, ...(tls ? { tls } : {}) });
        throw error;
      }
      tls = nextTls;
    },
  };
}
