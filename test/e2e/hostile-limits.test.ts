// The connection cap under a low open-file limit, back-pressure on a client that does not
// read its answers, and the global memory budget, against the real binary.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { encodeFrame, encodeRequest, Op, Push, type RequestInit, Status } from "../../src/wire";
import { type ChatServer, RawClient, rssKiB, serverLine, startServer } from "./harness";

const frame = (init: RequestInit) => encodeFrame(encodeRequest(init));
const logLines = (server: ChatServer) => [...server.out.all, ...server.err.all];

/** CPU seconds (user + system) the process has used so far; /proc counts in 1/100 s. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

describe("connection cap from the open-file limit", () => {
  test("ulimit -n 256: the default cap leaves headroom, the rest get TOO_MANY_CONNECTIONS, no spinning, logged once, admitted ones keep working", async () => {
    const server = await startServer(["--log-format", "json"], undefined, {
      prefix: ["sh", "-c", 'ulimit -n 256 && exec "$@"', "sh"],
    });
    const limits = await serverLine(server, (l) => l.includes("limits: "), "the limits line");
    expect(limits).toContain("limits: 192 connections (open-file limit 256)");

    const alice = await RawClient.open(server.port);
    const bob = await RawClient.open(server.port);
    expect((await alice.login("alice")).status).toBe(Status.OK);
    expect((await bob.login("bob")).status).toBe(Status.OK);
    const others = await Promise.all(Array.from({ length: 190 }, () => RawClient.open(server.port)));

    // 150 more: every one is told, and closed; none hangs.
    const cpuBefore = cpuSeconds(server.proc.pid);
    const startedAt = performance.now();
    const extra = await Promise.all(Array.from({ length: 150 }, () => RawClient.dial(server.port)));
    for (const c of extra) {
      expect(await c.next((f) => f.opcode === Push.LOGGED_OUT, "LOGGED_OUT", 5000)).toMatchObject({
        status: Status.TOO_MANY_CONNECTIONS,
        msg: "the server is at its limit of 192 connections; try again later",
      });
      await c.whenClosed(5000);
    }
    // With every slot taken the server idles instead of spinning on accept.
    await Bun.sleep(1000);
    const cpu = cpuSeconds(server.proc.pid) - cpuBefore;
    const wall = (performance.now() - startedAt) / 1000;
    expect(cpu / wall).toBeLessThan(0.3);

    // Those already in are served as usual.
    expect(
      await alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "still here" }),
    ).toMatchObject({
      status: Status.OK,
    });
    await bob.next((f) => f.opcode === Push.DELIVER && f.messages[0]?.text === "still here", "the push");
    for (const c of others.slice(0, 20))
      expect((await c.request({ opcode: Op.PING })).status).toBe(Status.OK);

    // 150 refusals, one log line (the rest are counted into a summary every 10 s).
    const refusals = logLines(server).filter((l) => l.includes('"limit":"connections"'));
    expect(refusals).toHaveLength(1);

    // A freed slot is usable again.
    others[0]!.close();
    await until("the slot to be freed", () => others[0]!.closed);
    let again: RawClient | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      const c = await RawClient.dial(server.port);
      const first = await c.next(() => true, "a first frame");
      if (first.opcode === Push.HELLO) again = c;
      else await Bun.sleep(20);
    }
    expect(again).toBeDefined();
    expect((await again!.request({ opcode: Op.PING })).status).toBe(Status.OK);
    for (const c of [alice, bob, again!, ...others]) c.close();
    expect(await server.stop()).toBe(0);
  }, 30_000);

  test("an explicit --max-connections above what the limit allows is warned about at start", async () => {
    const server = await startServer(["--max-connections", "1000"], undefined, {
      prefix: ["sh", "-c", 'ulimit -n 256 && exec "$@"', "sh"],
    });
    const warning = await serverLine(server, (l) => l.includes("--max-connections 1000"), "the warning");
    expect(warning).toContain("of the 256 file descriptors this process may open (at most 192 fit)");
    expect(await server.stop()).toBe(0);
  });
});

describe("back-pressure", () => {
  test("a client that stops reading its answers is no longer read, not cut; every request it sent is answered in order", async () => {
    const server = await startServer([
      ...["--accounts-per-address", "100000", "--argon2-memory-kib", "64", "--argon2-time", "1"],
      // A LIST costs 100 tokens: room for all 2,000 of them, so back-pressure is what is tested.
      ...["--request-burst", "250000"],
      ...["--request-burst-per-address", "250000"],
    ]);
    // 1,000 accounts with 25-character names: every LIST page of them is about 30 KB.
    for (let wave = 0; wave < 10; wave++) {
      const makers = await Promise.all(Array.from({ length: 100 }, () => RawClient.open(server.port)));
      const made = await Promise.all(
        makers.map((c, i) =>
          c.request({
            opcode: Op.CREATE_ACCOUNT,
            sender: `listed_${String(wave * 100 + i).padStart(18, "0")}`,
            password: "correct horse",
          }),
        ),
      );
      expect(made.every((r) => r.status === Status.OK)).toBe(true);
      for (const c of makers) c.close();
    }
    const reader = await RawClient.open(server.port);
    expect((await reader.login("reader")).status).toBe(Status.OK);
    const page = await reader.request({ opcode: Op.LIST_ACCOUNTS, msg: "*", pageSize: 1000 });
    expect(page.accounts.length).toBe(1000);
    reader.frames.length = 0;

    // Stop reading, and ask for 2,000 pages (about 60 MB of answers, far more than the
    // kernel's socket buffers hold), in batches as a pipelining client would.
    reader.socket.pause();
    const rssBefore = rssKiB(server.proc.pid);
    const written = 2000;
    for (let at = 0; at < written; at += 10) {
      const batch = Buffer.concat(
        Array.from({ length: 10 }, (_, i) =>
          frame({ opcode: Op.LIST_ACCOUNTS, msg: "*", pageSize: 1000, requestId: 1000 + at + i }),
        ),
      );
      expect(reader.socket.write(batch)).toBe(batch.length);
      await Bun.sleep(1);
    }
    // The server answers what fits and then stops reading: it neither cuts the client, nor
    // refuses its requests, nor buffers the rest.
    await Bun.sleep(1500);
    expect(reader.closed).toBe(false);
    expect(logLines(server).filter((l) => /limit (slow_consumer|backlog|memory)/.test(l))).toEqual([]);
    expect(rssKiB(server.proc.pid) - rssBefore).toBeLessThan(64 * 1024);

    // Reading again: the answers flow, every one of them, in order.
    reader.socket.resume();
    await reader.next((f) => f.requestId === 1000 + written - 1, "the last answer", 20_000);
    const answers = reader.frames.filter((f) => f.opcode === Op.LIST_ACCOUNTS);
    expect(answers.map((f) => f.requestId)).toEqual(Array.from({ length: written }, (_, i) => 1000 + i));
    expect(answers.every((f) => f.status === Status.OK && f.accounts.length === 1000)).toBe(true);
    reader.close();
    expect(await server.stop()).toBe(0);
  }, 60_000);
});

describe("memory budget", () => {
  test("--max-buffered-mb 2: half-sent 64 KB frames beyond it are cut, largest first; others are served", async () => {
    const server = await startServer(["--max-buffered-mb", "2", "--log-format", "json"]);
    const alice = await RawClient.open(server.port);
    expect((await alice.login("alice")).status).toBe(Status.OK);
    // Announce a 60,000-byte frame, send 1 byte of it: the server holds the whole buffer.
    const half = (n: number) => new Uint8Array([0xe0, 0xd4, 0x03, ...new Array(n).fill(0)]);
    const small = await Promise.all(Array.from({ length: 10 }, () => RawClient.open(server.port)));
    for (const c of small) c.write(new Uint8Array([0x80, 0x02, 0x00])); // 256-byte frames
    const big = await Promise.all(Array.from({ length: 60 }, () => RawClient.open(server.port)));
    for (const c of big) c.write(half(1));
    // 60 × 60,000 bytes is 3.4 MiB: some must go, and only big ones.
    await serverLine(server, (l) => l.includes('"limit":"memory"'), "a memory limit line");
    await until("the cuts", () => big.filter((c) => c.closed).length >= 60 - 35, 5000);
    await Bun.sleep(200);
    const open = big.filter((c) => !c.closed).length;
    expect(open).toBeLessThanOrEqual(35); // 2 MiB / 60,000 bytes
    expect(open).toBeGreaterThanOrEqual(20); // shed down to 90 %, not everything
    expect(small.every((c) => !c.closed)).toBe(true);
    const line = logLines(server).find((l) => l.includes('"limit":"memory"'))!;
    expect(line).toMatch(/60000 bytes held while all connections together hold \d+ \(limit 2097152\)/);
    // The budget freed again, a logged-in client is unaffected.
    expect((await alice.request({ opcode: Op.PING })).status).toBe(Status.OK);
    for (const c of [alice, ...small, ...big]) if (!c.closed) c.close();
    expect(await server.stop()).toBe(0);
  }, 20_000);
});
