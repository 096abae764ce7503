// A plain TCP connection from a given loopback address that counts PING answers and
// refusals: the flooder of the request-budget tests.

import type { Socket } from "bun";
import { decodeReply, FrameDecoder, Op, Status } from "../../src/wire";
import type { RawClient } from "./harness";

export interface Flooder {
  socket: Socket<undefined>;
  answers: number;
  refusals: number;
  closed: boolean;
}

/** A plain TCP connection from `from` that counts PING answers and refusals. */
export async function flooder(port: number, from: string): Promise<Flooder> {
  const decoder = new FrameDecoder(1 << 20);
  const f: Flooder = { socket: null as never, answers: 0, refusals: 0, closed: false };
  f.socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    // Bun takes localAddress as node:net does; its types do not list it.
    ...({ localAddress: from } as object),
    socket: {
      data(_s, d) {
        for (const frame of decoder.push(d)) {
          const r = decodeReply(frame);
          if (r.opcode !== Op.PING) continue;
          if (r.status === Status.OK) f.answers++;
          else f.refusals++;
        }
      },
      close() {
        f.closed = true;
      },
    },
  });
  return f;
}

/**
 * PINGs from `client` one at a time, `gapMs` apart, until `untilMs` after `started`; returns
 * each round trip's milliseconds, sorted. A refused PING throws.
 */
export async function pingSteadily(client: RawClient, started: number, untilMs: number, gapMs: number) {
  const took: number[] = [];
  while (performance.now() - started < untilMs) {
    const t = performance.now();
    const r = await client.request({ opcode: Op.PING });
    if (r.status !== Status.OK) throw new Error(`a PING was refused: status ${r.status}`);
    took.push(performance.now() - t);
    await Bun.sleep(gapMs);
  }
  return took.sort((a, b) => a - b);
}

/** PINGs the flooders had answered, and refused. */
export const answeredOf = (flooders: Flooder[]) => flooders.reduce((n, f) => n + f.answers, 0);
export const refusedOf = (flooders: Flooder[]) => flooders.reduce((n, f) => n + f.refusals, 0);
