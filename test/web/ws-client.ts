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
  static async open(port: number, opts: { origin?: string; host?: string } = {}): Promise<WsClient> {
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
