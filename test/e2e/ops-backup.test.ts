// `chat backup` while senders keep sending, then a restore from the copy. The check is the
// one a snapshot must pass: for each sender (who sends one message at a time), the copy holds
// exactly a prefix of what it sent, that prefix includes everything it was told "accepted"
// before the backup started, and nothing it sent after the backup had finished.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Op, Status } from "../../src/wire";
import { RawClient, runChat, startServer, tempDir } from "./harness";

const FAST = ["--argon2-memory-kib", "64", "--argon2-time", "1"];
const SENDERS = 4;
/** Each sender's bound: the load stops at this count or after LOAD_MS, whichever is first. */
const MAX_PER_SENDER = 3000;
const LOAD_MS = 15_000;

interface Sent {
  text: string;
  issuedAt: number;
  acceptedAt: number;
}

describe("chat backup under load", () => {
  test("copies a consistent snapshot that restores with nothing confirmed missing", async () => {
    const server = await startServer(FAST);
    const senders: RawClient[] = [];
    for (let k = 0; k < SENDERS; k++) {
      const r = await RawClient.open(server.port);
      await r.login(`r${k}`);
      r.close();
      const s = await RawClient.open(server.port);
      expect((await s.login(`s${k}`)).status).toBe(Status.OK);
      senders.push(s);
    }
    const sent: Sent[][] = senders.map(() => []);
    let stop = false;
    const deadline = Date.now() + LOAD_MS;
    const load = senders.map(async (s, k) => {
      for (let i = 0; i < MAX_PER_SENDER && !stop && Date.now() < deadline; i++) {
        const text = `s${k}-${i}`;
        const issuedAt = performance.now();
        const reply = await s.request({ opcode: Op.SEND_MESSAGE, receiver: `r${k}`, msg: text });
        expect(reply.status).toBe(Status.OK);
        sent[k]!.push({ text, issuedAt, acceptedAt: performance.now() });
      }
    });
    const progress = async (atLeast: number) => {
      while (sent.some((s) => s.length < atLeast) && Date.now() < deadline) await Bun.sleep(5);
    };
    await progress(50);

    const file = join(tempDir(), "backup.db");
    const startedAt = performance.now();
    const backup = await runChat(["backup", file, "--data", server.dataFile]);
    const finishedAt = performance.now();
    expect(backup.err).toBe("");
    expect(backup.code).toBe(0);
    expect(backup.out).toMatch(
      /^backup .*backup\.db: \d+ bytes, integrity ok, 8 accounts, \d+ waiting messages \(made by the running server\)\n/,
    );

    const sentAfter = sent.map((s) => s.length);
    await progress(Math.max(...sentAfter) + 50);
    stop = true;
    await Promise.all(load);
    for (const s of senders) s.close();
    expect(await server.stop()).toBe(0);

    // The load was on while the copy was made: messages were accepted during and after it.
    const during = sent.flat().filter((m) => m.acceptedAt > startedAt && m.acceptedAt < finishedAt).length;
    expect(during).toBeGreaterThan(0);
    for (const s of sent) expect(s.at(-1)!.issuedAt).toBeGreaterThan(finishedAt);

    const db = new Database(file, { readonly: true });
    const inCopy = sent.map((_, k) =>
      (
        db
          .query(
            "SELECT m.text FROM messages m JOIN accounts a ON a.id = m.recipient_id WHERE a.key = ? ORDER BY m.id",
          )
          .all(`r${k}`) as { text: string }[]
      ).map((r) => r.text),
    );
    db.close();
    for (let k = 0; k < SENDERS; k++) {
      const texts = inCopy[k]!;
      const mine = sent[k]!;
      // A prefix of what was sent: no gaps, nothing invented, in order.
      expect(texts).toEqual(mine.slice(0, texts.length).map((m) => m.text));
      const confirmedBefore = mine.filter((m) => m.acceptedAt < startedAt).length;
      const issuedBeforeEnd = mine.filter((m) => m.issuedAt < finishedAt).length;
      expect(texts.length).toBeGreaterThanOrEqual(confirmedBefore);
      expect(texts.length).toBeLessThanOrEqual(issuedBeforeEnd);
    }

    // Restore: a server on the copy has exactly those messages waiting.
    const restored = await startServer(FAST, file);
    const accounts = await runChat(["admin", "accounts", "r*", "--data", file, "--json"]);
    const rows = JSON.parse(accounts.out).data as { name: string; queued: number }[];
    expect(rows.map((r) => [r.name, r.queued])).toEqual(inCopy.map((t, k) => [`r${k}`, t.length]));
    const r0 = await RawClient.open(restored.port);
    const login = await r0.request({ opcode: Op.LOG_IN, sender: "r0", password: "correct horse" });
    expect([login.status, login.unread]).toEqual([Status.OK, inCopy[0]!.length]);
    const page = await r0.request({ opcode: Op.CHECK_MESSAGES, pageSize: 10 });
    expect(page.messages.map((m) => m.text)).toEqual(inCopy[0]!.slice(0, 10));
  });

  test("without a server, copies the data file; refuses to overwrite a file", async () => {
    const server = await startServer(FAST);
    const c = await RawClient.open(server.port);
    await c.login("alice");
    await c.request({ opcode: Op.SEND_MESSAGE, receiver: "alice", msg: "to myself" });
    c.close();
    expect(await server.stop()).toBe(0);
    const file = join(tempDir(), "offline.db");
    const r = await runChat(["backup", file, "--data", server.dataFile]);
    expect(r.out).toMatch(
      /: \d+ bytes, integrity ok, 1 accounts, 1 waiting messages \(no server running: copied from the data file\)/,
    );
    expect(existsSync(file)).toBe(true);
    const again = await runChat(["backup", file, "--data", server.dataFile]);
    expect([again.code, again.err]).toEqual([
      1,
      `chat backup: ${file} already exists; choose a new file name\n`,
    ]);
  });
});
