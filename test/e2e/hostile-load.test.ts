// The hostile-load test: while 200 attacking connections (hostile-load-attack.ts, in its own
// process) run the worst at once — unfinished TLS handshakes, ACK floods, LIST floods,
// pipeliners that never read, senders filling a mailbox — a normal pair keeps chatting over
// TLS with a p99 round trip under 50 ms, and the server's RSS stays bounded.
// The figures it prints are the ones docs/SECURITY.md quotes.

import { expect, test } from "bun:test";
import { join, resolve } from "node:path";
import type { Socket } from "bun";
import { SEND_ADDRESS_TOKENS } from "../../src/core/ratelimit";
import { DEFAULT_ADDRESS_BURST, DEFAULT_ADDRESS_RATE } from "../../src/net/address-budget";
import {
  decodeReply,
  encodeFrame,
  encodeRequest,
  FrameDecoder,
  Op,
  Push,
  type Reply,
  Status,
} from "../../src/wire";
import { track } from "../processes";
import { rssKiB, startServer, tempDir } from "./harness";

const ATTACK_MS = 7000;
/**
 * The bound, on top of what the machine itself adds: the p99 of the same pair, paced
 * the same way, just before the attack (milliseconds on an idle machine; tens of ms on a
 * 2-core machine shared with other work, where even a quiet server's p99 can pass 50 ms).
 */
const P99_BOUND_MS = 50;
/** The pair chats at 200 round trips a second: busy, far beyond people, and under the budgets. */
const PAIR_PACE_MS = 5;
/** Server RSS above what it was with the pair alone: measured up to 33 MiB (docs/SECURITY.md). */
const RSS_GROWTH_BOUND_KIB = 96 * 1024;
const PASSWORD = "correct horse";

/** A TLS protocol client that skips verification (the certificate is made for this run). */
class TlsClient {
  readonly frames: Reply[] = [];
  private readonly decoder = new FrameDecoder(1 << 24);
  private waiters: (() => void)[] = [];
  private nextId = 1;
  socket!: Socket<undefined>;

  static async open(port: number, from = "127.0.0.1"): Promise<TlsClient> {
    const c = new TlsClient();
    c.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      // Bun takes localAddress as node:net does; its types do not list it.
      ...({ localAddress: from } as object),
      tls: { rejectUnauthorized: false },
      socket: {
        data: (_s, d) => {
          for (const f of c.decoder.push(d)) c.frames.push(decodeReply(f));
          const w = c.waiters;
          c.waiters = [];
          for (const f of w) f();
        },
      },
    });
    await c.next((f) => f.opcode === Push.HELLO, "HELLO");
    return c;
  }

  send(init: Parameters<typeof encodeRequest>[0]): number {
    const requestId = this.nextId++;
    this.socket.write(encodeFrame(encodeRequest({ requestId, ...init })));
    return requestId;
  }

  async request(init: Parameters<typeof encodeRequest>[0]): Promise<Reply> {
    const id = this.send(init);
    return this.next((f) => f.requestId === id && f.opcode < 100, `answer ${id}`);
  }

  /** The first frame matching pred, removed from the list. */
  async next(pred: (r: Reply) => boolean, what: string, timeoutMs = 5000): Promise<Reply> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

/** One message each way: alice → bob (pushed, acked), bob → alice. Milliseconds. */
async function roundTrip(alice: TlsClient, bob: TlsClient, n: number): Promise<number> {
  const started = performance.now();
  alice.send({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `ping ${n}` });
  const atBob = await bob.next(
    (f) => f.opcode === Push.DELIVER && f.messages[0]?.text === `ping ${n}`,
    "ping",
  );
  bob.send({ opcode: Op.ACK, ackIds: atBob.messages.map((m) => m.id) });
  bob.send({ opcode: Op.SEND_MESSAGE, receiver: "alice", msg: `pong ${n}` });
  const atAlice = await alice.next(
    (f) => f.opcode === Push.DELIVER && f.messages[0]?.text === `pong ${n}`,
    "pong",
  );
  const took = performance.now() - started;
  alice.send({ opcode: Op.ACK, ackIds: atAlice.messages.map((m) => m.id) });
  alice.frames.length = 0; // SEND answers, heartbeats
  bob.frames.length = 0;
  return took;
}

/** A round trip, then a pause so that they start PAIR_PACE_MS apart. */
async function pacedRoundTrip(alice: TlsClient, bob: TlsClient, n: number): Promise<number> {
  const took = await roundTrip(alice, bob, n);
  if (took < PAIR_PACE_MS) await Bun.sleep(PAIR_PACE_MS - took);
  return took;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

interface Figures {
  trips: number;
  p50: number;
  p99: number;
  max: number;
  quietP99: number;
  rssQuietKiB: number;
  rssMaxKiB: number;
  stats: Record<string, { opened: number; closedByServer: number; written: number; read: number }>;
}

/** Starts a TLS server, runs the attackers of `kinds` for ATTACK_MS, measures a chatting pair. */
async function hostileLoad(kinds: string[], serverArgs: string[]): Promise<Figures> {
  const dir = tempDir();
  const made = Bun.spawnSync(
    [
      ...["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
      ...["-nodes", "-days", "1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      ...["-subj", "/CN=localhost"],
    ],
    { stderr: "pipe" },
  );
  expect(made.exitCode).toBe(0);
  const server = await startServer([
    ...["--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem")],
    ...["--argon2-memory-kib", "64", "--argon2-time", "1", "--accounts-per-address", "100000"],
    ...serverArgs,
  ]);

  // Accounts: the pair, a mailbox to fill, 110 attackers, and 1,000 names for LIST pages.
  const names = ["alice", "bob", "carol"];
  for (let i = 0; i < 110; i++) names.push(`attacker${i}`);
  for (let i = 0; i < 1000; i++) names.push(`listed_${String(i).padStart(18, "0")}`);
  for (let at = 0; at < names.length; at += 100) {
    const wave = names.slice(at, at + 100);
    const makers = await Promise.all(wave.map(() => TlsClient.open(server.port)));
    const answers = await Promise.all(
      makers.map((c, i) => c.request({ opcode: Op.CREATE_ACCOUNT, sender: wave[i]!, password: PASSWORD })),
    );
    expect(answers.every((a) => a.status === Status.OK)).toBe(true);
    for (const c of makers) c.socket.end();
  }
  const alice = await TlsClient.open(server.port);
  const bob = await TlsClient.open(server.port, "127.0.0.10"); // two people, two addresses
  for (const [c, name] of [
    [alice, "alice"],
    [bob, "bob"],
  ] as const)
    expect((await c.request({ opcode: Op.LOG_IN, sender: name, password: PASSWORD })).status).toBe(Status.OK);

  // Quiet: the pair alone, as long as it is measured under attack.
  const quiet: number[] = [];
  for (let n = 0, endAt = performance.now() + ATTACK_MS - 2500; performance.now() < endAt && n < 1000; n++)
    quiet.push(await pacedRoundTrip(alice, bob, n));
  const rssQuiet = rssKiB(server.proc.pid);

  // Under attack.
  const attack = track(
    Bun.spawn(
      [
        process.execPath,
        resolve(import.meta.dir, "hostile-load-attack.ts"),
        ...[String(server.port), String(ATTACK_MS), "attacker", PASSWORD],
      ],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, ATTACK_KINDS: kinds.join(",") } },
    ),
  );
  const attackOut = new Response(attack.stdout).text();
  let rssMax = rssQuiet;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, rssKiB(server.proc.pid));
  }, 100);
  const loaded: number[] = [];
  try {
    // The first 2 s are the attackers connecting, logging in and sending their first
    // requests (cheap argon2 here, but 100 logins and 300 LIST pages); measure the rest.
    await Bun.sleep(2000);
    const endAt = performance.now() + ATTACK_MS - 2500;
    for (let n = 1000; performance.now() < endAt && n < 100_000; n++) {
      loaded.push(await pacedRoundTrip(alice, bob, n));
    }
    expect(await attack.exited).toBe(0);
  } finally {
    clearInterval(sampler);
  }
  const stats = JSON.parse((await attackOut).trim().split("\n").at(-1)!) as Figures["stats"];
  const figures: Figures = {
    trips: loaded.length,
    p50: percentile(loaded, 50),
    p99: percentile(loaded, 99),
    max: Math.max(...loaded),
    quietP99: percentile(quiet, 99),
    rssQuietKiB: rssQuiet,
    rssMaxKiB: rssMax,
    stats,
  };
  console.log(
    `hostile load (${kinds.join(", ")}): ${figures.trips} round trips under attack, p50 ${figures.p50.toFixed(1)} ms, ` +
      `p99 ${figures.p99.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms (quiet p99 ${figures.quietP99.toFixed(1)} ms); ` +
      `server RSS ${rssQuiet} KiB quiet, max ${rssMax} KiB under attack; attackers: ${JSON.stringify(stats)}`,
  );
  // And after it, the pair is as before; the server is up.
  expect(await roundTrip(alice, bob, 999_999)).toBeLessThan(1000);
  expect(server.proc.exitCode).toBeNull();
  expect(await server.stop()).toBe(0);
  return figures;
}

test("200 attacking connections (unfinished TLS handshakes, readers that never read): a TLS pair keeps chatting with p99 under 50 ms, RSS stays bounded", async () => {
  const f = await hostileLoad(["handshake", "handshake2", "stuck"], []);
  // The attack really ran: handshakes were started and cut, stuck readers logged in.
  expect(f.stats.handshake!.opened).toBeGreaterThanOrEqual(100);
  expect(f.stats.handshake!.closedByServer).toBeGreaterThanOrEqual(100); // at --handshake-timeout
  expect(f.stats.stuck!.opened).toBe(100);
  expect(f.stats.stuck!.written).toBe(300);
  expect(f.trips).toBeGreaterThan(200);
  expect(f.p99).toBeLessThan(P99_BOUND_MS + f.quietP99);
  expect(f.rssMaxKiB - f.rssQuietKiB).toBeLessThan(RSS_GROWTH_BOUND_KIB);
}, 60_000);

// The whole mix of issue 10 at once, each kind from an address of its own, at the server's
// defaults (only the mailbox cap is raised, so that filling it stays work for the server).
test("the full mix (handshakes, ACK floods, LIST floods, non-reading LIST pipeliners, mailbox filling): p99 under 50 ms", async () => {
  const f = await hostileLoad(
    ["handshake", "ack", "list", "nonreader", "mailbox"],
    ["--max-queued", "1000000"],
  );
  const s = f.stats;
  // Every kind ran and got work done: frames went in, answers came back.
  for (const kind of ["handshake", "ack", "list", "nonreader", "mailbox"])
    expect(s[kind]?.opened).toBeGreaterThan(0);
  expect(s.ack!.written).toBeGreaterThan(40);
  expect(s.list!.read).toBeGreaterThan(80); // a HELLO and a login answer each, then pages
  expect(s.mailbox!.read).toBeGreaterThan(60 + 1000);
  // ...and no more than one address's budget of it: 40 LIST connections share the 100-token
  // pages of one address (a burst and ATTACK_MS of its rate, plus the bytes), not 40 shares.
  const tokens = DEFAULT_ADDRESS_BURST + (ATTACK_MS / 1000 + 1) * DEFAULT_ADDRESS_RATE;
  expect(s.list!.read).toBeLessThan(80 + tokens / 100 + 40); // + a page each in the pipe at the end
  expect(s.mailbox!.read).toBeLessThan(60 + tokens / (1 + SEND_ADDRESS_TOKENS) + 30 * 50); // + those in flight
  expect(f.trips).toBeGreaterThan(200);
  expect(f.p99).toBeLessThan(P99_BOUND_MS + f.quietP99);
  expect(f.rssMaxKiB - f.rssQuietKiB).toBeLessThan(RSS_GROWTH_BOUND_KIB);
}, 60_000);
