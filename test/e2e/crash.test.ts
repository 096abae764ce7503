// Crash test: senders stream messages while the server is killed with SIGKILL at random
// moments and restarted on the same data file. Afterwards every message a sender saw
// accepted has reached its recipient, none twice, each sender's in order.
// CRASH_KILLS and CRASH_MESSAGES make it longer on demand, e.g.
//   CRASH_KILLS=40 CRASH_MESSAGES=3000 bun test test/e2e/crash.test.ts

import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { ChatSession, type ClientEvent } from "../../src/client/session";
import { Op, Status, type WireMessage } from "../../src/wire";
import { RawClient, startServer } from "./harness";

const KILLS = Number(process.env.CRASH_KILLS ?? 4);
const PER_SENDER = Number(process.env.CRASH_MESSAGES ?? 150);
const SENDERS = ["s0", "s1", "s2"];
const RECEIVERS = ["r0", "r1"];
const PASSWORD = "crash test password";

function session(port: number, onMessage?: (m: WireMessage) => void) {
  return new ChatSession(
    {
      host: "127.0.0.1",
      port,
      connectTimeoutMs: 2000,
      heartbeatMs: 1000,
      heartbeatMisses: 3,
      maxFrameBytes: 4 * 1024 * 1024,
      reconnect: true,
      giveUpAfterMs: 30_000,
    },
    (e: ClientEvent) => {
      if (e.type === "message") onMessage?.(e.message);
    },
  );
}

/** Seeded PRNG so a failing run can be repeated. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

test(`accepted messages survive ${KILLS} SIGKILLs: delivered once each, in order`, async () => {
  const random = prng(Number(process.env.CRASH_SEED ?? 42));
  let server = await startServer();
  const { port, dataFile } = server;

  const setup = session(port);
  await setup.connect();
  for (const name of [...SENDERS, ...RECEIVERS])
    expect((await setup.create(name, PASSWORD)).status).toBe(Status.OK);
  setup.close();

  // r0 stays online (live pushes, acks across crashes); r1 is offline until the end.
  const shown = new Map<string, WireMessage[]>(RECEIVERS.map((r) => [r, []]));
  const r0 = session(port, (m) => shown.get("r0")!.push(m));
  await r0.connect();
  expect((await r0.login("r0", PASSWORD)).status).toBe(Status.OK);

  const accepted = new Map<string, number[]>(); // "s1>r0" -> accepted seqs
  const senders = await Promise.all(
    SENDERS.map(async (name) => {
      const s = session(port);
      await s.connect();
      expect((await s.login(name, PASSWORD)).status).toBe(Status.OK);
      return { name, s };
    }),
  );
  const streams = senders.map(async ({ name, s }) => {
    const inFlight: Promise<void>[] = [];
    for (let seq = 0; seq < PER_SENDER; seq++) {
      const to = RECEIVERS[seq % RECEIVERS.length]!;
      const p = s.send(to, `${name}:${seq}`).then(
        (r) => {
          if (r.status !== Status.OK) throw new Error(`send refused: ${r.msg}`);
          const key = `${name}>${to}`;
          accepted.set(key, [...(accepted.get(key) ?? []), seq]);
        },
        () => {}, // never confirmed: the sender was not told "accepted"
      );
      inFlight.push(p);
      if (inFlight.length >= 8) await inFlight.shift();
      if (random() < 0.1) await Bun.sleep(1 + random() * 10);
    }
    await Promise.all(inFlight);
  });

  // r0 also checks now and then, so answers and pushes interleave.
  let streaming = true;
  const checker = (async () => {
    while (streaming) {
      await r0.check(10).catch(() => {});
      await Bun.sleep(20 + random() * 50);
    }
  })();
  for (let k = 0; k < KILLS; k++) {
    await Bun.sleep(40 + random() * 200);
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    server = await startServer(["--port", String(port)], dataFile);
  }
  await Promise.all(streams);
  streaming = false;
  await checker;
  for (const { s } of senders) {
    await s.settled();
    s.close();
  }

  // Drain: r0 fetches whatever it did not get pushed, r1 comes online for the first time.
  const r1 = session(port, (m) => shown.get("r1")!.push(m));
  await r1.connect();
  expect((await r1.login("r1", PASSWORD)).status).toBe(Status.OK);
  for (const s of [r0, r1]) {
    for (;;) {
      const reply = await s.check(100);
      if (!reply.more && reply.unread === 0) break;
    }
  }

  let total = 0;
  for (const receiver of RECEIVERS) {
    const got = shown.get(receiver)!;
    const texts = got.map((m) => m.text);
    expect(new Set(texts).size).toBe(texts.length); // nothing shown twice
    for (const sender of SENDERS) {
      const seqs = got.filter((m) => m.sender === sender).map((m) => Number(m.text.split(":")[1]));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b)); // per-sender order
      for (const seq of accepted.get(`${sender}>${receiver}`) ?? []) expect(seqs).toContain(seq);
      total += seqs.length;
    }
  }
  const acceptedCount = [...accepted.values()].reduce((n, a) => n + a.length, 0);
  expect(acceptedCount).toBeGreaterThan(0);
  expect(total).toBeGreaterThanOrEqual(acceptedCount);
  r0.close();
  r1.close();
  await server.stop();
}, 120_000);

// De-duplication at its bound: each sender keeps exactly max_unanswered_sends SENDs with
// ids unanswered, far more messages pass than the server remembers ids for, and the server
// is killed meanwhile; the client resends what was unanswered. Every message must be
// stored exactly once, and the file must hold no more than N id records per sender.
const RING = 16;
const RING_MESSAGES = Number(process.env.CRASH_RING_MESSAGES ?? 400);

test(`at the bound of ${RING} unanswered SENDs, resends across ${KILLS} SIGKILLs are stored once each`, async () => {
  const random = prng(Number(process.env.CRASH_SEED ?? 7));
  // Four senders stream from one address, far past its request budget (a stored message
  // costs 4 tokens): lifted, so no connection waits on the budget long enough to look dead.
  const ringArgs = [
    "--max-unanswered-sends",
    String(RING),
    "--request-rate-per-address",
    "1000000",
    "--request-burst-per-address",
    "1000000",
  ];
  let server = await startServer(ringArgs);
  const { port, dataFile } = server;
  const setup = session(port);
  await setup.connect();
  for (const name of [...SENDERS, "inbox"])
    expect((await setup.create(name, PASSWORD)).status).toBe(Status.OK);
  setup.close();

  const accepted = new Set<string>();
  const refusals: string[] = [];
  const senders = await Promise.all(
    SENDERS.map(async (name) => {
      const s = session(port);
      await s.connect();
      expect((await s.login(name, PASSWORD)).status).toBe(Status.OK);
      return { name, s };
    }),
  );
  const streams = senders.map(async ({ name, s }) => {
    const inFlight: Promise<void>[] = [];
    for (let seq = 0; seq < RING_MESSAGES; seq++) {
      const text = `${name}:${seq}`;
      inFlight.push(
        s.send("inbox", text).then(
          (r) => {
            if (r.status === Status.OK) accepted.add(text);
            else refusals.push(`${text}: ${r.msg}`);
          },
          () => {},
        ),
      );
      if (inFlight.length >= RING) await inFlight.shift();
    }
    await Promise.all(inFlight);
  });
  for (let k = 0; k < KILLS; k++) {
    await Bun.sleep(50 + random() * 200);
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    server = await startServer(["--port", String(port), ...ringArgs], dataFile);
  }
  await Promise.all(streams);
  for (const { s } of senders) {
    await s.settled();
    s.close();
  }
  expect(refusals).toEqual([]);

  const got: string[] = [];
  const inbox = session(port, (m) => got.push(m.text));
  await inbox.connect();
  expect((await inbox.login("inbox", PASSWORD)).status).toBe(Status.OK);
  for (;;) {
    const reply = await inbox.check(1000);
    if (!reply.more && reply.unread === 0) break;
  }
  inbox.close();
  expect(got.length).toBe(new Set(got).size); // nothing stored twice
  for (const text of accepted) expect(got).toContain(text);
  expect(accepted.size).toBeGreaterThan(RING * SENDERS.length);
  await server.stop();

  const db = new Database(dataFile, { readonly: true });
  const rows = db.query("SELECT sender_id AS id, count(*) AS n FROM sent_ring GROUP BY sender_id").all() as {
    n: number;
  }[];
  db.close();
  expect(rows.length).toBe(SENDERS.length);
  for (const r of rows) expect(r.n).toBe(RING);
}, 120_000);

test("SENDs stored but unanswered at a SIGKILL are recognised when resent after the restart", async () => {
  let server = await startServer(["--max-unanswered-sends", String(RING)]);
  const { port, dataFile } = server;
  const inbox = await RawClient.open(port);
  await inbox.login("inbox");
  inbox.close();
  let alice = await RawClient.open(port);
  await alice.login("alice");
  const send = (c: RawClient, n: number, clientMsgId: number) =>
    c.request({ opcode: Op.SEND_MESSAGE, receiver: "inbox", msg: `m${n}`, clientMsgId });
  const idOf = (n: number) => 2 ** 40 + n * 7919;
  // The ring wraps several times over.
  for (let n = 0; n < RING * 5; n++) expect((await send(alice, n, idOf(n))).duplicate).toBe(false);
  // RING more, pipelined. Their answers (so they were committed) count as lost in the crash:
  // the client resends all of them, its whole window, to the restarted server.
  const last = Array.from({ length: RING }, (_, i) => RING * 5 + i);
  const first = await Promise.all(last.map((n) => send(alice, n, idOf(n))));
  server.proc.kill("SIGKILL");
  await server.proc.exited;
  server = await startServer(["--port", String(port), "--max-unanswered-sends", String(RING)], dataFile);
  alice = await RawClient.open(port);
  expect(
    (await alice.request({ opcode: Op.LOG_IN, sender: "alice", password: "correct horse" })).status,
  ).toBe(Status.OK);
  const again = await Promise.all(last.map((n) => send(alice, n, idOf(n))));
  expect(again.map((r) => [r.status, r.duplicate, r.messageId])).toEqual(
    first.map((r) => [Status.OK, true, r.messageId]),
  );
  // The bound: one more than RING back is forgotten (a client keeping the rule never resends it).
  expect((await send(alice, RING * 5 - 1, idOf(RING * 5 - 1))).duplicate).toBe(false);
  alice.close();
  const reader = await RawClient.open(port);
  const login = await reader.request({ opcode: Op.LOG_IN, sender: "inbox", password: "correct horse" });
  expect(login.unread).toBe(RING * 6 + 1);
  reader.close();
  await server.stop();
}, 60_000);

// The redo log on its own: a SEND answered and the server SIGKILLed at once, well within the
// 100 ms before SQLite commits it, so only the redo log holds the message at the kill. The
// restart must say it applied it, and the message must be there. A machine that stalls the
// test for 100 ms between the answer and the kill lets the commit come first; then it tries
// again (at most 5 times), each message checked all the same.
test("a SEND answered just before a SIGKILL is applied from the redo log at the restart", async () => {
  let server = await startServer();
  const { port, dataFile } = server;
  const inbox = await RawClient.open(port);
  await inbox.login("inbox");
  inbox.close();
  const alice = await RawClient.open(port);
  await alice.login("alice");
  alice.close();
  let fromRedo = false;
  let sent = 0;
  for (let attempt = 0; attempt < 5 && !fromRedo; attempt++) {
    const c = await RawClient.open(port);
    expect((await c.request({ opcode: Op.LOG_IN, sender: "alice", password: "correct horse" })).status).toBe(
      Status.OK,
    );
    const r = await c.request({ opcode: Op.SEND_MESSAGE, receiver: "inbox", msg: `m${attempt}` });
    expect(r.status).toBe(Status.OK);
    sent++;
    server.proc.kill("SIGKILL");
    await server.proc.exited;
    c.close();
    server = await startServer(["--port", String(port)], dataFile);
    fromRedo = server.out.all.some((l) => /applied \d+ batches from its redo log/.test(l));
    const reader = await RawClient.open(port);
    const login = await reader.request({ opcode: Op.LOG_IN, sender: "inbox", password: "correct horse" });
    expect(login.unread).toBe(sent);
    reader.close();
  }
  expect(fromRedo).toBe(true);
  await server.stop();
}, 60_000);
