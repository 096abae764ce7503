import { describe, expect, test } from "bun:test";
import { type AdminContext, type LiveServer, parseRequest, runAdmin } from "../../src/admin/actions";
import { MemoryStore } from "../../src/store/memory";
import type { Ban } from "../../src/store/store";

const NOW = 1_700_000_000_000;

function setup(live?: Partial<LiveServer>) {
  const store = new MemoryStore({ maxQueuedPerAccount: 100, maxQueuedPerSender: 100, dedupPerSender: 128 });
  const logged: string[] = [];
  const kicked: [number, string][] = [];
  const applied: Ban[][] = [];
  const c: AdminContext = {
    store,
    passwords: { hash: async (p) => `hashed:${p}`, verify: async (p, h) => h === `hashed:${p}` },
    now: () => NOW,
    nameReuseAfterMs: 30 * 86_400_000,
    log: (line) => logged.push(line),
    ...(live
      ? {
          live: {
            isOnline: () => false,
            kick: (id, why) => {
              kicked.push([id, why]);
              return true;
            },
            applyBans: (bans) => {
              applied.push([...bans]);
              return 0;
            },
            stats: () => ({ connections: 0 }),
            ...live,
          },
        }
      : {}),
  };
  return { store, c, logged, kicked, applied };
}

describe("parseRequest", () => {
  test("takes the requests the client sends", () => {
    expect(parseRequest({ action: "accounts" })).toEqual({ action: "accounts" });
    expect(parseRequest({ action: "ban", address: "10.0.0.0/8", forMs: 60_000 })).toEqual({
      action: "ban",
      address: "10.0.0.0/8",
      forMs: 60_000,
    });
    expect(parseRequest({ action: "reset-password", name: "a", password: "p", extra: 1 })).toEqual({
      action: "reset-password",
      name: "a",
      password: "p",
    });
  });

  test("refuses anything else with a reason", () => {
    expect(parseRequest(null)).toBe("a request is a JSON object");
    expect(parseRequest([])).toMatch(/^unknown action/);
    expect(parseRequest({ action: "drop-tables" })).toMatch(/^unknown action; expected one of accounts, /);
    expect(parseRequest({ action: "__proto__" })).toMatch(/^unknown action/);
    expect(parseRequest({ action: "kick" })).toBe("kick needs name (a string)");
    expect(parseRequest({ action: "kick", name: 5 })).toBe("kick needs name (a string)");
    expect(parseRequest({ action: "kick", name: "x".repeat(5000) })).toBe("kick needs name (a string)");
    expect(parseRequest({ action: "ban", address: "1.2.3.4", forMs: -1 })).toMatch(/positive whole number/);
    expect(parseRequest({ action: "ban", address: "1.2.3.4", forMs: "1h" })).toMatch(/positive whole number/);
  });
});

describe("runAdmin", () => {
  test("delete on a running server logs the session out first, then deletes with the queue", async () => {
    const { store, c, logged, kicked } = setup({});
    const a = (await store.createAccount({
      name: "Alice",
      key: "alice",
      passwordHash: "h",
      createdAt: NOW,
    }))!;
    await store.enqueue({
      senderId: a.id,
      senderName: "Alice",
      recipientKey: "alice",
      text: "x",
      sentAt: NOW,
      clientMsgId: 0,
    });
    const r = await runAdmin(c, { action: "delete", name: "ALICE" });
    expect(r).toMatchObject({
      ok: true,
      text: "deleted account Alice with 1 waiting message (its session was logged out)",
    });
    expect(kicked).toEqual([[a.id, "your account was deleted by the server's operator"]]);
    expect(await store.findAccount("alice")).toBeNull();
    // As after DELETE_ACCOUNT, the name stays reserved: nobody else receives what was meant for Alice.
    expect(await store.nameReservation("alice", "alice", NOW)).toEqual({
      name: "Alice",
      until: NOW + 30 * 86_400_000,
    });
    expect(logged).toEqual(["deleted account Alice with 1 waiting message (its session was logged out)"]);
  });

  test("reset-password hashes the new password and checks its length", async () => {
    const { store, c } = setup();
    const a = (await store.createAccount({ name: "bob", key: "bob", passwordHash: "old", createdAt: NOW }))!;
    expect(
      await runAdmin(c, { action: "reset-password", name: "bob", password: "long enough" }),
    ).toMatchObject({ ok: true });
    expect(await store.passwordHash(a.id)).toBe("hashed:long enough");
    expect(await runAdmin(c, { action: "reset-password", name: "bob", password: "short" })).toEqual({
      ok: false,
      error: "password not changed: the password must be at least 8 characters",
    });
    const generated = await runAdmin(c, { action: "reset-password", name: "bob" });
    const password = (generated as { data: { password: string } }).data.password;
    expect(password).toHaveLength(20);
    expect(await store.passwordHash(a.id)).toBe(`hashed:${password}`);
  });

  test("ban stores the canonical range with its end, and puts the list in force", async () => {
    const { store, c, applied } = setup({});
    const r = await runAdmin(c, { action: "ban", address: "2001:DB8::7/32", forMs: 90 * 60_000 });
    expect(r).toMatchObject({
      ok: true,
      text: "banned 2001:db8::/32 for 1.5 h (until 2023-11-14T23:43:20Z); closed 0 connections",
    });
    expect(await store.listBans(NOW)).toEqual([
      { prefix: "2001:db8::/32", until: NOW + 90 * 60_000, createdAt: NOW },
    ]);
    expect(applied.at(-1)!.map((b) => b.prefix)).toEqual(["2001:db8::/32"]);
    expect(await runAdmin(c, { action: "unban", address: "2001:db8:0:0::/32" })).toMatchObject({ ok: true });
    expect(applied.at(-1)).toEqual([]);
    expect(await runAdmin(c, { action: "ban", address: "2001:db8::/200" })).toEqual({
      ok: false,
      error: 'prefix length in "2001:db8::/200" must be 0 to 128',
    });
  });

  test("what needs a running server or a data file says so", async () => {
    const { store, c } = setup();
    await store.createAccount({ name: "carol", key: "carol", passwordHash: "h", createdAt: NOW });
    expect(await runAdmin(c, { action: "kick", name: "carol" })).toEqual({
      ok: false,
      error: "carol is not online: no server is running",
    });
    expect(await runAdmin(c, { action: "backup", file: "/tmp/x.db" })).toEqual({
      ok: false,
      error: "the server keeps its data in memory (--data :memory:): there is nothing to back up",
    });
    expect(await runAdmin(c, { action: "accounts", pattern: "\u0001" })).toEqual({
      ok: false,
      error: "invalid pattern: the pattern has a control character",
    });
  });

  test("a failing store is an answer, not a crash", async () => {
    const { c } = setup();
    c.store.findAccount = async () => {
      throw new Error("disk on fire");
    };
    expect(await runAdmin(c, { action: "kick", name: "x" })).toEqual({
      ok: false,
      error: "kick failed: disk on fire",
    });
  });
});
