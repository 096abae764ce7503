// Identity through the compiled server (issue 10 items 1, 2, 3, 9, 18): look-alike and
// invisible names, reserved names of deleted accounts, session tokens that outlive logins,
// lockout by guessing from another address, and password rehashing after a cost change.

import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { MIGRATIONS } from "../../src/store/migrations";
import {
  decodeReply,
  encodeFrame,
  encodeRequest,
  FrameDecoder,
  Op,
  Push,
  type Reply,
  type RequestInit,
  Status,
} from "../../src/wire";
import { atEnd } from "../processes";
import { RawClient, runChat, startServer, tempDir } from "./harness";

const CHEAP = ["--argon2-memory-kib", "256", "--argon2-time", "1"];
const PASSWORD = "correct horse";

/** A raw protocol client whose connection comes from localAddress (another loopback address). */
class AddressedClient {
  readonly frames: Reply[] = [];
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);
  private waiters: (() => void)[] = [];
  private nextId = 1;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      for (const f of this.decoder.push(d)) this.frames.push(decodeReply(f));
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  static async open(port: number, localAddress: string): Promise<AddressedClient> {
    const socket = connect({ host: "127.0.0.1", port, localAddress });
    atEnd(() => socket.destroy());
    const c = new AddressedClient(socket);
    await c.next((r) => r.opcode === Push.HELLO, "HELLO");
    return c;
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async request(init: RequestInit): Promise<Reply> {
    const requestId = this.nextId++;
    this.socket.write(encodeFrame(encodeRequest({ requestId, ...init })));
    return this.next((r) => r.requestId === requestId && r.opcode < 100, `answer to request ${requestId}`);
  }

  async next(pred: (r: Reply) => boolean, what: string, timeoutMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`connection closed without ${what}`);
      const left = deadline - Date.now();
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

  close(): void {
    this.socket.destroy();
  }
}

const create = (c: RawClient, sender: string, password = PASSWORD) =>
  c.request({ opcode: Op.CREATE_ACCOUNT, sender, password });
const login = (c: { request(r: RequestInit): Promise<Reply> }, sender: string, password = PASSWORD) =>
  c.request({ opcode: Op.LOG_IN, sender, password });

/** Reads a live data file through a copy (the server holds the file's lock). */
function queryCopy<T>(dataFile: string, sql: string): T[] {
  const dir = tempDir();
  const copy = join(dir, "copy.db");
  copyFileSync(dataFile, copy);
  if (existsSync(`${dataFile}-wal`)) copyFileSync(`${dataFile}-wal`, `${copy}-wal`);
  const db = new Database(copy);
  try {
    return db.query(sql).all() as T[];
  } finally {
    db.close();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

describe("look-alike and invisible names", () => {
  test("names that render like alice are refused, each with its reason; ａlice is alice", async () => {
    const server = await startServer(CHEAP);
    const c = await RawClient.open(server.port);
    expect(await create(c, "alice")).toMatchObject({ status: Status.OK });
    const invisible: [string, string][] = [
      ["alice\u034f", "U+034F COMBINING GRAPHEME JOINER"],
      ["alice\ufe0f", "U+FE0F VARIATION SELECTOR-16"],
      ["alice\u{e0100}", "U+E0100 VARIATION SELECTOR-17"],
      ["alice\u180b", "U+180B MONGOLIAN FREE VARIATION SELECTOR ONE"],
      ["alice\u3164", "U+3164 HANGUL FILLER"],
      ["\u3164", "U+3164 HANGUL FILLER"],
    ];
    for (const [name, what] of invisible) {
      const r = await create(c, name);
      expect(r.status).toBe(Status.INVALID_NAME);
      expect(r.msg).toContain(`${what} at position`);
      expect(r.msg).toContain("invisible characters are not allowed");
    }
    expect(await create(c, "\u0430lice")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name \u0430lice is taken: it looks like the existing account alice",
    });
    expect(await create(c, "\uff41lice")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name alice is taken",
    });
    expect(await create(c, "\u{1d41a}lice")).toMatchObject({
      status: Status.INVALID_NAME,
      msg: "invalid name: the name has '\u{1d41a}' (U+1D41A) at position 1; it is a compatibility variant of 'a' (write 'a' instead)",
    });
    // A whole-script look-alike (all Cyrillic) of an existing Latin name is taken too.
    expect(await create(c, "ace")).toMatchObject({ status: Status.OK });
    expect(await create(c, "\u0430\u0441\u0435")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name \u0430\u0441\u0435 is taken: it looks like the existing account ace",
    });
    // A free name that mixes scripts.
    expect(await create(c, "p\u0430ypal")).toMatchObject({
      status: Status.INVALID_NAME,
      msg: "invalid name: the name mixes Latin and Cyrillic letters",
    });
    // Every spelling with the same key is the one account.
    expect(await login(c, "\uff21LICE")).toMatchObject({ status: Status.OK, name: "alice" });
    c.close();
    await server.stop();
  });

  test("accounts of an older data file keep being found by name, and their look-alikes are taken", async () => {
    const dataFile = join(tempDir(), "chat.db");
    const hash = await Bun.password.hash(PASSWORD, { algorithm: "argon2id", memoryCost: 256, timeCost: 1 });
    const db = new Database(dataFile);
    db.run(MIGRATIONS[0]!);
    db.run("INSERT INTO accounts (key, name, password_hash, created_at) VALUES ('olga', 'Olga', ?, 1)", [
      hash,
    ]);
    db.run("PRAGMA user_version = 1");
    db.close();
    chmodSync(dataFile, 0o600); // the server refuses a data file others can read
    const server = await startServer(CHEAP, dataFile);
    const c = await RawClient.open(server.port);
    expect(await create(c, "\u041elga")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name \u041elga is taken: it looks like the existing account Olga",
    });
    expect(await login(c, "OLGA")).toMatchObject({ status: Status.OK, name: "Olga" });
    c.close();
    await server.stop();
  });
});

describe("names of deleted accounts", () => {
  test("stay reserved for --name-reuse-after (default 30 days), look-alikes too", async () => {
    const server = await startServer(CHEAP);
    const owner = await RawClient.open(server.port);
    expect(await owner.login("bob")).toMatchObject({ status: Status.OK });
    expect(await owner.request({ opcode: Op.DELETE_ACCOUNT, password: PASSWORD })).toMatchObject({
      status: Status.OK,
    });
    const other = await RawClient.open(server.port);
    const r = await create(other, "bob", "another password");
    expect(r.status).toBe(Status.NAME_TAKEN);
    const days30 = [0, 1].map((d) =>
      new Date(Date.now() + (30 * 86_400_000 - d * 60_000)).toISOString().slice(0, 10),
    );
    expect(
      days30.map((d) => `the name bob belonged to a deleted account and is reserved until ${d}`),
    ).toContain(r.msg);
    expect((await create(other, "b\u043eb", "another password")).status).toBe(Status.NAME_TAKEN);
    owner.close();
    other.close();
    await server.stop();
  });

  test("--name-reuse-after takes days, other durations or 0, and says what it wants", async () => {
    const bad = await runChat(["serve", "--name-reuse-after", "soon", "--data", ":memory:", "--port", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      '--name-reuse-after wants a duration such as 30d, 12h or 90m, or 0; got "soon"',
    );
  });

  test("after the period the name is free again", async () => {
    const server = await startServer([...CHEAP, "--name-reuse-after", "1s"]);
    const owner = await RawClient.open(server.port);
    expect(await owner.login("carol")).toMatchObject({ status: Status.OK });
    expect(await owner.request({ opcode: Op.DELETE_ACCOUNT, password: PASSWORD })).toMatchObject({
      status: Status.OK,
    });
    const other = await RawClient.open(server.port);
    expect((await create(other, "carol", "another password")).status).toBe(Status.NAME_TAKEN);
    const reborn = await until("the name to be free", async () => {
      const r = await create(other, "carol", "another password");
      return r.status === Status.OK ? r : undefined;
    });
    expect(reborn).toMatchObject({ name: "carol" });
    owner.close();
    other.close();
    await server.stop();
  });
});

describe("session tokens", () => {
  test("a password login revokes older tokens: a stale RESUME fails and leaves the live session alone; QUIT revokes all", async () => {
    const server = await startServer(CHEAP);
    const first = await RawClient.open(server.port);
    const issued = await first.login("dave");
    expect(issued.token).not.toBe("");
    first.close(); // dropped: its token used to stay valid
    await first.whenClosed();

    const live = await RawClient.open(server.port);
    const again = await login(live, "dave");
    expect(again).toMatchObject({ status: Status.OK });

    const stale = await RawClient.open(server.port);
    expect(await stale.request({ opcode: Op.RESUME, token: issued.token })).toMatchObject({
      status: Status.INVALID_TOKEN,
    });
    expect(await live.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    expect(live.frames.filter((f) => f.opcode === Push.LOGGED_OUT)).toEqual([]);

    expect(await live.request({ opcode: Op.QUIT })).toMatchObject({ status: Status.OK });
    const after = await RawClient.open(server.port);
    expect(await after.request({ opcode: Op.RESUME, token: again.token })).toMatchObject({
      status: Status.INVALID_TOKEN,
    });
    for (const c of [stale, after]) c.close();
    await server.stop();
  });
});

describe("lockout by guessing", () => {
  test("guesses from other addresses never keep the owner, on an address without failures, out", async () => {
    const server = await startServer(CHEAP);
    const setup = await RawClient.open(server.port);
    expect(await create(setup, "erin")).toMatchObject({ status: Status.OK });
    setup.close();
    // Five attacking addresses, six guesses each: past every per-(account, address) budget and
    // past the account's own (20 a minute).
    const statuses: number[] = [];
    for (let a = 2; a <= 6; a++) {
      const attacker = await AddressedClient.open(server.port, `127.0.0.${a}`);
      for (let i = 0; i < 6; i++) statuses.push((await login(attacker, "erin", `guess ${a}.${i}`)).status);
      // The owner logs in between rounds of guessing, from 127.0.0.1.
      const owner = await RawClient.open(server.port);
      expect(await login(owner, "erin")).toMatchObject({ status: Status.OK });
      owner.close();
      attacker.close();
    }
    expect(statuses.filter((s) => s === Status.RATE_LIMITED).length).toBeGreaterThanOrEqual(5);
    expect(statuses.filter((s) => s === Status.BAD_CREDENTIALS).length).toBeLessThanOrEqual(25);
    // The attacker's address is refused even with the right password.
    const attacker = await AddressedClient.open(server.port, "127.0.0.2");
    expect((await login(attacker, "erin")).status).toBe(Status.RATE_LIMITED);
    attacker.close();
    await server.stop();
  });
});

describe("password cost changes", () => {
  const dataFile = join(tempDir(), "chat.db");
  const servers: { stop(): Promise<number> }[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  test("a successful login rehashes a password made at another cost", async () => {
    const before = await startServer(CHEAP, dataFile);
    const c = await RawClient.open(before.port);
    expect(await create(c, "frank")).toMatchObject({ status: Status.OK });
    c.close();
    expect(await before.stop()).toBe(0);

    const after = await startServer(["--argon2-memory-kib", "512", "--argon2-time", "2"], dataFile);
    servers.push(after);
    const d = await RawClient.open(after.port);
    expect(await login(d, "frank")).toMatchObject({ status: Status.OK });
    const hash = await until("the rehashed password", async () => {
      const [row] = queryCopy<{ h: string }>(dataFile, "SELECT password_hash AS h FROM accounts");
      return row?.h.includes("m=512,t=2") ? row.h : undefined;
    });
    expect(hash).toStartWith("$argon2id$");
    expect(await login(await RawClient.open(after.port), "frank")).toMatchObject({ status: Status.OK });
    d.close();
  });

  test("unknown names cost what the stored hashes cost, not the configured cost", async () => {
    const file = join(tempDir(), "chat.db");
    const costly = await startServer(["--argon2-memory-kib", "32768", "--argon2-time", "3"], file);
    const c = await RawClient.open(costly.port);
    for (const name of ["gina", "hank", "ivan"])
      expect(await create(c, name)).toMatchObject({ status: Status.OK });
    c.close();
    expect(await costly.stop()).toBe(0);

    const cheap = await startServer(CHEAP, file);
    servers.push(cheap);
    const timed = async (name: string, i: number) => {
      const conn = await RawClient.open(cheap.port);
      const started = performance.now();
      const r = await login(conn, name, `wrong guess ${i}`);
      const ms = performance.now() - started;
      conn.close();
      expect(r.status).toBe(Status.BAD_CREDENTIALS);
      return ms;
    };
    // One unknown name first: it learns the stored cost and makes its dummy hash.
    await timed("nobody-0", 0);
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 1; i <= 3; i++) {
      known.push(await timed(["gina", "hank", "ivan"][i - 1]!, i));
      unknown.push(await timed(`nobody-${i}`, i));
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
    // Before: unknown names were checked at the cheap configured cost, many times faster.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.4);
  });
});
