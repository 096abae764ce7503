// `chat admin` against the compiled binary: every action on a running server (through the
// control socket, with what its clients see and what the server logs) and on a stopped one
// (on the data file), and the control socket refusing another user.

import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Op, Status } from "../../src/wire";
import { BIN, type ChatServer, RawClient, runChat, serverLine, startServer, tempDir } from "./harness";

const FAST = ["--argon2-memory-kib", "64", "--argon2-time", "1"];

async function admin(server: { dataFile: string }, ...args: string[]) {
  const r = await runChat(["admin", ...args, "--data", server.dataFile, "--json"]);
  const answer =
    r.code === 0 ? (JSON.parse(r.out) as { text: string; data: unknown; via: string }) : undefined;
  return { ...r, answer };
}

async function adminWithStdin(dataFile: string, args: string[], input: string) {
  const p = Bun.spawn([BIN, "admin", ...args, "--data", dataFile, "--json"], {
    stdin: new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, out, err };
}

interface Row {
  name: string;
  createdAt: number;
  lastLoginAt: number | null;
  queued: number;
  online: boolean;
}

/** alice online, bob offline with two messages waiting from alice. */
async function populated(server: ChatServer) {
  const alice = await RawClient.open(server.port);
  expect((await alice.login("alice")).status).toBe(Status.OK);
  const bob = await RawClient.open(server.port);
  expect((await bob.login("bob")).status).toBe(Status.OK);
  bob.close();
  await bob.whenClosed();
  for (const text of ["one", "two"])
    expect((await alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: text })).status).toBe(
      Status.OK,
    );
  return alice;
}

describe("chat admin on a running server", () => {
  test("accounts shows created time, last login, queue depth and who is online", async () => {
    const before = Date.now();
    const server = await startServer(FAST);
    await populated(server);
    const r = await admin(server, "accounts");
    expect(r.err).toBe("");
    expect(r.answer!.via).toBe("server");
    const rows = r.answer!.data as Row[];
    expect(rows.map((x) => [x.name, x.queued, x.online])).toEqual([
      ["alice", 0, true],
      ["bob", 2, false],
    ]);
    for (const row of rows) {
      expect(row.createdAt).toBeGreaterThanOrEqual(before);
      expect(row.lastLoginAt).toBeGreaterThanOrEqual(row.createdAt);
    }
    const pattern = await admin(server, "accounts", "b*");
    expect((pattern.answer!.data as Row[]).map((x) => x.name)).toEqual(["bob"]);
    const text = await runChat(["admin", "accounts", "--data", server.dataFile]);
    expect(text.out).toMatch(/^NAME\s+CREATED\s+LAST LOGIN\s+QUEUED\s+ONLINE\n/);
    expect(text.out).toMatch(/\nbob\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+2\s+no\n/);
  });

  test("kick logs the session out with KICKED and closes it; the server logs it", async () => {
    const server = await startServer(FAST);
    const alice = await populated(server);
    const r = await admin(server, "kick", "alice");
    expect(r.answer!.text).toBe("kicked alice");
    const notice = await alice.next((f) => f.opcode === 101, "LOGGED_OUT");
    expect(notice.status).toBe(Status.KICKED);
    await alice.whenClosed();
    await serverLine(server, (l) => l.includes("admin: kicked alice"), "the admin log line");
    const again = await admin(server, "kick", "alice");
    expect([again.code, again.err.trim()]).toEqual([1, "chat admin kick: alice is not online"]);
    const nobody = await admin(server, "kick", "zed");
    expect(nobody.err.trim()).toBe('chat admin kick: no account named "zed"');
  });

  test("delete removes the account with its queue and logs out its session", async () => {
    const server = await startServer(FAST);
    const alice = await populated(server);
    const bobGone = await admin(server, "delete", "bob");
    expect(bobGone.answer!.text).toBe("deleted account bob with 2 waiting messages");
    const aliceGone = await admin(server, "delete", "alice");
    expect(aliceGone.answer!.text).toBe(
      "deleted account alice with 0 waiting messages (its session was logged out)",
    );
    expect((await alice.next((f) => f.opcode === 101, "LOGGED_OUT")).status).toBe(Status.KICKED);
    expect((await admin(server, "accounts")).answer!.data).toEqual([]);
    const c = await RawClient.open(server.port);
    expect((await c.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" })).status).toBe(
      Status.BAD_CREDENTIALS,
    );
    await serverLine(server, (l) => l.includes("admin: deleted account alice"), "the admin log line");
  });

  test("reset-password makes a new password (or takes one from stdin) and revokes sessions", async () => {
    const server = await startServer(FAST);
    const alice = await populated(server);
    const r = await admin(server, "reset-password", "alice");
    const password = (r.answer!.data as { password: string }).password;
    expect(password).toMatch(/^[a-zA-Z2-9]{20}$/);
    expect(r.answer!.text).toContain(`new password (shown once): ${password}`);
    expect((await alice.next((f) => f.opcode === 101, "LOGGED_OUT")).status).toBe(Status.KICKED);
    const c = await RawClient.open(server.port);
    expect((await c.request({ opcode: Op.LOG_IN, sender: "alice", password: "correct horse" })).status).toBe(
      Status.BAD_CREDENTIALS,
    );
    expect((await c.request({ opcode: Op.LOG_IN, sender: "alice", password })).status).toBe(Status.OK);
    const fromStdin = await adminWithStdin(
      server.dataFile,
      ["reset-password", "bob", "--stdin"],
      "battery staple\n",
    );
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.out).not.toContain("battery");
    expect((await c.request({ opcode: Op.LOG_IN, sender: "bob", password: "battery staple" })).status).toBe(
      Status.OK,
    );
    const weak = await adminWithStdin(server.dataFile, ["reset-password", "bob", "--stdin"], "short\n");
    expect([weak.code, weak.err.trim()]).toEqual([
      1,
      "chat admin reset-password: password not changed: the password must be at least 8 characters",
    ]);
    const log = await serverLine(
      server,
      (l) => l.includes("admin: reset the password of alice"),
      "the log line",
    );
    expect(log).not.toContain(password);
  });

  test("ban closes connections from the range and refuses new ones until unban; bans survive a restart", async () => {
    const server = await startServer(FAST);
    const alice = await populated(server);
    const idle = await RawClient.open(server.port);
    const r = await admin(server, "ban", "127.0.0.0/8", "--for", "1h");
    expect(r.answer!.text).toMatch(/^banned 127\.0\.0\.0\/8 for 1 h \(until .+Z\); closed 2 connections$/);
    for (const c of [alice, idle]) {
      expect((await c.next((f) => f.opcode === 101, "LOGGED_OUT")).status).toBe(Status.BANNED);
      await c.whenClosed();
    }
    const refused = await RawClient.dial(server.port);
    const first = await refused.next(() => true, "the first frame");
    expect([first.opcode, first.status, first.msg]).toEqual([
      101,
      Status.BANNED,
      "your address is banned from this server",
    ]);
    await refused.whenClosed();
    expect((await admin(server, "bans")).answer!.text).toMatch(/^127\.0\.0\.0\/8 {2}until .+Z$/);

    expect(await server.stop()).toBe(0);
    const again = await startServer(FAST, server.dataFile);
    const still = await RawClient.dial(again.port);
    expect((await still.next(() => true, "the first frame")).status).toBe(Status.BANNED);
    const unban = await admin(again, "unban", "127.0.0.1/8");
    expect(unban.answer!.text).toBe("unbanned 127.0.0.0/8");
    const welcome = await RawClient.open(again.port);
    expect((await welcome.request({ opcode: Op.PING })).status).toBe(Status.OK);
    const missing = await admin(again, "unban", "10.0.0.1");
    expect(missing.err.trim()).toBe("chat admin unban: no ban on 10.0.0.1/32 (there are none)");
    await serverLine(again, (l) => l.includes("admin: unbanned 127.0.0.0/8"), "the admin log line");
  });

  test("stats counts accounts, queued messages, connections and the data file", async () => {
    const server = await startServer(FAST);
    await populated(server);
    const data = (await admin(server, "stats")).answer!.data as Record<string, number | string>;
    expect(data).toMatchObject({
      accounts: 2,
      queued: 2,
      bans: 0,
      connections: 1,
      online: 1,
      messages_accepted: 2,
    });
    expect(data.data_bytes as number).toBeGreaterThan(0);
    expect(String(data.server)).toStartWith("running");
  });

  test("usage errors and a bad address get one clear line each", async () => {
    const server = await startServer(FAST);
    const cases: [string[], number, string][] = [
      [["admin", "frobnicate"], 2, "unknown admin action"],
      [["admin", "kick"], 2, "admin kick needs an account NAME"],
      [["admin", "stats", "extra"], 2, "admin stats takes no argument"],
      [["admin", "accounts", "--for", "1h"], 2, "--for goes with ban only"],
      [["admin", "ban", "example.com"], 1, "is not an IP address or ADDRESS/PREFIX range"],
      [["admin", "ban", "10.0.0.0/40"], 1, "must be 0 to 32"],
    ];
    for (const [args, code, message] of cases) {
      const r = await runChat([...args, "--data", server.dataFile]);
      expect([args.join(" "), r.code]).toEqual([args.join(" "), code]);
      expect(r.err).toContain(message);
    }
  });

  test("finds the data file as chat serve does: flag, CHAT_DATA, then the server's config file", async () => {
    const server = await startServer(FAST);
    const config = join(tempDir(), "chat.toml");
    writeFileSync(config, `data = ${JSON.stringify(server.dataFile)}\nport = 9999\n`);
    const run = async (args: string[], env: Record<string, string>) => {
      const p = Bun.spawn([BIN, "admin", "stats", "--json", ...args], {
        env: { ...process.env, ...env },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([
        new Response(p.stdout).text(),
        new Response(p.stderr).text(),
        p.exited,
      ]);
      return { out, err, code };
    };
    for (const [args, env] of [
      [["--config", config], {}],
      [[], { CHAT_CONFIG: config }],
      [[], { CHAT_DATA: server.dataFile }],
    ] as [string[], Record<string, string>][]) {
      const r = await run(args, env);
      expect([r.err, JSON.parse(r.out || "{}").via]).toEqual(["", "server"]);
    }
    writeFileSync(config, "dta = 1\n");
    const bad = await run(["--config", config], {});
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('line 1: unknown key "dta" (did you mean data?)');
  });
});

describe("chat admin on a stopped server works on the data file", () => {
  test("every action, with bans taking effect at the next start", async () => {
    const server = await startServer(FAST);
    await populated(server);
    expect(await server.stop()).toBe(0);
    const file = { dataFile: server.dataFile };

    const accounts = await admin(file, "accounts");
    expect(accounts.answer!.via).toBe("file");
    expect((accounts.answer!.data as Row[]).map((x) => [x.name, x.queued, x.online])).toEqual([
      ["alice", 0, false],
      ["bob", 2, false],
    ]);
    const stats = (await admin(file, "stats")).answer!.data as Record<string, unknown>;
    expect(stats).toMatchObject({ accounts: 2, queued: 2, bans: 0, server: "not running" });
    const kick = await admin(file, "kick", "alice");
    expect([kick.code, kick.err.trim()]).toEqual([
      1,
      "chat admin kick: alice is not online: no server is running",
    ]);
    const reset = await admin(file, "reset-password", "alice");
    const password = (reset.answer!.data as { password: string }).password;
    expect((await admin(file, "delete", "bob")).answer!.text).toBe(
      "deleted account bob with 2 waiting messages",
    );
    expect((await admin(file, "ban", "127.0.0.1")).answer!.text).toBe(
      "banned 127.0.0.1/32 until unbanned; in force from the next start",
    );
    expect((await admin(file, "ban", "::1")).answer!.text).toContain("banned ::1/128");
    expect((await admin(file, "unban", "::1")).answer!.text).toBe("unbanned ::1/128");
    expect((await admin(file, "bans")).answer!.text).toBe("127.0.0.1/32  until unbanned");
    const plain = await runChat(["admin", "bans", "--data", server.dataFile]);
    expect(plain.out).toBe("127.0.0.1/32  until unbanned\n(no server running: done on the data file)\n");

    const restarted = await startServer(FAST, server.dataFile);
    const refused = await RawClient.dial(restarted.port);
    expect((await refused.next(() => true, "the first frame")).status).toBe(Status.BANNED);
    await admin(restarted, "unban", "127.0.0.1");
    const c = await RawClient.open(restarted.port);
    expect((await c.request({ opcode: Op.LOG_IN, sender: "alice", password })).status).toBe(Status.OK);
    expect((await c.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" })).status).toBe(
      Status.BAD_CREDENTIALS,
    );
  });

  test("a :memory: server has a control socket only when given one", async () => {
    const dir = tempDir();
    const r = await runChat(["admin", "stats", "--data", ":memory:"]);
    expect([r.code, r.err]).toEqual([
      1,
      "chat admin stats: a server with --data :memory: has a control socket only when started with --control-socket PATH; pass the same --control-socket here\n",
    ]);
    const socket = join(dir, "control.sock");
    const server = await startServer([...FAST, "--control-socket", socket], ":memory:");
    const stats = await runChat([
      "admin",
      "stats",
      "--data",
      ":memory:",
      "--control-socket",
      socket,
      "--json",
    ]);
    expect(JSON.parse(stats.out).data).toMatchObject({
      accounts: 0,
      server: expect.stringMatching(/^running/),
    });
    const backup = await runChat([
      "backup",
      join(dir, "b.db"),
      "--data",
      ":memory:",
      "--control-socket",
      socket,
    ]);
    expect(backup.err).toContain("--data :memory:): there is nothing to back up");
    expect(server.port).toBeGreaterThan(0);
  });
});

describe("the control socket", () => {
  const asNobody = (() => {
    if (process.getuid?.() !== 0) return null;
    const prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    const probe = Bun.spawnSync([...prefix, "/usr/bin/id", "-u"], { stdout: "pipe", stderr: "pipe" });
    return probe.exitCode === 0 ? prefix : null;
  })();

  test("is mode 0600 and goes away when the server stops", async () => {
    const server = await startServer(FAST);
    const path = `${server.dataFile}.sock`;
    const st = statSync(path);
    expect([st.isSocket(), (st.mode & 0o777).toString(8)]).toEqual([true, "600"]);
    await server.stop();
    expect(() => statSync(path)).toThrow();
  });

  test("left behind by a killed server, is passed over by chat admin and replaced at the next start", async () => {
    const server = await startServer(FAST);
    await populated(server);
    await server.stop("SIGKILL");
    expect(statSync(`${server.dataFile}.sock`).isSocket()).toBe(true);
    const r = await admin(server, "stats");
    expect(r.answer!.via).toBe("file");
    expect(r.answer!.data).toMatchObject({ accounts: 2, server: "not running" });
    const again = await startServer(FAST, server.dataFile);
    const live = await admin(again, "stats");
    expect(live.answer!.via).toBe("server");
  });

  test("a server with a long data path runs without one and says so; a named one must fit", async () => {
    let dir = tempDir();
    while (dir.length < 110) dir = join(dir, "a-rather-long-directory-name");
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // the server refuses a data directory others can read
    const server = await startServer(FAST, join(dir, "chat.db"));
    await serverLine(
      server,
      (l) => l.includes("no control socket:") && l.includes("set --control-socket"),
      "the warning",
    );
    const refused = await runChat(
      [
        "serve",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--data",
        ":memory:",
        "--control-socket",
        join(dir, "c.sock"),
      ],
      { timeoutMs: 10_000 },
    );
    expect(refused.code).toBe(1);
    expect(refused.out + refused.err).toContain("choose a shorter one with --control-socket");
  });

  // Skipped when not root: only root can run the client as a second user here.
  test.skipIf(asNobody === null)("refuses another user, who also cannot open the data file", async () => {
    const server = await startServer(FAST);
    // Only the socket's own mode is in the way: its directory is open to everyone.
    chmodSync(dirname(server.dataFile), 0o755);
    const r = await runChat(["admin", "stats", "--data", server.dataFile], { prefix: asNobody! });
    expect(r.code).toBe(1);
    expect(r.err).toContain("permission denied on control socket");
    expect(r.out).toBe("");
  });
});
