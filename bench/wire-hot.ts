// CPU per frame of the relay's hot frames through the wire code, in-process: decoding a
// SEND_MESSAGE with client_msg_id, encoding its answer and the DELIVER push into a
// connection-sized buffer. For A/B of codec changes where a whole-server run is too noisy
// (shared machine): with several wire directories their rounds alternate in one process,
// so a change in the machine's load hits each alike.
//
//   bun bench/wire-hot.ts [rounds] [wire-dir ...]     # default: this tree's src/wire

import { encodeRequest } from "../src/wire/codec";
import { writeVarint } from "../src/wire/varint";

const rounds = Number(process.argv[2] ?? 5);
const dirs = process.argv.length > 3 ? process.argv.slice(3) : ["../src/wire"];
const N = 200_000;
const text = `${"0123456789abcdef".repeat(2)}${"x".repeat(32)}`;
// Buffers, as the socket's chunks are (the reader takes a Buffer as it is).
const sends = Array.from({ length: 64 }, (_, i) =>
  Buffer.from(
    encodeRequest({
      version: "1",
      opcode: 3,
      receiver: "recv12",
      msg: text,
      requestId: i + 1,
      clientMsgId: 2 ** 40 + i,
    }),
  ),
);
const out = Buffer.allocUnsafeSlow(16 * 1024);

async function load(dir: string): Promise<() => number> {
  const { readRequest } = (await import(
    `${dir}/request-reader.ts`
  )) as typeof import("../src/wire/request-reader");
  const { replySize, writeReply } = (await import(
    `${dir}/reply-writer.ts`
  )) as typeof import("../src/wire/reply-writer");
  return () => {
    let at = 0;
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const req = readRequest(sends[i & 63]!);
      const push = {
        opcode: 100,
        messages: [{ id: 1_000_000 + i, sender: "send12", text: req.msg, sentAt: 1_764_590_000_000 + i }],
      };
      const answer = {
        opcode: 3,
        requestId: req.requestId,
        messageId: 1_000_000 + i,
        sentAt: 1_764_590_000_000 + i,
        delivery: 1,
        msg: "sent to recv12",
      };
      for (const f of [push, answer]) {
        if (at > out.length - 512) at = 0;
        const size = replySize(f);
        at = writeReply(out, writeVarint(out, at, size), f);
      }
      sum += at;
    }
    return sum;
  };
}

const runs = [];
for (const dir of dirs) runs.push({ dir, once: await load(dir), times: [] as number[] });
for (const r of runs) r.once(); // warm-up
for (let i = 0; i < rounds; i++) {
  for (const r of runs) {
    const c0 = process.cpuUsage();
    r.once();
    const c = process.cpuUsage(c0);
    r.times.push(((c.user + c.system) * 1000) / N);
  }
}
for (const { dir, times } of runs) {
  times.sort((a, b) => a - b);
  console.log(
    `${dir}: ns per SEND decoded + push and answer encoded, median of ${rounds}: ${times[rounds >> 1]!.toFixed(0)} (min ${times[0]!.toFixed(0)})`,
  );
}
