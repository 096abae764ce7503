// How a bench client reaches a server: a TCP socket carrying length-prefixed frames, or a
// WebSocket to the web port's /ws carrying one frame body per binary message (as the web
// client does). The client writes length-prefixed frames either way; the WebSocket side
// sends each frame's body as its own message.

import type { Socket } from "bun";
import { framePrefix } from "./lite";

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

export async function openWs(host: string, port: number, ev: WireEvents): Promise<Wire> {
  const ws = new WebSocket(`ws://${where(host, port)}/ws`, {
    headers: { Origin: ownOrigin(host, port) },
  } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () =>
      reject(new Error(`WebSocket to ${where(host, port)}/ws failed (is --web-port there?)`));
    ws.onclose = (e) =>
      reject(new Error(`WebSocket to ${where(host, port)}/ws closed (${e.code}) before it opened`));
  });
  let closed = false;
  ws.onmessage = (m) => {
    if (typeof m.data !== "string") ev.message(new Uint8Array(m.data as ArrayBuffer));
  };
  ws.onclose = (e) => {
    closed = true;
    ev.closed(e.code === 1000 || e.code === 1005 ? undefined : new Error(`WebSocket closed (${e.code})`));
  };
  ws.onerror = () => {};
  return {
    write(frames) {
      if (closed) return -1;
      // One message per frame, without its length prefix; send() copies the bytes.
      let p = 0;
      while (p < frames.length) {
        const f = framePrefix(frames, p, frames.length);
        if (!f) break;
        const [len, body] = f;
        ws.send(frames.subarray(body, body + len) as Uint8Array<ArrayBuffer>);
        p = body + len;
      }
      return frames.length;
    },
    end: () => ws.close(1000),
    terminate: () => {
      const t = (ws as unknown as { terminate?: () => void }).terminate;
      if (t) t.call(ws);
      else ws.close();
    },
  };
}
