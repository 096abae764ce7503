// A TCP proxy on 127.0.0.1 for liveness tests: forwards bytes both ways until told to drop
// them. Dropping keeps both sockets open and says nothing to either side, like a cable
// pulled out or a NAT entry expired: a half-open connection only heartbeats can detect.

import type { Socket, TCPSocketListener } from "bun";

/** One client socket and its upstream socket; bytes wait in `pending` until upstream is up. */
interface Pair {
  upstream: Socket<Pair> | null;
  pending: Uint8Array[];
  closed: boolean;
}

export interface Proxy {
  port: number;
  /** Silently discard all traffic from now on, in both directions, and never close. */
  drop(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  stop(): void;
}

export function startProxy(upstreamPort: number): Proxy {
  let dropping = false;
  let accepted = 0;
  const sockets = new Set<Socket<Pair>>();
  const track = (s: Socket<Pair>) => {
    sockets.add(s);
  };
  // Forwarding is best effort: the tests send a few small frames, far below socket buffers.
  const forward = (to: Socket<Pair> | null, data: Uint8Array) => {
    if (!dropping && to) to.write(data);
  };
  const closeOther = (other: Socket<Pair> | null) => {
    if (!dropping) other?.end();
  };
  const listener: TCPSocketListener<Pair> = Bun.listen<Pair>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        accepted++;
        track(client);
        const pair: Pair = { upstream: null, pending: [], closed: false };
        client.data = pair;
        void Bun.connect<Pair>({
          hostname: "127.0.0.1",
          port: upstreamPort,
          data: pair,
          socket: {
            data: (_s, d) => forward(client, d),
            close: () => closeOther(client),
            error: () => closeOther(client),
          },
        }).then(
          (up) => {
            track(up);
            pair.upstream = up;
            if (pair.closed) closeOther(up);
            for (const d of pair.pending.splice(0)) forward(up, d);
          },
          () => closeOther(client),
        );
      },
      data(client, d) {
        if (client.data.upstream) forward(client.data.upstream, d);
        else if (!dropping) client.data.pending.push(new Uint8Array(d));
      },
      close(client) {
        client.data.closed = true;
        closeOther(client.data.upstream);
      },
      error(client) {
        client.data.closed = true;
        closeOther(client.data.upstream);
      },
    },
  });
  return {
    port: listener.port,
    drop() {
      dropping = true;
    },
    get accepted() {
      return accepted;
    },
    stop() {
      listener.stop(true);
      for (const s of sockets) s.terminate();
    },
  };
}
