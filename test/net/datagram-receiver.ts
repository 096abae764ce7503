// A Unix datagram socket to receive sd_notify messages in tests, in libc through bun:ffi
// (Bun has no Unix datagram sockets of its own).

import { dlopen, FFIType, ptr } from "bun:ffi";
import { notifyAddress } from "../../src/net/sd-notify";

const MSG_DONTWAIT = 0x40;

const libc = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
}).symbols;

export class DatagramReceiver {
  readonly messages: string[] = [];
  private readonly fd: number;
  private readonly buffer = new Uint8Array(4096);

  /** Binds path (or "@name", abstract). */
  constructor(readonly path: string) {
    this.fd = libc.socket(1, 2, 0);
    if (this.fd < 0) throw new Error("socket() failed");
    const { addr, length } = notifyAddress(path);
    if (libc.bind(this.fd, ptr(addr), length) !== 0) throw new Error(`bind ${path} failed`);
  }

  /** The first message (from index from) that pred accepts; polls until timeoutMs. */
  async next(pred: (m: string) => boolean, timeoutMs = 10_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.drain();
      const hit = this.messages.slice(from).find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline)
        throw new Error(`no matching datagram on ${this.path}; got ${JSON.stringify(this.messages)}`);
      await Bun.sleep(10);
    }
  }

  close(): void {
    libc.close(this.fd);
  }

  private drain(): void {
    for (;;) {
      const n = Number(libc.recv(this.fd, ptr(this.buffer), this.buffer.length, MSG_DONTWAIT));
      if (n < 0) return;
      this.messages.push(Buffer.from(this.buffer.subarray(0, n)).toString("utf8"));
    }
  }
}
