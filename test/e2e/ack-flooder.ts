// Run by test/e2e/wire.test.ts as its own process, so that writing the flood does not slow
// the test's own measurements: N connections to a chat server write 64 KB ACK frames of
// 60,000 packed ids, up to a number of frames each or until the server cuts them off.
//   bun test/e2e/ack-flooder.ts PORT anonymous|logged-in CONNECTIONS FRAMES
// Prints "ready" once connected (and logged in), floods once it reads a line on stdin,
// prints "flooded" when done writing, then one JSON
// line with what each connection got back.

import { encodeFrame, encodeRequest, Op, Push } from "../../src/wire";
import { Writer } from "./writer";

const [port, mode, connections, frames] = process.argv.slice(2);

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
}

const ids = new Array<number>(60_000).fill(7);
const flood = encodeFrame(
  Uint8Array.from([...encodeRequest({ opcode: Op.ACK }), 0x4a, ...varint(ids.length), ...ids]),
);
const frame = (init: Parameters<typeof encodeRequest>[0]) => encodeFrame(encodeRequest(init));

const flooders = await Promise.all(
  Array.from({ length: Number(connections) }, async (_, i) => {
    const w = await Writer.open(Number(port));
    await w.until(() => w.frames.some((f) => f.opcode === Push.HELLO), "HELLO");
    if (mode === "logged-in") {
      const name = `flooder${i}`;
      await w.write(
        frame({ opcode: Op.CREATE_ACCOUNT, sender: name, password: "correct horse", requestId: 1 }),
      );
      await w.write(frame({ opcode: Op.LOG_IN, sender: name, password: "correct horse", requestId: 2 }));
      await w.until(() => w.answers().length === 2, "the login", 30_000);
    }
    w.frames.length = 0;
    return w;
  }),
);
console.log("ready");
// Wait for "go" on stdin: the test measures its baseline first.
for await (const _ of console) break;
const started = performance.now();
await Promise.all(
  flooders.map(async (w) => {
    for (let i = 0; i < Number(frames) && !w.closed; i++) await w.write(flood);
  }),
);
console.log("flooded");
// Answers to what was written may still be on their way: give them a moment to arrive.
await Promise.all(flooders.map((w) => w.until(() => w.closed, "the end", 2000).catch(() => {})));
// How long the server was answering: no flooder can have got more tokens than that allows.
const seconds = (Math.max(...flooders.map((w) => w.lastFrameAt)) - started) / 1000;
console.log(
  JSON.stringify({
    seconds,
    connections: flooders.map((w) => ({
      closed: w.closed,
      statuses: w.answers().map((r) => r.status),
      last: w.answers().at(-1)?.msg ?? "",
    })),
  }),
);
for (const w of flooders) w.kill();
