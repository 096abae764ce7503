// The compiled server killed with SIGKILL the moment its answers arrive, again and again:
// well within the 100 ms before SQLite commits, so the answered messages are in the redo
// log's map alone at the kill. After each restart every answered message, and every one
// pushed to its online recipient, must be there, none twice.

import { expect, test } from "bun:test";
import { encodeFrame, encodeRequest, Op, Push, Status } from "../../src/wire";
import { RawClient, startServer } from "./harness";

const ROUNDS = Number(process.env.REDO_KILL_ROUNDS ?? 6);
const PASSWORD = "correct horse";

for (const sync of ["normal", "full"] as const)
  test(`--sync ${sync}: messages answered right before each of ${ROUNDS} SIGKILLs are all there after the restarts`, async () => {
    const args = ["--sync", sync];
    let server = await startServer(args);
    const { port, dataFile } = server;
    for (const name of ["alice", "inbox"]) {
      const c = await RawClient.open(port);
      expect((await c.login(name)).status).toBe(Status.OK);
      c.close();
    }
    const answered = new Set<string>();
    const pushed = new Set<string>();
    let fromRedo = 0;
    let clientMsgId = 1;
    for (let round = 0; round < ROUNDS; round++) {
      const inbox = await RawClient.open(port);
      expect((await inbox.request({ opcode: Op.LOG_IN, sender: "inbox", password: PASSWORD })).status).toBe(
        Status.OK,
      );
      const alice = await RawClient.open(port);
      expect((await alice.request({ opcode: Op.LOG_IN, sender: "alice", password: PASSWORD })).status).toBe(
        Status.OK,
      );
      // Request ids of their own, far from those RawClient.request gives, to know each answer's text.
      const texts = new Map<number, string>();
      let requestId = 1_000_000;
      const send = (text: string) => {
        texts.set(++requestId, text);
        alice.write(
          encodeFrame(
            encodeRequest({
              requestId,
              opcode: Op.SEND_MESSAGE,
              receiver: "inbox",
              msg: text,
              clientMsgId: clientMsgId++,
            }),
          ),
        );
        const id = requestId;
        return alice.next((r) => r.requestId === id && r.opcode === Op.SEND_MESSAGE, `the answer to ${text}`);
      };
      // One at a time, as the light workload sends, then a window of 8 at once; the kill
      // follows the answer awaited, with the rest of the window answered or not.
      for (let i = 0; i < 10 + 5 * round; i++) expect((await send(`r${round}:${i}`)).status).toBe(Status.OK);
      const window = Array.from({ length: 8 }, (_, i) => send(`r${round}:w${i}`));
      for (const p of window) p.catch(() => {}); // those never answered fail when the socket closes
      const awaited = await window[round % 4]!;
      server.proc.kill("SIGKILL");
      await server.proc.exited;
      expect(awaited.status).toBe(Status.OK);
      for (const f of alice.frames)
        if (f.opcode === Op.SEND_MESSAGE && f.status === Status.OK && texts.has(f.requestId))
          answered.add(texts.get(f.requestId)!);
      for (const f of inbox.frames)
        if (f.opcode === Push.DELIVER) for (const m of f.messages) pushed.add(m.text);
      alice.close();
      inbox.close();
      server = await startServer(["--port", String(port), ...args], dataFile);
      if (server.out.all.some((l) => /applied \d+ batches from its redo log/.test(l))) fromRedo++;
    }

    const reader = await RawClient.open(port);
    expect((await reader.request({ opcode: Op.LOG_IN, sender: "inbox", password: PASSWORD })).status).toBe(
      Status.OK,
    );
    const got: string[] = [];
    for (;;) {
      const page = await reader.request({ opcode: Op.CHECK_MESSAGES, pageSize: 500 });
      expect(page.status).toBe(Status.OK);
      if (page.messages.length === 0) break;
      got.push(...page.messages.map((m) => m.text));
      reader.write(encodeFrame(encodeRequest({ opcode: Op.ACK, ackIds: page.messages.map((m) => m.id) })));
    }
    reader.close();
    await server.stop();
    expect(got.length).toBe(new Set(got).size); // nothing stored twice
    const have = new Set(got);
    for (const text of answered) expect(have.has(text)).toBe(true);
    for (const text of pushed) expect(have.has(text)).toBe(true);
    expect(answered.size).toBeGreaterThan(ROUNDS * 10);
    // Most restarts found the last answers in the redo log only (a stalled machine may let the
    // 100 ms commit come first now and then).
    expect(fromRedo).toBeGreaterThan(ROUNDS / 2);
  }, 120_000);
