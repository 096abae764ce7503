// One client connection: Bun.connect (TCP or TLS), framing and codec, requests matched
// to answers by request_id, pushes handed to the owner, and a heartbeat that notices a
// dead server. Knows nothing about the terminal.

import type { Socket } from "bun";
import {
  decodeReply,
  encodeFrame,
  encodeRequest,
  FIRST_PUSH_OPCODE,
  FrameDecoder,
  MAX_ACK_IDS,
  Op,
  Push,
  type Reply,
  type RequestInit,
  type ServerInfo,
  Status,
} from "../wire";

export interface ConnectionOptions {
  /** The server's name (for TLS and messages) or address. */
  host: string;
  port: number;
  /** The address to connect to, when host is a name already resolved (default: host). */
  address?: string;
  /** TLS with the system CAs (plus ca, if given); insecure skips verification. */
  tls?: { ca?: string; insecure: boolean };
  connectTimeoutMs: number;
  /** Send a PING after this long without sending; the server is dead after heartbeatMs × misses of silence. */
  heartbeatMs: number;
  heartbeatMisses: number;
  maxFrameBytes: number;
}

export interface ConnectionHandlers {
  onPush(reply: Reply): void;
  /** Every answer, synchronously as it arrives (before its request's promise resolves). */
  onAnswer?(reply: Reply): void;
  /** The connection ended without close() being called; reason is for people. */
  onLost(reason: string): void;
}

/** The connection ended before a request was answered. */
export class ConnectionClosedError extends Error {
  override name = "ConnectionClosedError";
}

export class ClientConnection {
  private socket: Socket<undefined> | null = null;
  private readonly decoder: FrameDecoder;
  /** Requests sent and not yet answered, by request_id. */
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private lastHeard = Date.now();
  private lastSent = Date.now();
  private heartbeat: Timer | null = null;
  private ended = false;
  /** Why the connection ended (for requests still waiting). */
  private endReason = "";
  private pendingAcks: number[] = [];
  private pendingReceiptAcks: number[] = [];
  /** Why the TLS handshake failed, when it did. */
  private tlsError: Error | null = null;
  /** The first frame; a server always opens with HELLO. */
  private readonly hello: Promise<Reply>;
  private onFirstFrame: ((r: Reply) => void) | null = null;
  private noFirstFrame: (e: Error) => void = () => {};

  private constructor(
    private readonly o: ConnectionOptions,
    private readonly h: ConnectionHandlers,
  ) {
    this.decoder = new FrameDecoder(o.maxFrameBytes);
    this.hello = new Promise((resolve, reject) => {
      this.onFirstFrame = resolve;
      this.noFirstFrame = reject;
    });
    this.hello.catch(() => {});
  }

  /** Connects; rejects with a sentence for people when the server cannot be reached. */
  static async open(o: ConnectionOptions, h: ConnectionHandlers): Promise<ClientConnection> {
    const c = new ClientConnection(o, h);
    const where = `${o.host.includes(":") ? `[${o.host}]` : o.host}:${o.port}`;
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `cannot connect to ${where}: no answer within ${o.connectTimeoutMs / 1000} s${o.tls ? "" : " (if the server uses TLS, add --tls)"}`,
            ),
          ),
        o.connectTimeoutMs,
      );
    });
    try {
      const socket = await Promise.race([
        Bun.connect<undefined>({
          hostname: o.address ?? o.host,
          port: o.port,
          ...(o.tls
            ? {
                tls: {
                  rejectUnauthorized: !o.tls.insecure,
                  serverName: o.host,
                  ...(o.tls.ca ? { ca: o.tls.ca } : {}),
                },
              }
            : {}),
          socket: {
            data: (_s, chunk) => c.onData(chunk),
            handshake: (_s, success, authorizationError) => {
              if (!success && authorizationError) c.tlsError = authorizationError;
            },
            close: (_s, error) =>
              c.lost(
                c.tlsError
                  ? `TLS handshake failed: ${c.tlsError.message}`
                  : error
                    ? `connection error: ${error.message}`
                    : "the server closed the connection",
              ),
            error: (_s, error) => c.lost(`connection error: ${error.message}`),
            connectError: () => {},
          },
        }),
        timeout,
      ]);
      c.socket = socket;
      socket.setNoDelay(true);
      // A chat server speaks first (HELLO): anything else is not one, or refuses us.
      const hello = await Promise.race([c.hello, timeout]);
      if (hello.opcode !== Push.HELLO) {
        throw new Error(
          hello.msg ? `${where} refused the connection: ${hello.msg}` : `${where} is not a chat server`,
        );
      }
      c.info = hello.info;
    } catch (error) {
      c.socket?.terminate();
      c.end("connection failed");
      // Refused or unreachable: nobody listens there now, a later round may find someone.
      const refused = /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH)$/.test(
        (error as { code?: string }).code ?? "",
      );
      throw Object.assign(new Error(describeConnectError(where, error, !!o.tls)), { refused });
    } finally {
      clearTimeout(timer);
    }
    c.startHeartbeat();
    return c;
  }

  /** What the server said about itself in HELLO. */
  info: ServerInfo | null = null;

  get closed(): boolean {
    return this.ended;
  }

  /** Sends a request and resolves with its answer. */
  request(init: RequestInit): Promise<Reply> {
    if (this.ended) return Promise.reject(new ConnectionClosedError(this.endReason || "not connected"));
    const requestId = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject });
      this.write({ ...init, requestId });
    });
  }

  /**
   * Confirms delivered messages; ids are batched into one ACK per event-loop turn, split
   * into as many as the server's max_ack_ids needs.
   */
  ack(id: number): void {
    if (this.pendingAcks.push(id) === 1) {
      queueMicrotask(() => {
        const ids = this.pendingAcks;
        this.pendingAcks = [];
        const max = this.info?.maxAckIds || MAX_ACK_IDS;
        for (let at = 0; at < ids.length && !this.ended; at += max)
          this.write({ opcode: Op.ACK, ackIds: ids.length <= max ? ids : ids.slice(at, at + max) });
      });
    }
  }

  /** Confirms shown receipts, batched like ack(). */
  ackReceipt(id: number): void {
    if (this.pendingReceiptAcks.push(id) === 1) {
      queueMicrotask(() => {
        const ids = this.pendingReceiptAcks;
        this.pendingReceiptAcks = [];
        const max = this.info?.maxAckIds || MAX_ACK_IDS;
        for (let at = 0; at < ids.length && !this.ended; at += max)
          this.write({ opcode: Op.ACK, receiptIds: ids.slice(at, at + max) });
      });
    }
  }

  /** Closes without reporting a loss; requests still waiting fail. */
  close(): void {
    if (this.ended) return;
    this.end("closed by the client");
    this.socket?.end();
  }

  // --- internal ---

  private write(init: RequestInit): void {
    this.socket?.write(encodeFrame(encodeRequest(init)));
    this.lastSent = Date.now();
  }

  private onData(chunk: Uint8Array): void {
    this.lastHeard = Date.now();
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(`the server sent an invalid frame (${(error as Error).message})`);
      return;
    }
    for (const body of frames) {
      let reply: Reply;
      try {
        reply = decodeReply(body);
      } catch (error) {
        this.fail(`the server sent an invalid message (${(error as Error).message})`);
        return;
      }
      if (this.onFirstFrame) {
        const first = this.onFirstFrame;
        this.onFirstFrame = null;
        first(reply);
        continue;
      }
      if (reply.opcode >= FIRST_PUSH_OPCODE) {
        this.h.onPush(reply);
        continue;
      }
      this.h.onAnswer?.(reply);
      const waiter = this.waiting.get(reply.requestId);
      if (waiter) {
        this.waiting.delete(reply.requestId);
        waiter.resolve(reply);
      } else if (reply.opcode === Op.ACK && reply.status === Status.NOT_LOGGED_IN) {
        // An ACK that crossed a forced logout: it confirmed nothing, and the next session
        // gets those messages again (shown once: the session de-duplicates by id).
      } else if (reply.requestId === 0 && reply.status) {
        // An answer to a frame the server could not read: it closes next.
        this.h.onPush(reply);
      }
    }
  }

  private startHeartbeat(): void {
    // The server drops a client silent for its heartbeat_ms × misses: ping at least as often
    // as it announced, even when our own setting is longer (docs/PROTOCOL.md, Heartbeats).
    const announced = this.info?.heartbeatMs ?? 0;
    const heartbeatMs = announced > 0 ? Math.min(this.o.heartbeatMs, announced) : this.o.heartbeatMs;
    const every = Math.max(25, Math.min(1000, heartbeatMs / 4));
    this.heartbeat = setInterval(() => {
      const now = Date.now();
      const deadAfter = heartbeatMs * this.o.heartbeatMisses;
      if (now - this.lastHeard >= deadAfter) {
        this.fail(`no answer from the server for ${((now - this.lastHeard) / 1000).toFixed(1)} s`);
        return;
      }
      if (now - this.lastSent >= heartbeatMs) this.request({ opcode: Op.PING }).catch(() => {});
    }, every);
  }

  /** The connection broke on our side of the protocol: cut it and report the loss. */
  private fail(reason: string): void {
    if (this.ended) return;
    // terminate() runs the close handler at once, which would report a plain close: ours first.
    const socket = this.socket;
    this.lost(reason);
    socket?.terminate();
  }

  private lost(reason: string): void {
    if (this.ended) return;
    this.end(reason);
    this.h.onLost(reason);
  }

  private end(reason: string): void {
    this.ended = true;
    if (this.onFirstFrame) {
      this.onFirstFrame = null;
      this.noFirstFrame(new Error(reason));
    }
    this.endReason = reason;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiters) w.reject(new ConnectionClosedError(reason));
  }
}

function describeConnectError(where: string, error: unknown, tls: boolean): string {
  const e = error as { code?: string; message?: string };
  const code = e.code ?? "";
  if (code === "ECONNREFUSED")
    return `cannot connect to ${where}: connection refused (is the server running?)`;
  if (code === "ENOTFOUND" || code === "EAI_NONAME" || code === "DNSException")
    return `cannot connect to ${where}: unknown host`;
  const text = `${code} ${e.message ?? ""}`;
  if (tls && /WRONG_VERSION_NUMBER|wrong version number/i.test(text)) {
    return `cannot connect to ${where}: the server does not speak TLS on this port (try without --tls)`;
  }
  if (tls && /altname|hostname|host name/i.test(text)) {
    return `cannot connect to ${where}: the server's TLS certificate is for another host name (${e.message}); connect by a name the certificate lists`;
  }
  if (tls && /certificate|self.signed|issuer|verify|CERT/i.test(text)) {
    const why = e.message?.replace(/^TLS handshake failed: /, "") ?? code;
    return `cannot connect to ${where}: the server's TLS certificate is not trusted (${why}); pass --ca FILE to trust it, or --insecure to skip verification`;
  }
  if (e.message?.startsWith("cannot connect") || e.message?.includes(where)) return e.message;
  return `cannot connect to ${where}: ${e.message ?? code ?? String(error)}`;
}
