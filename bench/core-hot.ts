// CPU per message of the core's light path, in-process: ChatCore with the memory store and
// connections that encode every frame as the TCP shell does, but no sockets. One sender,
// one receiver, one message in flight: SEND with client_msg_id, its answer and the DELIVER,
// the receiver's ACK, the RECEIPT, the sender's ACK of it. For A/B of core changes where a
// whole-server run is too noisy (shared machine): with several source trees, their rounds
// alternate in one process, so a change in the machine's load hits each alike.
//
//   bun bench/core-hot.ts [rounds] [src-dir ...]     # default: this tree's src

import { type BenchConn, benchCore, loadSrc } from "./in-process";

const rounds = Number(process.argv[2] ?? 5);
const dirs = process.argv.length > 3 ? process.argv.slice(3) : ["../src"];
const N = 20_000;

/** Loads the core from dir and logs two accounts in; returns one round of N round trips. */
async function setup(dir: string): Promise<() => Promise<void>> {
  const src = await loadSrc(dir);
  const { wire } = src;
  const store = new src.MemoryStore({
    maxQueuedPerAccount: 1_000_000,
    maxQueuedPerSender: 1_000_000,
    dedupPerSender: 128,
  });
  const { core, open: openConn, next, request, requestId } = benchCore(src, store);

  /**
   * The hot frames, encoded by hand into one buffer as a client would send them and handed
   * over as views into it, as the socket's chunks are: the cost measured is the server's.
   */
  const input = Buffer.allocUnsafeSlow(1 << 20);
  let inputAt = 0;
  const enc = new TextEncoder();
  function field(tagByte: number[], bytes: Uint8Array | number, at: number): number {
    for (const b of tagByte) input[at++] = b;
    if (typeof bytes === "number") return wire.writeVarint(input, at, bytes);
    at = wire.writeVarint(input, at, bytes.length);
    input.set(bytes, at);
    return at + bytes.length;
  }
  const VERSION = enc.encode("1");
  const BOB = enc.encode("bob");
  function frame(opcode: number, fill: (at: number) => number): Uint8Array {
    if (inputAt > input.length - 4096) inputAt = 0;
    const start = inputAt;
    let at = field([0x0a], VERSION, start);
    at = field([0x10], opcode, at);
    at = field([0x30], requestId(), at);
    at = fill(at);
    inputAt = at;
    return input.subarray(start, at);
  }
  const sendFrame = (text: Uint8Array, clientMsgId: number) =>
    frame(wire.Op.SEND_MESSAGE, (at) =>
      field([0x40], clientMsgId, field([0x2a], text, field([0x22], BOB, at))),
    );
  const ackFrame = (id: number) => frame(wire.Op.ACK, (at) => field([0x48], id, at));
  const receiptAckFrame = (id: number) => frame(wire.Op.ACK, (at) => field([0xe0, 0x03], id, at));

  const open = (name: string): BenchConn => openConn(`192.0.2.${name.length}`);

  async function login(c: BenchConn, name: string): Promise<void> {
    await request(c, { opcode: wire.Op.CREATE_ACCOUNT, sender: name, password: "bench password" });
    await request(c, { opcode: wire.Op.LOG_IN, sender: name, password: "bench password" });
  }

  const alice = open("alice");
  const bob = open("bob");
  await login(alice, "alice");
  await login(bob, "bob");

  // Frames are prepared up front: what is measured is the server's side.
  const text = enc.encode("0123456789abcdef".repeat(4));
  let msgId = 2 ** 40;

  async function once(): Promise<void> {
    for (let i = 0; i < N; i++) {
      const answered = next(alice, (f) => f.opcode === wire.Op.SEND_MESSAGE);
      const delivered = next(bob, (f) => f.opcode === wire.Push.DELIVER);
      core.receive(alice.session, sendFrame(text, msgId++));
      await answered;
      const d = await delivered;
      const receipt = next(alice, (f) => f.opcode === wire.Push.RECEIPT);
      core.receive(bob.session, ackFrame(d.messages![0]!.id));
      const r = await receipt;
      core.receive(alice.session, receiptAckFrame(r.receipts![0]!.messageId));
    }
  }
  return once;
}

const runs = [];
for (const dir of dirs) runs.push({ dir, once: await setup(dir), times: [] as number[] });
for (const r of runs) await r.once(); // warm-up
for (let i = 0; i < rounds; i++) {
  for (const r of runs) {
    const c0 = process.cpuUsage();
    await r.once();
    const c = process.cpuUsage(c0);
    r.times.push((c.user + c.system) / N);
  }
}
for (const { dir, times } of runs) {
  times.sort((a, b) => a - b);
  console.log(
    `${dir}: µs per light round trip (SEND, answer, DELIVER, ACK, RECEIPT, ACK), median of ${rounds}: ${times[rounds >> 1]!.toFixed(2)} (min ${times[0]!.toFixed(2)})`,
  );
}
