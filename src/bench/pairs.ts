// The relay workload's moving part: P senders each keeping W messages in flight to their own
// receiver, which checks order and records latency.
import { type BenchClient, utf8 } from "./client";
import { getU32, readStamp, stampNow, writeHeader } from "./header";

export const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Latency samples in ms. */
export class Samples {
  private a = new Float32Array(1 << 16);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  summary() {
    const s = this.a.subarray(0, this.n).sort();
    const q = (p: number) => (this.n ? r3(s[Math.min(this.n - 1, Math.floor(p * this.n))]!) : null);
    return { p50_ms: q(0.5), p99_ms: q(0.99), max_ms: this.n ? r3(s[this.n - 1]!) : null };
  }
}

/** P senders, each sending to its own receiver with at most W unanswered; receivers check order and latency. */
export class Pairs {
  senders: BenchClient[] = [];
  receivers: BenchClient[] = [];
  inflight: Int32Array;
  sent: Float64Array;
  expect: Uint32Array;
  answered = 0;
  sentTotal = 0;
  delivered = 0;
  measured = 0;
  orderErrors = 0;
  lastDelivery = 0;
  measuring = false;
  recordLatency = true;
  running = false;
  latency = new Samples();
  private texts: Uint8Array[];
  private tos: Uint8Array[];

  constructor(
    readonly P: number,
    readonly W: number,
    payload: number,
    readonly limit: (i: number) => number,
  ) {
    this.inflight = new Int32Array(P);
    this.sent = new Float64Array(P);
    this.expect = new Uint32Array(P);
    this.texts = Array.from({ length: P }, () => new Uint8Array(Math.max(32, payload)).fill(0x78));
    this.tos = Array.from({ length: P }, (_, i) => utf8(`recv${i}`));
  }

  receiverOf(i: number, c: BenchClient): void {
    this.receivers[i] = c;
    c.handlers = {
      onAck: () => {},
      onDeliver: (buf, start) => {
        const now = performance.now();
        this.delivered++;
        this.lastDelivery = now;
        const seq = getU32(buf, start + 16);
        if (seq !== this.expect[i] || getU32(buf, start + 24) !== i) this.orderErrors++;
        this.expect[i] = seq + 1;
        if (this.measuring) {
          this.measured++;
          if (this.recordLatency) this.latency.push(now - readStamp(buf, start));
        }
      },
    };
  }

  senderOf(i: number, c: BenchClient): void {
    this.senders[i] = c;
    c.handlers = {
      onDeliver: () => {},
      onAck: (n) => {
        this.inflight[i]! -= n;
        this.answered += n;
        if (this.running) this.pump(i);
      },
    };
  }

  pump(i: number): void {
    let inflight = this.inflight[i]!;
    let sent = this.sent[i]!;
    const limit = this.limit(i);
    if (inflight >= this.W || sent >= limit) return;
    const c = this.senders[i]!;
    const text = this.texts[i]!;
    const to = this.tos[i]!;
    stampNow(); // once per batch: the batch leaves in one write
    while (inflight < this.W && sent < limit) {
      writeHeader(text, sent, i);
      c.send(to, text);
      inflight++;
      sent++;
      this.sentTotal++;
    }
    this.inflight[i] = inflight;
    this.sent[i] = sent;
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.P; i++) this.pump(i);
  }

  refused(): number {
    let n = 0;
    for (const c of this.senders) for (const v of c.refused.values()) n += v;
    return n;
  }
}
