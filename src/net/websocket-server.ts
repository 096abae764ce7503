// The web port (--web-port): the chat protocol over WebSocket at /ws, and the web client's
// files (built into the binary) at / — over HTTPS and WSS when the server has a certificate.
// WebSocket connections are admitted by the same Admission as TCP (in total and per
// address) and charged to the same memory budget.

import type { HTMLBundle, Server, ServerWebSocket } from "bun";
import type { ChatCore } from "../core/chat";
import { encodeReply, Push, Status } from "../wire";
import type { AddressBudget } from "./address-budget";
import type { Admission, Refusal } from "./admission";
import type { MemoryBudget } from "./memory";
import { serverTls } from "./tls";
import { WS_TRY_AGAIN_LATER, WsConnection, type WsContext, type WsData, type WsLimits } from "./websocket";
import { checkOrigin } from "./websocket-origin";

export interface WebOptions extends WsLimits {
  host: string;
  port: number;
  /** Origins besides the server's own whose pages may connect. */
  allowedOrigins: readonly string[];
  tls?: { cert: string; key: string };
}

export interface WebServer {
  readonly port: number;
  readonly secure: boolean;
  /** WebSocket connections open now, and accepted since start. */
  readonly connections: number;
  readonly opened: number;
  /** True if the core's connection id is (or was being) a WebSocket one. */
  isWeb(conn: number): boolean;
  /** Stops accepting; open connections are left to the caller. */
  stop(): void;
  /** Closes the HTTP side too (after the connections are gone). */
  close(): void;
}

/**
 * Security headers of every HTTP answer: no script but the page's own files (no inline
 * script, no eval), connections only back to this server, never framed, no referrer.
 */
export function securityHeaders(host: string | null, secure: boolean): Record<string, string> {
  // connect-src 'self' covers ws(s) to the same host in current browsers; the explicit
  // entry covers the rest. Host is checked to be a plain host[:port] before it goes in.
  const ws = host && /^[A-Za-z0-9.\-[\]:]{1,255}$/.test(host) ? ` ${secure ? "wss" : "ws"}://${host}` : "";
  return {
    "content-security-policy": `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'${ws}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
  };
}

/** The page's files by URL path, when built ahead of time (the compiled binary). */
export function staticFiles(
  page: HTMLBundle,
): Map<string, { path: string; type: string; etag: string }> | null {
  if (!page.files?.length) return null;
  const files = new Map<string, { path: string; type: string; etag: string }>();
  for (const f of page.files) {
    const entry = { path: f.path, type: f.headers["content-type"], etag: f.headers.etag };
    if (f.path === page.index) files.set("/", entry);
    else files.set(`/${f.path.slice(f.path.lastIndexOf("/") + 1)}`, entry);
  }
  return files.has("/") ? files : null;
}

export function serveWeb(
  core: ChatCore,
  o: WebOptions,
  shared: {
    admission: Admission;
    memory: MemoryBudget;
    /** The request budget of each client address, shared with the TCP listener. */
    budget?: AddressBudget;
    refused(address: string, r: Refusal): void;
    /** A reason to refuse the address (it is banned), or undefined; checked at every upgrade. */
    refuse?: (address: string) => string | undefined;
  },
  page: HTMLBundle | null,
): WebServer {
  const secure = !!o.tls;
  const web = new Set<number>();
  let connecting = false;
  let connections = 0;
  let opened = 0;
  const ctx: WsContext = {
    core,
    limits: o,
    memory: shared.memory,
    ...(shared.budget ? { budget: shared.budget } : {}),
    onGone(c) {
      web.delete(c.session.id);
      connections--;
      shared.admission.release(c.address);
    },
  };
  const files = page ? staticFiles(page) : null;

  const answer = (req: Request, status: number, text: string) =>
    new Response(`${text}\n`, {
      status,
      headers: {
        "content-type": "text/plain; charset=utf-8",
        ...securityHeaders(req.headers.get("host"), secure),
      },
    });

  async function serveFile(req: Request, path: string): Promise<Response | null> {
    const f = files?.get(path);
    if (!f) return null;
    const headers = {
      "content-type": f.type,
      etag: f.etag,
      // The page's own name never changes, its chunks are named by their content.
      "cache-control": path === "/" ? "no-cache" : "public, max-age=31536000, immutable",
      ...securityHeaders(req.headers.get("host"), secure),
    };
    if (req.headers.get("if-none-match") === f.etag) return new Response(null, { status: 304, headers });
    return new Response(Bun.file(f.path), { headers });
  }

  function upgrade(req: Request, server: Server<WsData>): Response | undefined {
    const verdict = checkOrigin(req.headers.get("origin"), req.headers.get("host"), secure, o.allowedOrigins);
    const address = normalizeAddress(server.requestIP(req)?.address ?? "-");
    if (!verdict.ok) {
      core.events({ type: "limit", conn: 0, address, limit: "origin", detail: verdict.reason });
      return answer(req, 403, verdict.reason);
    }
    const banned = shared.refuse?.(address);
    if (banned !== undefined) {
      core.metrics.error(Status.BANNED);
      return answer(req, 403, banned);
    }
    const refusal = shared.admission.admit(address);
    const data: WsData = { address };
    if (refusal) {
      shared.refused(address, refusal);
      // Like TCP: the client is told why in a LOGGED_OUT frame, then closed.
      data.refusal = encodeReply({
        opcode: Push.LOGGED_OUT,
        status: Status.TOO_MANY_CONNECTIONS,
        msg: `${refusal.detail}; try again later`,
      });
    }
    if (server.upgrade(req, { data })) return undefined;
    if (!refusal) shared.admission.release(address);
    return answer(
      req,
      426,
      "this is the chat protocol's WebSocket endpoint: connect with a WebSocket client",
    );
  }

  const server = Bun.serve<WsData>({
    hostname: o.host,
    port: o.port,
    development: false,
    ...(o.tls ? { tls: serverTls(o.tls) } : {}),
    ...(files || !page ? {} : { routes: { "/": page } }),
    async fetch(req, server) {
      const path = new URL(req.url).pathname;
      if (path === "/ws") return upgrade(req, server);
      // Browsers ask for an icon on their own: none, without a 404 in the console.
      if (path === "/favicon.ico")
        return new Response(null, { status: 204, headers: securityHeaders(null, secure) });
      if (req.method !== "GET" && req.method !== "HEAD") return answer(req, 405, "method not allowed");
      return (await serveFile(req, path)) ?? answer(req, 404, "not found: the web client is at /");
    },
    websocket: {
      maxPayloadLength: o.maxFrameBytes,
      // Output is bounded by the connection (maxOutboundBytes); Bun's own cap sits above it.
      backpressureLimit: o.maxOutboundBytes * 2,
      closeOnBackpressureLimit: true,
      // Liveness is the core's (heartbeats and dead-peer timeouts), as on TCP.
      idleTimeout: 0,
      sendPings: false,
      perMessageDeflate: false,
      open(ws: ServerWebSocket<WsData>) {
        // Buffers: the request reader takes them as they are (a plain Uint8Array it would wrap).
        ws.binaryType = "nodebuffer";
        if (ws.data.refusal) {
          ws.sendBinary(ws.data.refusal);
          ws.close(WS_TRY_AGAIN_LATER, "too many connections");
          return;
        }
        const c = new WsConnection(ws, ctx);
        ws.data.conn = c;
        connections++;
        opened++;
        connecting = true;
        try {
          c.start();
        } finally {
          connecting = false;
        }
        web.add(c.session.id);
      },
      message(ws, message) {
        ws.data.conn?.onMessage(message as string | Uint8Array);
      },
      drain(ws) {
        ws.data.conn?.onDrain();
      },
      close(ws, code, reason) {
        const c = ws.data.conn;
        ws.data.conn = undefined;
        c?.onClose(code, reason);
      },
    },
  });

  return {
    port: server.port ?? o.port,
    secure,
    get connections() {
      return connections;
    },
    get opened() {
      return opened;
    },
    isWeb: (conn) => connecting || web.has(conn),
    stop: () => {
      // Stops listening; open WebSockets stay until the core has closed them.
      void server.stop(false);
    },
    close: () => {
      void server.stop(true);
    },
  };
}

/** Bun reports IPv4 clients of a dual-stack socket as ::ffff:a.b.c.d; TCP shows a.b.c.d. */
export function normalizeAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
