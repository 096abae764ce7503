// A plain TCP connection from a given loopback address that counts PING answers and
// refusals: the flooder of the request-budget tests.

import type { Socket } from "bun";
import { decodeReply, FrameDecoder, Op, Status } from "../../src/wire";

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
