// TcpConn: a lean Bun TCP connection with an output buffer that drivers write
// frames into directly, flushed once per event-loop turn (one write() syscall
// for many frames), plus reassembly of partial input frames.
//
// Bun's socket.write() does not buffer: it returns how many bytes the kernel
// took, and the rest must be kept until the `drain` callback.  That is done here.

import type { Socket } from "bun";

/** Parse as many whole frames from buf as possible; return bytes consumed. */
export type FrameParser = (buf: Uint8Array) => number;

/** Process-wide I/O counters (read callbacks / write calls / bytes), for
 *  judging whether the harness is the bottleneck (syscalls per message). */
export const ioStats = { reads: 0, readBytes: 0, writes: 0, writeBytes: 0 };

const dirty: TcpConn[] = [];
let flushQueued = false;
function flushAll() {
  flushQueued = false;
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

export class TcpConn {
  sock: Socket<undefined> | null = null;
  out: Uint8Array = new Uint8Array(16 * 1024);
  outLen = 0;
  private blocked = false;
  private isDirty = false;
  private carry: Uint8Array | null = null;
  closed = false;
  private closeWaiters: (() => void)[] = [];
  /** set by the owner; called once when the socket closes */
  onClose: (err?: Error) => void = () => {};
  parser: FrameParser = (b) => b.length;

  static open(host: string, port: number, parser: FrameParser, timeoutMs = 10000): Promise<TcpConn> {
    const c = new TcpConn();
    c.parser = parser;
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        try {
          c.sock?.terminate();
        } catch {}
        reject(new Error(`connect timeout ${host}:${port}`));
      }, timeoutMs);
      Bun.connect({
        hostname: host,
        port,
        socket: {
          open(s) {
            c.sock = s as Socket<undefined>;
            try {
              s.setNoDelay(true);
            } catch {}
          },
          data(_s, d) {
            c.onData(d);
          },
          drain() {
            c.blocked = false;
            c.flush();
          },
          close(_s, err) {
            c.handleClose(err ?? undefined);
          },
          error(_s, err) {
            c.handleClose(err);
          },
          connectError(_s, err) {
            if (!settled) {
              settled = true;
              clearTimeout(timer);
              reject(err);
            }
          },
        },
      }).then(
        (s) => {
          if (settled) {
            try {
              s.terminate();
            } catch {}
            return;
          }
          settled = true;
          clearTimeout(timer);
          c.sock = s as Socket<undefined>;
          resolve(c);
        },
        (err) => {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(err);
          }
        },
      );
    });
  }

  private onData(d: Uint8Array) {
    ioStats.reads++;
    ioStats.readBytes += d.length;
    let buf = d;
    if (this.carry) {
      const m = new Uint8Array(this.carry.length + d.length);
      m.set(this.carry, 0);
      m.set(d, this.carry.length);
      buf = m;
      this.carry = null;
    }
    const used = this.parser(buf);
    if (used < buf.length) this.carry = buf.slice(used);
    this.flush(); // replies queued while parsing (acks) go out in one write
  }

  /** Make room for n more output bytes; returns the offset to write them at.
   *  The caller writes into this.out[off .. off+n) and then calls commit(n). */
  reserve(n: number): number {
    const need = this.outLen + n;
    if (need > this.out.length) {
      let cap = this.out.length * 2;
      while (cap < need) cap *= 2;
      const o = new Uint8Array(cap);
      o.set(this.out.subarray(0, this.outLen));
      this.out = o;
    }
    return this.outLen;
  }

  commit(n: number) {
    this.outLen += n;
    if (!this.isDirty) {
      this.isDirty = true;
      dirty.push(this);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flushAll);
      }
    }
  }

  write(bytes: Uint8Array) {
    const off = this.reserve(bytes.length);
    this.out.set(bytes, off);
    this.commit(bytes.length);
  }

  flush() {
    this.isDirty = false;
    if (this.outLen === 0 || this.blocked || !this.sock || this.closed) return;
    const n = this.sock.write(this.out.subarray(0, this.outLen));
    ioStats.writes++;
    if (n < 0) return; // closed; close callback follows
    ioStats.writeBytes += n;
    if (n < this.outLen) {
      this.out.copyWithin(0, n, this.outLen);
      this.outLen -= n;
      this.blocked = true;
    } else {
      this.outLen = 0;
    }
  }

  private handleClose(err?: Error) {
    if (this.closed) return;
    this.closed = true;
    this.onClose(err);
    for (const w of this.closeWaiters) w();
    this.closeWaiters = [];
  }

  /** Flush, half-close and wait (bounded) for the socket to close. */
  end(timeoutMs = 2000): Promise<void> {
    if (this.closed || !this.sock) return Promise.resolve();
    this.flush();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        try {
          this.sock?.terminate();
        } catch {}
        this.handleClose();
        resolve();
      }, timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      try {
        this.sock!.end();
      } catch {
        this.handleClose();
      }
    });
  }
}
