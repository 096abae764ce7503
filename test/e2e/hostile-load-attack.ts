// The attackers of hostile-load.test.ts, in a process of their own so that generating the
// attack does not slow the test's own measurements. Runs for DURATION ms, then prints one
// JSON line of what each kind did and exits.
//
//   ATTACK_KINDS=handshake,ack bun test/e2e/hostile-load-attack.ts PORT DURATION_MS ACCOUNT_PREFIX PASSWORD

import net from "node:net";
import type { Socket } from "bun";
import { encodeFrame, encodeRequest, FrameDecoder, Op, type RequestInit } from "../../src/wire";

const [port, durationMs, prefix, password] = [
  Number(process.argv[2]),
  Number(process.argv[3]),
  process.argv[4]!,
  process.argv[5]!,
];
const until = performance.now() + durationMs;
const running = () => performance.now() < until;
const frame = (init: RequestInit) => encodeFrame(encodeRequest(init));
/**
 * Each kind connects from an address of its own (the pair in the test from 127.0.0.1): five
 * attacking addresses, each with many connections, which the server's per-address budgets
 * hold to one share each. ATTACK_FROM puts them all on one address instead.
 */
const ADDRESSES: Record<string, string> = {
  handshake: "127.0.0.2",
  handshake2: "127.0.0.2",
  ack: "127.0.0.3",
  list: "127.0.0.4",
  nonreader: "127.0.0.5",
  mailbox: "127.0.0.6",
  stuck: "127.0.0.7",
};
const from = (kind: string) => process.env.ATTACK_FROM ?? ADDRESSES[kind] ?? "127.0.0.8";

/** Counts per kind: connections opened, closed by the server, frames written and read. */
const stats: Record<string, { opened: number; closedByServer: number; written: number; read: number }> = {};
const stat = (kind: string) => {
  stats[kind] ??= { opened: 0, closedByServer: 0, written: 0, read: 0 };
  return stats[kind]!;
};

interface Tls {
  socket: Socket<undefined>;
  closed: boolean;
  /** Resolves with each answer's request id as it arrives. */
  onFrame: (f: Uint8Array) => void;
  onDrain: () => void;
}

/** A TLS connection, once its HELLO has arrived (before that, writes are dropped). */
async function tls(kind: string, onFrame: (f: Uint8Array) => void = () => {}): Promise<Tls> {
  const decoder = new FrameDecoder(1 << 24);
  let hello: () => void = () => {};
  const helloSeen = new Promise<void>((r) => {
    hello = r;
  });
  const c: Tls = {
    socket: null as never,
    closed: false,
    onFrame: () => {
      c.onFrame = onFrame;
      hello();
    },
    onDrain: () => {},
  };
  c.socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    // Bun takes localAddress as node:net does; its types do not list it.
    ...({ localAddress: from(kind) } as object),
    tls: { rejectUnauthorized: false },
    socket: {
      data(_s, d) {
        for (const f of decoder.push(d)) {
          stat(kind).read++;
          c.onFrame(f);
        }
      },
      drain() {
        c.onDrain();
      },
      close() {
        if (!c.closed && running()) stat(kind).closedByServer++;
        c.closed = true;
      },
      error() {
        c.closed = true;
      },
    },
  });
  stat(kind).opened++;
  await Promise.race([helloSeen, Bun.sleep(10_000)]);
  return c;
}

/** Waits for the HELLO and logs in as name (the answer to request 1). */
async function login(kind: string, name: string): Promise<Tls> {
  let answered: () => void = () => {};
  const done = new Promise<void>((r) => {
    answered = r;
  });
  const c = await tls(kind, () => answered());
  c.socket.write(frame({ opcode: Op.LOG_IN, requestId: 1, sender: name, password }));
  await Promise.race([done, Bun.sleep(10_000)]);
  return c;
}

/** Keeps one attacker of a kind going until the end, reconnecting when cut. */
async function forever(run: () => Promise<void>): Promise<void> {
  while (running()) {
    try {
      await run();
    } catch {
      await Bun.sleep(50);
    }
  }
}

// 50: TLS handshakes started and never finished.
function halfHandshake(): Promise<void> {
  return new Promise((done) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress: from("handshake") }, () => {
      stat("handshake").opened++;
      s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    });
    const end = setTimeout(() => s.destroy(), Math.max(0, until - performance.now()));
    s.on("close", () => {
      clearTimeout(end);
      if (running()) stat("handshake").closedByServer++;
      done();
    });
    s.on("error", () => {});
  });
}

// 40: ACK frames of 10,000 ids each, as fast as the socket takes them, without logging in.
const ackFrame = frame({
  opcode: Op.ACK,
  ackIds: Array.from({ length: 10_000 }, (_, i) => 2 ** 40 + i * 997),
});
async function ackFlood(): Promise<void> {
  const c = await tls("ack");
  // At most 50 frames (3 MB) each: far more than the server reads from them in a run, and
  // more would only be encrypted into this process's buffers, at the cost of its CPU.
  await pump(c, "ack", () => ackFrame, 50);
}

/** Writes frames while the socket takes them, waiting for drain when it does not. */
async function pump(c: Tls, kind: string, next: () => Uint8Array, maxWrites = Infinity): Promise<void> {
  for (let writes = 0; running() && !c.closed; writes++) {
    if (writes >= maxWrites) {
      await Bun.sleep(50); // enough is in the pipe; only waste would follow
      continue;
    }
    const f = next();
    const n = c.socket.write(f);
    if (n < 0) break;
    stat(kind).written++;
    if (n < f.length) {
      await new Promise<void>((r) => {
        c.onDrain = r;
        setTimeout(r, 100);
      });
      if (n > 0 && !c.closed) c.socket.write(f.subarray(n));
    } else await Bun.sleep(0);
  }
  c.socket.end();
}

// 40: logged-in LIST floods that read their answers, 20 in flight.
async function listFlood(name: string): Promise<void> {
  const c = await login("list", name);
  let inFlight = 0;
  let id = 10;
  c.onFrame = () => {
    inFlight = Math.max(0, inFlight - 1);
  };
  while (running() && !c.closed) {
    while (inFlight < 20) {
      c.socket.write(frame({ opcode: Op.LIST_ACCOUNTS, msg: "*", pageSize: 1000, requestId: id++ }));
      stat("list").written++;
      inFlight++;
    }
    await Bun.sleep(1);
  }
  c.socket.end();
}

// 40: logged-in pipeliners that never read: LIST pages until the server stops reading them.
async function nonReader(name: string): Promise<void> {
  const c = await login("nonreader", name);
  c.socket.pause();
  let id = 10;
  // 64 frames a write, at most 1,000 writes (1.6 MB): the TLS socket takes whatever it is
  // given into this process's buffers, so writing more only spends this process's CPU,
  // which on a small machine is the server's too.
  await pump(
    c,
    "nonreader",
    () => {
      const frames = Array.from({ length: 64 }, () =>
        frame({ opcode: Op.LIST_ACCOUNTS, msg: "*", pageSize: 1000, requestId: id++ }),
      );
      return Buffer.concat(frames);
    },
    1000,
  );
}

// 100: logged-in clients that ask for 3 LIST pages each and never read them: their answers
// sit in the server's buffers (and the kernel's) for the whole run.
async function stuckReader(name: string): Promise<void> {
  const c = await login("stuck", name);
  c.socket.pause();
  for (let id = 10; id < 13; id++) {
    c.socket.write(frame({ opcode: Op.LIST_ACCOUNTS, msg: "*", pageSize: 1000, requestId: id }));
    stat("stuck").written++;
  }
  while (running() && !c.closed) await Bun.sleep(50);
  c.socket.end();
}

// 30: logged-in senders filling one mailbox, 50 messages in flight each.
async function mailboxFiller(name: string, victim: string): Promise<void> {
  const c = await login("mailbox", name);
  let inFlight = 0;
  let id = 10;
  c.onFrame = () => {
    inFlight = Math.max(0, inFlight - 1);
  };
  while (running() && !c.closed) {
    while (inFlight < 50) {
      c.socket.write(
        frame({ opcode: Op.SEND_MESSAGE, receiver: victim, msg: `fill ${id}`, requestId: id++ }),
      );
      stat("mailbox").written++;
      inFlight++;
    }
    await Bun.sleep(1);
  }
  c.socket.end();
}

/** ATTACK_KINDS (comma-separated): which attackers to run. */
const kinds = new Set((process.env.ATTACK_KINDS ?? "handshake,ack,list,nonreader,mailbox").split(","));
const attackers: Promise<void>[] = [];
const start = (kind: string, n: number, run: (i: number) => Promise<void>) => {
  if (kinds.has(kind)) for (let i = 0; i < n; i++) attackers.push(forever(() => run(i)));
};
start("handshake", 50, halfHandshake);
start("ack", 40, ackFlood);
start("list", 40, (i) => listFlood(`${prefix}${i}`));
start("nonreader", 40, (i) => nonReader(`${prefix}${40 + i}`));
start("mailbox", 30, (i) => mailboxFiller(`${prefix}${80 + i}`, "carol"));
// The kinds whose limits are all in the network shell: more handshakes, stuck readers.
start("handshake2", 50, halfHandshake);
start("stuck", 100, (i) => stuckReader(`${prefix}${i}`));
await Promise.race([Promise.all(attackers), Bun.sleep(durationMs + 5000)]);
console.log(JSON.stringify(stats));
process.exit(0);
