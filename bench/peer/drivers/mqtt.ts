// A minimal MQTT 3.1.1 client, written for the benchmark (not a general client):
// CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH QoS1/PUBACK (both directions),
// PINGREQ/PINGRESP, DISCONNECT.  No QoS2, no retained, no will, no auth.
//
// Mapping onto the chat driver interface:
//   connect(user)      CONNECT clientId=user (clean-session = !persistent), then
//                      SUBSCRIBE "u/<user>" QoS1 (skipped when the broker says the
//                      persistent session is already present)
//   send(to, payload)  PUBLISH QoS1 topic "u/<to>"; the broker's PUBACK is the ack
//   onDeliver          PUBLISH from the broker; we answer PUBACK at once
//   close()            DISCONNECT

import { TcpConn } from "./tcp";
import type { Client, ClientHandlers, ConnectOptions, Driver, DriverConfig } from "./types";

const enc = new TextEncoder();
const KEEPALIVE_S = 60;

function strBytes(s: string): Uint8Array {
  const b = enc.encode(s);
  const o = new Uint8Array(2 + b.length);
  o[0] = b.length >> 8;
  o[1] = b.length & 255;
  o.set(b, 2);
  return o;
}

/** Encode the MQTT variable-length "remaining length" at out[off]; returns bytes used. */
function putRL(out: Uint8Array, off: number, rl: number): number {
  let i = 0;
  do {
    let b = rl % 128;
    rl = Math.floor(rl / 128);
    if (rl > 0) b |= 128;
    out[off + i++] = b;
  } while (rl > 0);
  return i;
}
function rlSize(rl: number): number {
  return rl < 128 ? 1 : rl < 16384 ? 2 : rl < 2097152 ? 3 : 4;
}

function packet(type: number, body: Uint8Array): Uint8Array {
  const o = new Uint8Array(1 + rlSize(body.length) + body.length);
  o[0] = type;
  const n = putRL(o, 1, body.length);
  o.set(body, 1 + n);
  return o;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const o = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    o.set(p, off);
    off += p.length;
  }
  return o;
}

const topicCache = new Map<string, Uint8Array>(); // "to" -> 2-byte length + "u/<to>"
function topicFor(to: string): Uint8Array {
  let t = topicCache.get(to);
  if (!t) {
    t = strBytes(`u/${to}`);
    topicCache.set(to, t);
  }
  return t;
}

class MqttClient implements Client {
  readonly conn: TcpConn;
  private nextPid = 1;
  private connack: ((v: { rc: number; sessionPresent: boolean }) => void) | null = null;
  private suback: ((rc: number) => void) | null = null;
  private pingWaiters: (() => void)[] = [];

  constructor(
    readonly user: string,
    private h: ClientHandlers,
    conn: TcpConn,
  ) {
    this.conn = conn;
    conn.parser = (b) => this.parse(b);
  }

  private pid(): number {
    const p = this.nextPid;
    this.nextPid = p === 65535 ? 1 : p + 1;
    return p;
  }

  async handshake(persistent: boolean, timeoutMs: number): Promise<void> {
    const flags = persistent ? 0x00 : 0x02; // bit1 = clean session
    const body = concat(
      strBytes("MQTT"),
      new Uint8Array([4, flags, KEEPALIVE_S >> 8, KEEPALIVE_S & 255]),
      strBytes(this.user),
    );
    const ca = new Promise<{ rc: number; sessionPresent: boolean }>((res) => (this.connack = res));
    this.conn.write(packet(0x10, body));
    const r = await withTimeout(ca, timeoutMs, `CONNACK for ${this.user}`);
    if (r.rc !== 0) throw new Error(`CONNACK rc=${r.rc} for ${this.user}`);
    if (persistent && r.sessionPresent) return; // subscription survives in the session
    const pid = this.pid();
    const sb = new Promise<number>((res) => (this.suback = res));
    this.conn.write(
      packet(
        0x82,
        concat(new Uint8Array([pid >> 8, pid & 255]), strBytes(`u/${this.user}`), new Uint8Array([1])),
      ),
    );
    const rc = await withTimeout(sb, timeoutMs, `SUBACK for ${this.user}`);
    if (rc === 0x80) throw new Error(`SUBSCRIBE refused for ${this.user}`);
  }

  send(to: string, payload: Uint8Array): void {
    const t = topicFor(to);
    const rl = t.length + 2 + payload.length;
    const hl = 1 + rlSize(rl);
    const c = this.conn;
    const off = c.reserve(hl + rl);
    const o = c.out;
    o[off] = 0x32; // PUBLISH, QoS1
    putRL(o, off + 1, rl);
    let p = off + hl;
    o.set(t, p);
    p += t.length;
    const id = this.pid();
    o[p] = id >> 8;
    o[p + 1] = id & 255;
    o.set(payload, p + 2);
    c.commit(hl + rl);
  }

  ping(): Promise<void> {
    return new Promise((res) => {
      this.pingWaiters.push(res);
      this.conn.write(new Uint8Array([0xc0, 0x00]));
    });
  }

  async close(): Promise<void> {
    if (this.conn.closed) return;
    this.conn.write(new Uint8Array([0xe0, 0x00]));
    await this.conn.end();
  }

  private parse(buf: Uint8Array): number {
    const len = buf.length;
    let off = 0;
    let acks = 0;
    let c: TcpConn | null = null;
    while (off + 2 <= len) {
      const b0 = buf[off]!;
      let i = off + 1;
      let rl = 0;
      let mult = 1;
      let byte: number;
      let complete = true;
      do {
        if (i >= len) {
          complete = false;
          break;
        }
        byte = buf[i++]!;
        rl += (byte & 127) * mult;
        mult *= 128;
      } while (byte & 128);
      if (!complete || i + rl > len) break;
      const end = i + rl;
      switch (b0 >> 4) {
        case 3: {
          // PUBLISH
          const qos = (b0 >> 1) & 3;
          const tl = (buf[i]! << 8) | buf[i + 1]!;
          let p = i + 2 + tl;
          if (qos > 0) {
            if (!c) c = this.conn;
            const off2 = c.reserve(4);
            const o = c.out;
            o[off2] = 0x40;
            o[off2 + 1] = 2;
            o[off2 + 2] = buf[p]!;
            o[off2 + 3] = buf[p + 1]!;
            c.commit(4);
            p += 2;
          }
          this.h.onDeliver(buf.subarray(p, end));
          break;
        }
        case 4:
          acks++;
          break; // PUBACK
        case 2: {
          // CONNACK
          const cb = this.connack;
          this.connack = null;
          cb?.({ sessionPresent: (buf[i]! & 1) === 1, rc: buf[i + 1]! });
          break;
        }
        case 9: {
          // SUBACK
          const cb = this.suback;
          this.suback = null;
          cb?.(buf[i + 2]!);
          break;
        }
        case 13: {
          // PINGRESP
          const w = this.pingWaiters.shift();
          w?.();
          break;
        }
        default:
          break;
      }
      off = end;
    }
    if (acks) this.h.onAck(acks);
    return off;
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`timeout waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        res(v);
      },
      (e) => {
        clearTimeout(t);
        rej(e);
      },
    );
  });
}

export function mqttDriver(cfg: DriverConfig): Driver {
  return {
    name: "mqtt",
    async connect(user: string, h: ClientHandlers, opts: ConnectOptions): Promise<Client> {
      const timeoutMs = opts.timeoutMs ?? 10000;
      const conn = await TcpConn.open(cfg.host, cfg.port, (b) => b.length, timeoutMs);
      const cl = new MqttClient(user, h, conn);
      conn.onClose = (err) => h.onClose?.(err);
      try {
        await cl.handshake(opts.persistent, timeoutMs);
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
