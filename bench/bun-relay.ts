// relay.c's protocol (its batched mode, bench/peer/relay.c) served by Bun: the runtime's own
// floor for "read a frame, write it to another socket", with no protocol, store or logic.
// Driven by the peer harness's raw driver, it shows how much of a light round trip is the
// runtime and the kernel, and how much is chat's own path (docs/PERFORMANCE.md).
//
//   bun bench/bun-relay.ts 19510 &
//   (cd bench/peer && bun harness.ts --driver raw --label bun-raw --port 19510 --pid $! \
//      --workload relay --pairs 1 --window 1 --payload 64 --warmup 1 --duration 5)
//
// Loopback only; one process, no limits: a bench tool, not a server.

import type { Socket } from "bun";

const port = Number(process.argv[2] ?? 19510);
const FRAME = Number(process.argv[3] ?? 64);

interface Conn {
  role: "new" | "sender" | "receiver";
  idx: number;
  hello: string;
  /** Sender: bytes of the frame not yet complete. */
  partial: number;
  /** Bytes the socket did not take yet, in order. */
  out: Uint8Array[];
}

const receivers = new Map<number, Socket<Conn>>();
/** Bytes for a receiver not connected yet. */
const waiting = new Map<number, Uint8Array[]>();

function send(s: Socket<Conn>, b: Uint8Array): void {
  if (s.data.out.length > 0) {
    s.data.out.push(b.slice());
    return;
  }
  const n = s.write(b);
  if (n < b.length) s.data.out.push(b.slice(Math.max(0, n)));
}

Bun.listen<Conn>({
  hostname: "127.0.0.1",
  port,
  socket: {
    open(s) {
      s.data = { role: "new", idx: -1, hello: "", partial: 0, out: [] };
      s.setNoDelay(true);
    },
    data(s, d) {
      const c = s.data;
      let at = 0;
      if (c.role === "new") {
        const nl = d.indexOf(10);
        if (nl < 0) {
          c.hello += Buffer.from(d).toString();
          return;
        }
        const line = c.hello + Buffer.from(d.subarray(0, nl)).toString();
        at = nl + 1;
        c.role = line[0] === "S" ? "sender" : "receiver";
        c.idx = Number(line.slice(2));
        send(s, Uint8Array.of(0x2b));
        if (c.role === "receiver") {
          receivers.set(c.idx, s);
          for (const b of waiting.get(c.idx) ?? []) send(s, b);
          waiting.delete(c.idx);
        }
      }
      if (c.role !== "sender" || at >= d.length) return;
      const bytes = d.subarray(at);
      const r = receivers.get(c.idx);
      if (r) send(r, bytes);
      else {
        const q = waiting.get(c.idx) ?? [];
        q.push(bytes.slice());
        waiting.set(c.idx, q);
      }
      // One ack byte per complete frame, all of this read's in one write.
      const total = c.partial + bytes.length;
      const frames = Math.floor(total / FRAME);
      c.partial = total % FRAME;
      if (frames > 0) send(s, new Uint8Array(frames).fill(0x61));
    },
    drain(s) {
      const out = s.data.out;
      while (out.length > 0) {
        const b = out[0]!;
        const n = s.write(b);
        if (n < b.length) {
          out[0] = b.slice(Math.max(0, n));
          return;
        }
        out.shift();
      }
    },
    close(s) {
      if (s.data.role === "receiver" && receivers.get(s.data.idx) === s) receivers.delete(s.data.idx);
    },
  },
});
console.error(`bun relay listening on 127.0.0.1:${port}`);
