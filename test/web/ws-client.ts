// A protocol-level WebSocket client for the tests: one protobuf frame per binary message.

import { decodeReply, encodeRequest, Op, type Reply, type RequestInit } from "../../src/wire";

export class WsClient {
  readonly frames: Reply[] = [];
  closed = false;
  closeCode = 0;
  /** The handshake was refused (HTTP status other than 101) or the socket failed. */
  failed = false;
  private waiters: (() => void)[] = [];
  private nextId = 1;
  private constructor(readonly ws: WebSocket) {}

  /** Opens and waits for HELLO. */
  static async open(port: number, opts: { origin?: string; secure?: boolean } = {}): Promise<WsClient> {
    const c = await WsClient.dial(port, opts);
    await c.next((r) => r.opcode === 104, "HELLO");
    return c;
  }

  /** Opens without waiting for HELLO (for connections the server may refuse). */
  static async dial(port: number, opts: { origin?: string; secure?: boolean } = {}): Promise<WsClient> {
    const url = `${opts.secure ? "wss" : "ws"}://127.0.0.1:${port}/ws`;
    const ws = new WebSocket(url, {
      headers: opts.origin ? { Origin: opts.origin } : {},
      ...(opts.secure ? { tls: { rejectUnauthorized: false } } : {}),
    } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const c = new WsClient(ws);
    ws.onmessage = (m) => {
      if (typeof m.data === "string") return;
      c.frames.push(decodeReply(new Uint8Array(m.data as ArrayBuffer)));
      c.wake();
    };
    ws.onclose = (e) => {
      c.closed = true;
      c.closeCode = e.code;
      c.wake();
    };
    ws.onerror = () => {
      c.failed = true;
      c.wake();
    };
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      ws.addEventListener("open", done, { once: true });
      ws.addEventListener("close", done, { once: true });
      ws.addEventListener("error", done, { once: true });
    });
    return c;
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(bytes: Uint8Array | string): void {
    this.ws.send(bytes as Uint8Array<ArrayBuffer> | string);
  }

  async request(init: RequestInit): Promise<Reply> {
    const requestId = this.nextId++;
    this.write(encodeRequest({ requestId, ...init }));
    return this.next((r) => r.requestId === requestId && r.opcode < 100, `answer to request ${requestId}`);
  }

  async login(name: string, password = "correct horse"): Promise<Reply> {
    await this.request({ opcode: Op.CREATE_ACCOUNT, sender: name, password });
    return this.request({ opcode: Op.LOG_IN, sender: name, password });
  }

  async next(pred: (r: Reply) => boolean, what: string, timeoutMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`connection closed (${this.closeCode}) without ${what}`);
      await this.wait(deadline, what);
    }
  }

  async whenClosed(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) await this.wait(deadline, "the server to close the connection");
    return this.closeCode;
  }

  private async wait(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, left);
      this.waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** The web port from a server's "web client on port N" line. */
export function webPortOf(lines: string[]): number {
  for (const l of lines) {
    const m = /web client on port (\d+)/.exec(l);
    if (m) return Number(m[1]);
  }
  throw new Error(`no web port line in:\n${lines.join("\n")}`);
}

/**
 * A WebSocket client on a plain TCP socket, for what a WebSocket library would not do:
 * stop reading (socket.pause()) so the server's output backs up.
 */
export class RawWs {
  readonly frames: Reply[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private upgraded = false;
  private waiters: (() => void)[] = [];
  private nextId = 1;
  socket!: Awaited<ReturnType<typeof Bun.connect>>;

  static async open(port: number): Promise<RawWs> {
    const c = new RawWs();
    c.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, d) => c.onData(Buffer.from(d)),
        close: () => {
          c.closed = true;
          c.wake();
        },
        error: () => {
          c.closed = true;
          c.wake();
        },
      },
    });
    c.socket.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    await c.next((r) => r.opcode === 104, "HELLO");
    return c;
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.upgraded) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!this.buf.subarray(0, end).toString().startsWith("HTTP/1.1 101")) {
        this.closed = true;
        this.wake();
        return;
      }
      this.upgraded = true;
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) break;
      const op = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) break;
      const body = this.buf.subarray(at, at + len);
      this.buf = this.buf.subarray(at + len);
      if (op === 2) this.frames.push(decodeReply(new Uint8Array(body)));
      if (op === 8) this.closed = true;
    }
    this.wake();
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** One masked binary message (clients must mask: RFC 6455 §5.3). */
  write(body: Uint8Array): void {
    const mask = [1, 2, 3, 4];
    const head =
      body.length < 126
        ? [0x82, 0x80 | body.length]
        : [0x82, 0x80 | 126, body.length >> 8, body.length & 0xff];
    const out = Buffer.alloc(head.length + 4 + body.length);
    out.set(head, 0);
    out.set(mask, head.length);
    for (let i = 0; i < body.length; i++) out[head.length + 4 + i] = body[i]! ^ mask[i % 4]!;
    this.socket.write(out);
  }

  async request(init: RequestInit): Promise<Reply> {
    const requestId = this.nextId++;
    this.write(encodeRequest({ requestId, ...init }));
    return this.next((r) => r.requestId === requestId && r.opcode < 100, `answer to request ${requestId}`);
  }

  async next(pred: (r: Reply) => boolean, what: string, timeoutMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`connection closed without ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}
