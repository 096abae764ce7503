// How a bench client reaches a server: a TCP socket carrying length-prefixed frames, or a
// WebSocket to the web port's /ws carrying one frame body per binary message (as the web
// client does). The client writes length-prefixed frames either way; the WebSocket side
// sends each frame's body as its own message (src/bench/ws-wire.ts).

import type { Socket } from "bun";
import { openRawWs } from "./ws-wire";

export type Transport = "tcp" | "ws";
export const TRANSPORTS = ["tcp", "ws"] as const;

export interface Wire {
  /** Writes length-prefixed frames; returns the bytes taken (fewer: wait for drain). */
  write(frames: Uint8Array): number;
  end(): void;
  terminate(): void;
}

export interface WireEvents {
  /** TCP: bytes of the stream. */
  data(chunk: Uint8Array): void;
  /** WebSocket: one frame body. */
  message(body: Uint8Array): void;
  drain(): void;
  closed(error?: Error): void;
}

const where = (host: string, port: number) => `${host.includes(":") ? `[${host}]` : host}:${port}`;

export async function openTcp(host: string, port: number, ev: WireEvents): Promise<Wire> {
  const sock: Socket<undefined> = await Bun.connect<undefined>({
    hostname: host,
    port,
    socket: {
      data: (_s, d) => ev.data(d),
      drain: () => ev.drain(),
      close: (_s, e) => ev.closed(e ?? undefined),
      error: (_s, e) => ev.closed(e),
    },
  });
  sock.setNoDelay(true);
  return { write: (b) => sock.write(b), end: () => sock.end(), terminate: () => sock.terminate() };
}

/**
 * The server's own origin for a web port reached as host:port: what a browser that loaded
 * the page from there sends as Origin, so the server's Origin check lets it in.
 */
export function ownOrigin(host: string, port: number): string {
  return `http://${where(host, port)}`;
}

export function openWs(host: string, port: number, ev: WireEvents): Promise<Wire> {
  return openRawWs(host, port, where(host, port), ownOrigin(host, port), ev);
}
