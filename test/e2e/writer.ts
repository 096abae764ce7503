// A raw protocol connection for bursts and floods: writes a byte stream in full and
// collects the frames it gets back.

import type { Socket } from "bun";
import { decodeReply, FrameDecoder, Push, type Reply } from "../../src/wire";

/**
 * A connection that writes a byte stream in full, waiting for the socket to drain (Bun's
 * write takes what fits and returns the count), and collects the frames it gets back.
 */
export class Writer {
  readonly frames: Reply[] = [];
  /** When the last frame arrived (performance.now()). */
  lastFrameAt = 0;
  closed = false;
  private pending: Uint8Array[] = [];
  private decoder = new FrameDecoder(16 * 1024 * 1024);
  private socket!: Socket<undefined>;
  private drained: (() => void) | null = null;

  static async open(port: number): Promise<Writer> {
    const w = new Writer();
    w.socket = await Bun.connect<undefined>({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, d) => {
          for (const f of w.decoder.push(d)) w.frames.push(decodeReply(f));
          w.lastFrameAt = performance.now();
        },
        drain: () => w.flush(),
        close: () => {
          w.closed = true;
          w.flush();
        },
        error: () => {
          w.closed = true;
        },
      },
    });
    return w;
  }

  /** Writes bytes; resolves when all of them are with the kernel (or the socket closed). */
  write(bytes: Uint8Array): Promise<void> {
    this.pending.push(bytes);
    return new Promise((resolve) => {
      this.drained = resolve;
      this.flush();
    });
  }

  private flush(): void {
    while (this.pending.length && !this.closed) {
      const head = this.pending[0]!;
      const n = this.socket.write(head);
      if (n < head.length) {
        this.pending[0] = head.subarray(Math.max(0, n));
        return;
      }
      this.pending.shift();
    }
    const done = this.drained;
    this.drained = null;
    done?.();
  }

  async until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await Bun.sleep(5);
    }
  }

  answers(): Reply[] {
    return this.frames.filter((f) => f.opcode < Push.DELIVER);
  }

  end(): void {
    this.socket.end();
  }

  kill(): void {
    this.socket.terminate();
  }
}
