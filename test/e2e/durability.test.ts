// The data file through restarts and faults: what survives a clean restart, how start-up
// refuses a data file it cannot use (and leaves it as it was), and a full disk while
// running.

import { describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { encodeFrame, encodeRequest, Op, type Reply, Status } from "../../src/wire";
import { loggedIn, RawClient, runChat, serverLine, startClient, startServer, tempDir } from "./harness";

/** Runs `chat serve` that is expected to refuse to start: its exit code and all it printed. */
async function serveRefused(args: string[], runAs: string[] = []) {
  // A server that starts after all is killed at the deadline: the test then fails on the code.
  const { code, out, err } = await runChat(["serve", "--host", "127.0.0.1", "--port", "0", ...args], {
    prefix: runAs,
    timeoutMs: 10_000,
  });
  return { code, output: out + err };
}

/**
 * A command prefix that runs the binary as the unprivileged user nobody (the tests run as
 * root, who may write any file), or null when this machine has no way to.
 */
const asNobody: string[] | null = (() => {
  const candidates = [
    ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
    ["su", "nobody", "-s", "/bin/sh", "-c", 'exec "$0" "$@"'],
  ];
  for (const prefix of candidates) {
    try {
      const probe = Bun.spawnSync([...prefix, "/usr/bin/id", "-u"], { stdout: "pipe", stderr: "pipe" });
      if (probe.exitCode === 0 && probe.stdout.toString().trim() === "65534") return prefix;
    } catch {
      // not installed
    }
  }
  return null;
})();

/** Seeded bytes, so a corrupt file is the same on every run. */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = seed >>> 16;
  }
  return out;
}

/** A real chat data file with accounts and enough queued messages to span many pages. */
async function populatedDataFile(): Promise<string> {
  const server = await startServer();
  const alice = await RawClient.open(server.port);
  await alice.login("alice");
  const bob = await RawClient.open(server.port);
  await bob.login("bob");
  bob.close();
  const sends = [];
  for (let i = 0; i < 300; i++)
    sends.push(alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `message ${i} `.repeat(7) }));
  for (const r of await Promise.all(sends)) expect(r.status).toBe(Status.OK);
  alice.close();
  expect(await server.stop()).toBe(0);
  return server.dataFile;
}

describe("a clean restart", () => {
  test("accounts and queued messages survive SIGTERM: same unread count, ids, senders and order", async () => {
    const first = await startServer();
    const bob = await loggedIn(first.port, "bob");
    bob.say("/quit");
    expect(await bob.exited).toBe(0);
    const alice = await loggedIn(first.port, "alice");
    const carol = await loggedIn(first.port, "carol");
    const sent: { id: unknown; from: string; text: string }[] = [];
    for (const [who, c, text] of [
      ["alice", alice, "first, from alice"],
      ["carol", carol, "second, from carol"],
      ["alice", alice, "third, from alice"],
    ] as const) {
      c.say(`/send bob ${text}`);
      const r = await c.reply("send");
      expect(r).toMatchObject({ ok: true, delivery: "queued" });
      sent.push({ id: r.messageId, from: who, text });
    }
    alice.end();
    carol.end();
    expect(await first.stop("SIGTERM")).toBe(0);

    const second = await startServer([], first.dataFile);
    const back = startClient(second.port);
    back.say("/login bob", "correct horse");
    expect(await back.reply("login")).toMatchObject({ ok: true, unread: 3 });
    back.say("/check");
    expect(await back.reply("check")).toMatchObject({ ok: true });
    const got = back.events
      .filter((e) => e.type === "message")
      .map((e) => ({ id: e.id, from: e.from, text: e.text }));
    expect(got).toEqual(sent);
    back.say("/check");
    expect((await back.reply("check")).msg).toBe("no unread messages");
    back.say("/quit");
    expect(await back.exited).toBe(0);

    // The password hashes survived too: the right password works, a wrong one does not.
    const raw = await RawClient.open(second.port);
    expect(await raw.request({ opcode: Op.LOG_IN, sender: "alice", password: "wrong horse" })).toMatchObject({
      status: Status.BAD_CREDENTIALS,
    });
    expect(
      await raw.request({ opcode: Op.LOG_IN, sender: "carol", password: "correct horse" }),
    ).toMatchObject({ status: Status.OK, unread: 0 });
    raw.close();
    expect(await second.stop()).toBe(0);
  });
});

describe("stopping", () => {
  // A supervisor may stop the server the moment it reports ready. When the SIGTERM handler
  // was installed only after the listening line, most of these stops were outright kills
  // (exit 143, no graceful shutdown, no final commit).
  test("SIGTERM right after the listening line is a graceful stop (exit 0), every time", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) {
      const server = await startServer(["--data", ":memory:"]);
      codes.push(await server.stop("SIGTERM"));
    }
    expect(codes.filter((c) => c !== 0)).toEqual([]);
  });
});

describe("start-up faults: a clear message and exit code 1", () => {
  test("a data path whose directory does not exist and cannot be made", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "plain-file"), "not a directory");
    const data = join(dir, "plain-file", "sub", "chat.db");
    const { code, output } = await serveRefused(["--data", data]);
    expect(code).toBe(1);
    expect(output).toContain(
      `cannot open data file ${data}: directory ${join(dir, "plain-file", "sub")} does not exist`,
    );
  });

  test("a missing directory that can be made is made (the default data path relies on it)", async () => {
    const data = join(tempDir(), "new", "deeper", "chat.db");
    const server = await startServer([], data);
    expect(existsSync(data)).toBe(true);
    const raw = await RawClient.open(server.port);
    expect(await raw.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    raw.close();
    expect(await server.stop()).toBe(0);
  });

  test("a data path inside /proc, where not even root can create files", async () => {
    const { code, output } = await serveRefused(["--data", "/proc/chat-test.db"]);
    expect(code).toBe(1);
    expect(output).toContain("cannot write data file /proc/chat-test.db");
    expect(output).toContain("--data");
  });

  test("a directory the server's user cannot write to", async () => {
    if (!asNobody) {
      // Without another user: a directory not even root may create files in.
      const { code, output } = await serveRefused(["--data", "/sys/chat-test.db"]);
      expect(code).toBe(1);
      expect(output).toContain("cannot write data file /sys/chat-test.db");
      return;
    }
    const dir = tempDir();
    chmodSync(dir, 0o755); // root's: others may enter, not create
    const data = join(dir, "chat.db");
    const { code, output } = await serveRefused(["--data", data], asNobody);
    expect(code).toBe(1);
    expect(output).toContain(
      `cannot write data file ${data}: its directory ${dir} is not writable by this user`,
    );
    expect(existsSync(data)).toBe(false);
  });

  test("a read-only data file (a real chat file, mode 0444, in a writable directory)", async () => {
    if (!asNobody) throw new Error("this test needs setpriv or su to run the server as nobody");
    const data = await populatedDataFile();
    const dir = join(data, "..");
    chmodSync(dir, 0o777);
    chownSync(data, 65534, 65534);
    chmodSync(data, 0o444);
    const before = readFileSync(data);
    const { code, output } = await serveRefused(["--data", data], asNobody);
    expect(code).toBe(1);
    expect(output).toContain(`cannot write data file ${data}`);
    expect(output).toContain("the file is read-only for this user (EACCES)");
    expect(readFileSync(data).equals(before)).toBe(true);
  });

  test("a second server on the same data file refuses (locked); the first keeps serving", async () => {
    const first = await startServer();
    const { code, output } = await serveRefused(["--data", first.dataFile]);
    expect(code).toBe(1);
    expect(output).toContain(`data file ${first.dataFile} is in use by another chat server (it is locked)`);
    const raw = await RawClient.open(first.port);
    expect((await raw.login("still-here")).status).toBe(Status.OK);
    expect(await raw.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    raw.close();
    expect(await first.stop()).toBe(0);
  });
});

describe("a data file other users can read", () => {
  test("mode 0644 (a copied or restored file): refused with the fix named; --allow-shared-data warns and serves", async () => {
    const data = await populatedDataFile();
    chmodSync(data, 0o644);
    const refused = await serveRefused(["--data", data]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(
      `refusing to start: data file ${data} is readable by other users (mode 0644), and it holds password hashes and messages. Make it private (chmod 600 ${data}), or run with --allow-shared-data to use it anyway.`,
    );

    const server = await startServer(["--allow-shared-data"], data);
    const warning = await serverLine(server, (l) => l.includes("readable by other users"), "the warning");
    expect(warning).toContain("using it (--allow-shared-data)");
    const raw = await RawClient.open(server.port);
    expect(await raw.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" })).toMatchObject({
      status: Status.OK,
      unread: 300,
    });
    raw.close();
    expect(await server.stop()).toBe(0);
  });

  test("a data directory others can write (0777) is refused too; one they can only list (0755) is fine", async () => {
    const dir = tempDir();
    const data = join(dir, "chat.db");
    chmodSync(dir, 0o777);
    const refused = await serveRefused(["--data", data]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(
      `refusing to start: the directory ${dir} of data file ${data} is writable by other users (mode 0777)`,
    );
    expect(refused.output).toContain(`chmod go-w ${dir}`);
    // Refused before the store was opened: no data file, WAL or redo log was made.
    expect(readdirSync(dir).filter((f) => f.startsWith("chat.db"))).toEqual([]);
    chmodSync(dir, 0o755);
    const server = await startServer([], data);
    expect(await server.stop()).toBe(0);
  });
});

describe("a corrupt data file", () => {
  const corruptHint = (output: string, data: string) => {
    expect(output).toContain(`data file ${data} is corrupt`);
    expect(output).toContain("It was left untouched");
    expect(output).toContain("--reset-corrupt-data");
  };

  test("garbage bytes: refused, named, the file untouched", async () => {
    const data = join(tempDir(), "chat.db");
    writeFileSync(data, noise(16_384, 7));
    const before = readFileSync(data);
    const { code, output } = await serveRefused(["--data", data]);
    expect(code).toBe(1);
    corruptHint(output, data);
    expect(output).toContain("it is not a SQLite database");
    expect(readFileSync(data).equals(before)).toBe(true);
  });

  test("a real chat file with pages overwritten: refused, named, the file untouched", async () => {
    const data = await populatedDataFile();
    const file = readFileSync(data);
    const pages = file.length / 4096;
    expect(pages).toBeGreaterThan(8);
    for (let p = 2; p < pages; p += 2) file.set(noise(4096, p), p * 4096);
    writeFileSync(data, file);
    const { code, output } = await serveRefused(["--data", data]);
    expect(code).toBe(1);
    corruptHint(output, data);
    expect(output).toMatch(/integrity check failed|its pages are damaged/);
    expect(readFileSync(data).equals(file)).toBe(true);
  });

  test("--reset-corrupt-data moves the file aside, bytes intact, and starts empty", async () => {
    const dir = tempDir();
    const data = join(dir, "chat.db");
    const original = noise(16_384, 11);
    writeFileSync(data, original);
    const server = await startServer(["--reset-corrupt-data"], data);
    const warning = await server.err.find(
      (l) => l.includes("data file was corrupt"),
      "the moved-aside warning",
    );
    const aside = readdirSync(dir).filter((f) => f.startsWith("chat.db.corrupt-"));
    expect(aside).toHaveLength(1);
    expect(warning).toContain(`moved it to ${join(dir, aside[0]!)}`);
    expect(readFileSync(join(dir, aside[0]!)).equals(Buffer.from(original))).toBe(true);
    const raw = await RawClient.open(server.port);
    expect((await raw.login("first-on-empty")).status).toBe(Status.OK);
    expect(await raw.request({ opcode: Op.LIST_ACCOUNTS })).toMatchObject({
      accounts: [{ name: "first-on-empty", online: true }],
    });
    raw.close();
    expect(await server.stop()).toBe(0);
  });
});

/** Filling 1 MB from 127.0.0.1 takes minutes at its default budget of 250 stored messages a second. */
const ONE_ADDRESS = ["--request-rate-per-address", "100000000", "--request-burst-per-address", "100000000"];

describe("the disk filling up while running", () => {
  /** Sends from alice to bob, 100 at a time, until refused; then singly until refused again. */
  async function fillMailbox(alice: RawClient): Promise<{ accepted: number; refusal: Reply }> {
    let accepted = 0;
    let refusal: Reply | undefined;
    const text = "m".repeat(100);
    for (let round = 0; round < 200 && !refusal; round++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, () =>
          alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: text }),
        ),
      );
      for (const a of answers) {
        if (a.status === Status.OK) accepted++;
        else refusal ??= a;
      }
    }
    // A batch's additions are estimated until it commits, so a few more may still fit.
    for (let i = 0; i < 100; i++) {
      const r = await alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: text });
      if (r.status !== Status.OK) break;
      accepted++;
    }
    return { accepted, refusal: refusal! };
  }

  test("--max-data-mb 1: sends get STORAGE_FULL, everything else works, ACKs free space", async () => {
    const server = await startServer([
      "--max-data-mb",
      "1",
      "--max-queued-per-sender",
      "100000",
      ...ONE_ADDRESS,
    ]);
    const bob = await RawClient.open(server.port);
    expect((await bob.login("bob")).status).toBe(Status.OK);
    bob.close();
    const alice = await RawClient.open(server.port);
    expect((await alice.login("alice")).status).toBe(Status.OK);

    const { accepted, refusal } = await fillMailbox(alice);
    const full = {
      status: Status.STORAGE_FULL,
      msg: "the server's storage is full; message not stored (try again later, once people have read theirs)",
    };
    expect(refusal).toMatchObject(full);
    expect(accepted).toBeGreaterThan(1000);
    await serverLine(server, (l) => l.includes("limit data_budget"), "the data budget log line");
    const sizes = ["", "-wal"].map(
      (ext) => statSync(server.dataFile + ext, { throwIfNoEntry: false })?.size ?? 0,
    );
    expect(sizes[0]! + sizes[1]!).toBeLessThanOrEqual(1024 * 1024);

    // Still serving: a login, a list, a check, a ping; sends and new accounts still refused.
    const back = await RawClient.open(server.port);
    expect(await back.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" })).toMatchObject(
      {
        status: Status.OK,
        unread: accepted,
      },
    );
    expect((await back.request({ opcode: Op.LIST_ACCOUNTS })).accounts.map((a) => a.name)).toEqual([
      "alice",
      "bob",
    ]);
    expect(await alice.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    for (let i = 0; i < 3; i++) {
      expect(
        await alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "m".repeat(100) }),
      ).toMatchObject(full);
    }
    expect(
      await alice.request({ opcode: Op.CREATE_ACCOUNT, sender: "carol", password: "correct horse" }),
    ).toMatchObject({
      status: Status.STORAGE_FULL,
      msg: "create account failed: the server's storage is full; try again later",
    });

    // bob reads and confirms 2000 messages: their pages are freed and sends succeed again.
    let confirmed = 0;
    let firstId = 0;
    while (confirmed < 2000) {
      const page = await back.request({ opcode: Op.CHECK_MESSAGES, pageSize: 100 });
      expect(page.status).toBe(Status.OK);
      firstId ||= page.messages[0]!.id;
      back.write(encodeFrame(encodeRequest({ opcode: Op.ACK, ackIds: page.messages.map((m) => m.id) })));
      confirmed += page.messages.length;
    }
    expect(firstId).toBe(1);
    const after = await back.request({ opcode: Op.CHECK_MESSAGES, pageSize: 1 });
    expect(after.unread + after.messages.length).toBe(accepted - confirmed);
    for (let i = 0; i < 50; i++) {
      expect(
        await alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `room again ${i}` }),
      ).toMatchObject({ status: Status.OK });
    }
    alice.close();
    back.close();
    expect(server.proc.exitCode).toBeNull();
    expect(await server.stop()).toBe(0);
  });

  test("after a restart at the limit: the recipient logs in, reads and confirms, and sends work again", async () => {
    const args = ["--max-data-mb", "1", "--max-queued-per-sender", "100000", ...ONE_ADDRESS];
    const first = await startServer(args);
    const bob = await RawClient.open(first.port);
    expect((await bob.login("bob")).status).toBe(Status.OK);
    bob.close();
    const alice = await RawClient.open(first.port);
    expect((await alice.login("alice")).status).toBe(Status.OK);
    const { accepted, refusal } = await fillMailbox(alice);
    expect(refusal.status).toBe(Status.STORAGE_FULL);
    alice.close();
    expect(await first.stop()).toBe(0);

    const second = await startServer(args, first.dataFile);
    expect(await serverLine(second, (l) => l.includes("already fills its budget"), "the warning")).toContain(
      "the data already fills its budget of 1 MB: new messages and accounts are refused until recipients read theirs",
    );
    const sender = await RawClient.open(second.port);
    // Logging in saves a session token: it uses the reserve kept below the budget.
    expect(
      await sender.request({ opcode: Op.LOG_IN, sender: "alice", password: "correct horse" }),
    ).toMatchObject({
      status: Status.OK,
    });
    expect(
      await sender.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "still full?" }),
    ).toMatchObject({
      status: Status.STORAGE_FULL,
    });
    const reader = await RawClient.open(second.port);
    expect(
      await reader.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" }),
    ).toMatchObject({
      status: Status.OK,
      unread: accepted,
    });
    let confirmed = 0;
    while (confirmed < accepted) {
      const page = await reader.request({ opcode: Op.CHECK_MESSAGES, pageSize: 500 });
      expect(page.status).toBe(Status.OK);
      if (page.messages.length === 0) break;
      reader.write(encodeFrame(encodeRequest({ opcode: Op.ACK, ackIds: page.messages.map((m) => m.id) })));
      confirmed += page.messages.length;
    }
    expect(confirmed).toBe(accepted);
    expect(await reader.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    for (let i = 0; i < 100; i++) {
      expect(
        await sender.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: `room again ${i}` }),
      ).toMatchObject({
        status: Status.OK,
      });
    }
    // Confirming everything rewrote most pages; the WAL was checkpointed back into its share.
    const sizes = ["", "-wal"].map(
      (ext) => statSync(second.dataFile + ext, { throwIfNoEntry: false })?.size ?? 0,
    );
    expect(sizes[0]! + sizes[1]!).toBeLessThanOrEqual(1024 * 1024);
    sender.close();
    reader.close();
    expect(await second.stop()).toBe(0);
  }, 30_000);
});
