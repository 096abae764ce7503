// Driver for relay.c, the physical-limit anchor.
//
// Users must be named send<i> / recv<i>: the relay pairs connections by index,
// so send<i> can only talk to recv<i> (the `to` argument is checked once).
// Wire: hello line "S <i>\n" / "R <i>\n", server answers "+"; then the sender
// writes fixed-size frames (payloadBytes each) and gets one byte per frame back;
// the receiver reads the same frames.

import { withTimeout } from "./mqtt";
import { TcpConn } from "./tcp";
import type { Client, ClientHandlers, ConnectOptions, Driver, DriverConfig } from "./types";

const enc = new TextEncoder();

class RawClient implements Client {
  private helloDone: (() => void) | null = null;
  private greeted = false;
  private checkedTo = false;

  constructor(
    readonly user: string,
    private readonly role: "S" | "R",
    private readonly idx: number,
    private readonly frame: number,
    private readonly h: ClientHandlers,
    readonly conn: TcpConn,
  ) {
    conn.parser = (b) => this.parse(b);
  }

  async hello(timeoutMs: number) {
    const p = new Promise<void>((res) => (this.helloDone = res));
    this.conn.write(enc.encode(`${this.role} ${this.idx}\n`));
    await withTimeout(p, timeoutMs, `relay hello ack for ${this.user}`);
  }

  send(to: string, payload: Uint8Array): void {
    if (!this.checkedTo) {
      if (this.role !== "S" || to !== `recv${this.idx}`)
        throw new Error(`raw relay: ${this.user} can only send to recv${this.idx}`);
      if (payload.length !== this.frame) throw new Error(`raw relay: payload must be ${this.frame} bytes`);
      this.checkedTo = true;
    }
    const c = this.conn;
    const off = c.reserve(this.frame);
    c.out.set(payload, off);
    c.commit(this.frame);
  }

  async close(): Promise<void> {
    await this.conn.end();
  }

  private parse(buf: Uint8Array): number {
    let off = 0;
    if (!this.greeted) {
      if (buf.length === 0) return 0;
      if (buf[0] !== 0x2b /* '+' */) throw new Error("raw relay: bad hello ack");
      this.greeted = true;
      off = 1;
      const cb = this.helloDone;
      this.helloDone = null;
      cb?.();
    }
    if (this.role === "S") {
      const n = buf.length - off;
      if (n > 0) this.h.onAck(n);
      return buf.length;
    }
    const f = this.frame;
    while (off + f <= buf.length) {
      this.h.onDeliver(buf.subarray(off, off + f));
      off += f;
    }
    return off;
  }
}

export function rawDriver(cfg: DriverConfig): Driver {
  return {
    name: "raw",
    async connect(user: string, h: ClientHandlers, opts: ConnectOptions): Promise<Client> {
      const m = /^(send|recv)(\d+)$/.exec(user);
      if (!m) throw new Error(`raw relay driver: user must be send<i> or recv<i>, got ${user}`);
      const timeoutMs = opts.timeoutMs ?? 10000;
      const conn = await TcpConn.open(cfg.host, cfg.port, (b) => b.length, timeoutMs);
      const cl = new RawClient(user, m[1] === "send" ? "S" : "R", Number(m[2]), cfg.payloadBytes, h, conn);
      conn.onClose = (err) => h.onClose?.(err);
      try {
        await cl.hello(timeoutMs);
      } catch (e) {
        try {
          conn.sock?.terminate();
        } catch {}
        throw e;
      }
      return cl;
    },
  };
}
