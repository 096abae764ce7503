// The Store contract, run by every implementation's test file (as Hono runs one router
// suite against each router): runStoreContract("MemoryStore", (limits) => new MemoryStore(limits)).

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { Account, NewMessage, Store, StoredMessage, StoreLimits } from "../../src/store/store";

// --- helpers ---

export const LIMITS: StoreLimits = { maxQueuedPerAccount: 3, dedupWindowMs: 60_000 };
const WINDOW = LIMITS.dedupWindowMs;
/** A fixed "now" (ms since the epoch); tests move time by adding to it. */
export const T0 = 1_700_000_000_000;

export async function addAccount(s: Store, name: string): Promise<Account> {
  const a = await s.createAccount({
    name,
    key: name.toLowerCase(),
    passwordHash: `hash:${name}`,
    createdAt: T0,
  });
  if (!a) throw new Error(`${name} is taken`);
  return a;
}

export function msg(from: Account, toKey: string, text: string, extra: Partial<NewMessage> = {}): NewMessage {
  return {
    senderId: from.id,
    senderName: from.name,
    recipientKey: toKey,
    text,
    sentAt: T0,
    clientMsgId: 0,
    ...extra,
  };
}

/** Enqueues a message that must be accepted; returns it as stored. */
export async function put(s: Store, m: NewMessage): Promise<StoredMessage> {
  const r = await s.enqueue(m);
  if (!r.ok) throw new Error(`enqueue failed: ${r.error}`);
  return r.message;
}

const ids = (ms: readonly StoredMessage[]): number[] => ms.map((m) => m.id);
const keys = (as: readonly Account[]): string[] => as.map((a) => a.key);
const all = (): boolean => true;

export function runStoreContract(
  name: string,
  makeStore: (limits: StoreLimits) => Store | Promise<Store>,
): void {
  describe(`${name}: Store contract`, () => {
    let s: Store;
    beforeEach(async () => {
      s = await makeStore(LIMITS);
    });
    afterEach(() => s.close());

    describe("accounts", () => {
      it("creates an account and finds it by key and by id", async () => {
        const a = await addAccount(s, "Alice");
        expect(a).toEqual({ id: expect.any(Number), name: "Alice", key: "alice", createdAt: T0 });
        expect(await s.findAccount("alice")).toEqual(a);
        expect(await s.findAccountById(a.id)).toEqual(a);
        expect(await s.passwordHash(a.id)).toBe("hash:Alice");
        expect(await s.passwordHash(a.id + 1000)).toBeNull();
      });

      it("answers null for a taken key and keeps the first account", async () => {
        const a = await addAccount(s, "Alice");
        const again = { name: "ALICE", key: "alice", passwordHash: "other", createdAt: T0 + 1 };
        expect(await s.createAccount(again)).toBeNull();
        expect(await s.findAccount("alice")).toEqual(a);
        expect((await s.stats()).accounts).toBe(1);
      });

      it("answers null for an unknown key or id", async () => {
        await addAccount(s, "Alice");
        expect(await s.findAccount("bob")).toBeNull();
        expect(await s.findAccountById(424242)).toBeNull();
      });

      it("never reuses an id, even after a delete", async () => {
        const a = await addAccount(s, "Alice");
        const b = await addAccount(s, "Bob");
        await s.deleteAccount(a.id);
        const a2 = await addAccount(s, "Alice");
        expect(new Set([a.id, b.id, a2.id]).size).toBe(3);
        expect(await s.findAccountById(a.id)).toBeNull();
        expect(await s.findAccount("alice")).toEqual(a2);
      });

      it("ignores a delete of an unknown id", async () => {
        await addAccount(s, "Alice");
        await s.deleteAccount(424242);
        expect(await s.stats()).toEqual({ accounts: 1, queued: 0 });
      });
    });

    describe("listAccounts", () => {
      const create = (...names: string[]) => Promise.all(names.map((n) => addAccount(s, n)));

      it("lists in key order whatever the creation order", async () => {
        await create("carol", "Alice", "dave", "Bob");
        expect(keys(await s.listAccounts("", 10, all))).toEqual(["alice", "bob", "carol", "dave"]);
      });

      it("starts after the cursor, which need not be a key", async () => {
        await create("alice", "bob", "carol");
        expect(keys(await s.listAccounts("bob", 10, all))).toEqual(["carol"]);
        expect(keys(await s.listAccounts("b", 10, all))).toEqual(["bob", "carol"]);
        expect(await s.listAccounts("carol", 10, all)).toEqual([]);
      });

      it("pages through everyone with the last key as the cursor", async () => {
        const names = ["g", "b", "e", "a", "f", "c", "d"];
        await create(...names);
        const pages: string[][] = [];
        for (let cursor = ""; ; ) {
          const page = keys(await s.listAccounts(cursor, 3, all));
          if (page.length === 0) break;
          pages.push(page);
          cursor = page[page.length - 1]!;
        }
        expect(pages).toEqual([["a", "b", "c"], ["d", "e", "f"], ["g"]]);
      });

      it("passes keys to match and counts only matches against the limit", async () => {
        await create("Ann", "Bea", "Bob", "Cat", "Bud");
        const b = (k: string) => k.startsWith("b");
        expect(keys(await s.listAccounts("", 2, b))).toEqual(["bea", "bob"]);
        expect(keys(await s.listAccounts("bob", 2, b))).toEqual(["bud"]);
      });

      it("lists nothing for limit 0", async () => {
        await create("alice");
        expect(await s.listAccounts("", 0, all)).toEqual([]);
      });

      it("sorts by code point, as UTF-8 bytes sort: characters past U+FFFF last", async () => {
        await create("𝐚", "ｚ", "z"); // U+1D41A, U+FF5A, U+007A
        expect(keys(await s.listAccounts("", 10, all))).toEqual(["z", "ｚ", "𝐚"]);
        expect(keys(await s.listAccounts("ｚ", 10, all))).toEqual(["𝐚"]);
      });

      it("leaves out deleted accounts", async () => {
        const [a] = await create("alice", "bob");
        await s.deleteAccount(a!.id);
        expect(keys(await s.listAccounts("", 10, all))).toEqual(["bob"]);
      });
    });

    describe("enqueue", () => {
      it("stores a message for the recipient and answers with it", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const r = await s.enqueue(msg(bob, "alice", "hi 👋"));
        const message = {
          id: expect.any(Number),
          recipientId: alice.id,
          senderName: "Bob",
          text: "hi 👋",
          sentAt: T0,
        };
        expect(r).toEqual({ ok: true, message, recipient: alice, duplicate: false });
        expect(await s.pending(alice.id, 0, 10)).toEqual([message]);
      });

      it("answers no_such_account for an unknown or deleted recipient", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        expect(await s.enqueue(msg(bob, "carol", "hi"))).toEqual({ ok: false, error: "no_such_account" });
        await s.deleteAccount(alice.id);
        expect(await s.enqueue(msg(bob, "alice", "hi"))).toEqual({ ok: false, error: "no_such_account" });
      });

      it("gives increasing ids in acceptance order, across recipients", async () => {
        const [, , bob] = [
          await addAccount(s, "Alice"),
          await addAccount(s, "Carol"),
          await addAccount(s, "Bob"),
        ];
        const got: number[] = [];
        for (const to of ["alice", "carol", "alice", "carol", "alice", "carol"])
          got.push((await put(s, msg(bob, to, "x"))).id);
        expect(got).toEqual([...got].sort((x, y) => x - y));
        expect(new Set(got).size).toBe(6);
      });

      it("answers mailbox_full at maxQueuedPerAccount, for that recipient only", async () => {
        const [alice, , bob] = [
          await addAccount(s, "Alice"),
          await addAccount(s, "Carol"),
          await addAccount(s, "Bob"),
        ];
        for (let i = 0; i < LIMITS.maxQueuedPerAccount; i++) await put(s, msg(bob, "alice", `m${i}`));
        expect(await s.enqueue(msg(bob, "alice", "one too many"))).toEqual({
          ok: false,
          error: "mailbox_full",
        });
        expect(await s.countPending(alice.id)).toBe(3);
        await put(s, msg(bob, "carol", "still fine"));
      });

      it("takes messages again once one is confirmed", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const first = await put(s, msg(bob, "alice", "1"));
        for (const t of ["2", "3"]) await put(s, msg(bob, "alice", t));
        await s.ack(alice.id, [first.id]);
        expect((await s.enqueue(msg(bob, "alice", "4"))).ok).toBe(true);
      });

      it("applies calls in the order they were made, without awaiting", async () => {
        const bob = await addAccount(s, "Bob");
        const created = s.createAccount({ name: "Ann", key: "ann", passwordHash: "h", createdAt: T0 });
        const sent = s.enqueue(msg(bob, "ann", "first!"));
        const [ann, r] = await Promise.all([created, sent]);
        expect(r.ok && r.recipient.id).toBe(ann!.id);
      });
    });

    describe("deduplication by (sender, client_msg_id)", () => {
      it("stores a resend once and answers with the first copy", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const first = await put(s, msg(bob, "alice", "hi", { clientMsgId: 7 }));
        const r = await s.enqueue(msg(bob, "alice", "hi", { clientMsgId: 7, sentAt: T0 + 1000 }));
        expect(r).toMatchObject({
          ok: true,
          duplicate: true,
          message: { id: first.id, sentAt: T0, text: "hi" },
        });
        expect(ids(await s.pending(alice.id, 0, 10))).toEqual([first.id]);
      });

      it("remembers for dedupWindowMs and no longer", async () => {
        const [, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const first = await put(s, msg(bob, "alice", "hi", { clientMsgId: 7 }));
        const late = await s.enqueue(msg(bob, "alice", "hi", { clientMsgId: 7, sentAt: T0 + WINDOW - 1 }));
        expect(late).toMatchObject({ duplicate: true, message: { id: first.id } });
        const second = await s.enqueue(msg(bob, "alice", "hi", { clientMsgId: 7, sentAt: T0 + WINDOW }));
        expect(second).toMatchObject({ ok: true, duplicate: false });
        const secondId = second.ok ? second.message.id : 0;
        expect(secondId).toBeGreaterThan(first.id);
        // The new copy is remembered from its own time.
        const again = await s.enqueue(msg(bob, "alice", "hi", { clientMsgId: 7, sentAt: T0 + WINDOW + 1 }));
        expect(again).toMatchObject({ duplicate: true, message: { id: secondId } });
      });

      it("never deduplicates client_msg_id 0", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        await put(s, msg(bob, "alice", "hi"));
        expect(await s.enqueue(msg(bob, "alice", "hi"))).toMatchObject({ ok: true, duplicate: false });
        expect(await s.countPending(alice.id)).toBe(2);
      });

      it("keys on the sender: another sender's same id is a new message", async () => {
        const [alice, bob, carol] = [
          await addAccount(s, "Alice"),
          await addAccount(s, "Bob"),
          await addAccount(s, "Carol"),
        ];
        await put(s, msg(bob, "alice", "hi", { clientMsgId: 7 }));
        expect(await s.enqueue(msg(carol, "alice", "hi", { clientMsgId: 7 }))).toMatchObject({
          duplicate: false,
        });
        expect(await s.enqueue(msg(bob, "alice", "hi", { clientMsgId: 8 }))).toMatchObject({
          duplicate: false,
        });
        expect(await s.countPending(alice.id)).toBe(3);
      });

      it("recognises a resend after the original was confirmed", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const first = await put(s, msg(bob, "alice", "hi", { clientMsgId: 7 }));
        await s.ack(alice.id, [first.id]);
        expect(await s.enqueue(msg(bob, "alice", "hi", { clientMsgId: 7 }))).toMatchObject({
          duplicate: true,
        });
        expect(await s.countPending(alice.id)).toBe(0);
      });

      it("answers a resend to a full mailbox as a duplicate, not mailbox_full", async () => {
        const [, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const first = await put(s, msg(bob, "alice", "1", { clientMsgId: 1 }));
        for (const t of ["2", "3"]) await put(s, msg(bob, "alice", t));
        const r = await s.enqueue(msg(bob, "alice", "1", { clientMsgId: 1 }));
        expect(r).toMatchObject({ ok: true, duplicate: true, message: { id: first.id } });
      });
    });

    describe("pending, countPending and ack", () => {
      async function threeFor(to: string): Promise<StoredMessage[]> {
        const bob = (await s.findAccount("bob")) ?? (await addAccount(s, "Bob"));
        return [
          await put(s, msg(bob, to, "1")),
          await put(s, msg(bob, to, "2")),
          await put(s, msg(bob, to, "3")),
        ];
      }

      it("pages oldest first with afterId and limit", async () => {
        const alice = await addAccount(s, "Alice");
        const [m1, m2, m3] = await threeFor("alice");
        expect(await s.pending(alice.id, 0, 2)).toEqual([m1!, m2!]);
        expect(await s.pending(alice.id, m2!.id, 2)).toEqual([m3!]);
        expect(await s.pending(alice.id, m3!.id, 2)).toEqual([]);
      });

      it("gives each recipient only its own messages", async () => {
        const [alice, carol] = [await addAccount(s, "Alice"), await addAccount(s, "Carol")];
        const forAlice = await threeFor("alice");
        const forCarol = await threeFor("carol");
        expect(ids(await s.pending(alice.id, 0, 10))).toEqual(ids(forAlice));
        expect(ids(await s.pending(carol.id, 0, 10))).toEqual(ids(forCarol));
      });

      it("counts waiting messages, 0 for none or an unknown account", async () => {
        const [alice, carol] = [await addAccount(s, "Alice"), await addAccount(s, "Carol")];
        await threeFor("alice");
        expect(await s.countPending(alice.id)).toBe(3);
        expect(await s.countPending(carol.id)).toBe(0);
        expect(await s.countPending(424242)).toBe(0);
      });

      it("ack removes exactly the given ids", async () => {
        const alice = await addAccount(s, "Alice");
        const [m1, m2, m3] = await threeFor("alice");
        await s.ack(alice.id, [m1!.id, m3!.id]);
        expect(await s.pending(alice.id, 0, 10)).toEqual([m2!]);
        expect(await s.pending(alice.id, m1!.id, 10)).toEqual([m2!]);
        expect(await s.countPending(alice.id)).toBe(1);
        expect((await s.stats()).queued).toBe(1);
      });

      it("ack ignores unknown ids and other recipients' ids, and repeats", async () => {
        const [alice, carol] = [await addAccount(s, "Alice"), await addAccount(s, "Carol")];
        const [a1] = await threeFor("alice");
        const [c1] = await threeFor("carol");
        await s.ack(alice.id, [c1!.id, 424242]);
        await s.ack(alice.id, [a1!.id, a1!.id]);
        await s.ack(alice.id, [a1!.id]);
        expect(await s.countPending(alice.id)).toBe(2);
        expect(ids(await s.pending(carol.id, 0, 10))).toContain(c1!.id);
        expect(await s.countPending(carol.id)).toBe(3);
      });
    });

    describe("deleteAccount", () => {
      it("removes the account with its queue and tokens, and nothing of others'", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        await put(s, msg(bob, "alice", "1"));
        const toBob = await put(s, msg(alice, "bob", "2"));
        await s.saveToken({ hash: "ta", accountId: alice.id, expiresAt: T0 + 1000 });
        await s.saveToken({ hash: "tb", accountId: bob.id, expiresAt: T0 + 1000 });
        await s.deleteAccount(alice.id);
        expect([await s.findAccount("alice"), await s.findAccountById(alice.id)]).toEqual([null, null]);
        expect([await s.countPending(alice.id), (await s.pending(alice.id, 0, 10)).length]).toEqual([0, 0]);
        expect(await s.findToken("ta", T0)).toBeNull();
        expect(await s.findToken("tb", T0)).toEqual({ hash: "tb", accountId: bob.id, expiresAt: T0 + 1000 });
        expect(await s.pending(bob.id, 0, 10)).toEqual([toBob]);
        expect(await s.stats()).toEqual({ accounts: 1, queued: 1 });
      });
    });

    describe("session tokens", () => {
      const token = (accountId: number, hash = "h1", expiresAt = T0 + 1000) => ({
        hash,
        accountId,
        expiresAt,
      });

      it("finds a saved token until it expires", async () => {
        const alice = await addAccount(s, "Alice");
        await s.saveToken(token(alice.id));
        expect(await s.findToken("h1", T0)).toEqual(token(alice.id));
        expect(await s.findToken("h1", T0 + 999)).toEqual(token(alice.id));
        expect(await s.findToken("h1", T0 + 1000)).toBeNull();
      });

      it("answers null for an unknown token", async () => {
        expect(await s.findToken("nope", T0)).toBeNull();
      });

      it("forgets a deleted token; deleting an unknown one is harmless", async () => {
        const alice = await addAccount(s, "Alice");
        await s.saveToken(token(alice.id));
        await s.deleteToken("h1");
        await s.deleteToken("never-saved");
        expect(await s.findToken("h1", T0)).toBeNull();
      });

      it("replaces a token saved again under the same hash", async () => {
        const alice = await addAccount(s, "Alice");
        await s.saveToken(token(alice.id));
        await s.saveToken(token(alice.id, "h1", T0 + 5000));
        expect(await s.findToken("h1", T0 + 2000)).toEqual(token(alice.id, "h1", T0 + 5000));
      });
    });

    describe("sweep", () => {
      it("drops expired tokens and keeps live ones", async () => {
        const alice = await addAccount(s, "Alice");
        await s.saveToken({ hash: "old", accountId: alice.id, expiresAt: T0 + 10 });
        await s.saveToken({ hash: "new", accountId: alice.id, expiresAt: T0 + 100 });
        await s.sweep(T0 + 10);
        // Asked with an earlier time, a swept token is still gone.
        expect(await s.findToken("old", T0)).toBeNull();
        expect(await s.findToken("new", T0)).not.toBeNull();
      });

      it("forgets deduplication records older than the window, and only those", async () => {
        const [, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        await put(s, msg(bob, "alice", "a", { clientMsgId: 1 }));
        await put(s, msg(bob, "alice", "b", { clientMsgId: 2, sentAt: T0 + 10 }));
        await s.sweep(T0 + WINDOW + 5);
        // Late resends (sentAt still inside each window): the first was swept, the second kept.
        expect(await s.enqueue(msg(bob, "alice", "a", { clientMsgId: 1, sentAt: T0 + 20 }))).toMatchObject({
          duplicate: false,
        });
        expect(await s.enqueue(msg(bob, "alice", "b", { clientMsgId: 2, sentAt: T0 + 20 }))).toMatchObject({
          duplicate: true,
        });
      });
    });

    describe("stats and flush", () => {
      it("counts accounts and waiting messages", async () => {
        expect(await s.stats()).toEqual({ accounts: 0, queued: 0 });
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const m = await put(s, msg(bob, "alice", "1"));
        await put(s, msg(alice, "bob", "2"));
        expect(await s.stats()).toEqual({ accounts: 2, queued: 2 });
        await s.ack(alice.id, [m.id]);
        expect(await s.stats()).toEqual({ accounts: 2, queued: 1 });
        await s.deleteAccount(bob.id);
        expect(await s.stats()).toEqual({ accounts: 1, queued: 0 });
      });

      it("flush resolves once every earlier call has taken effect", async () => {
        const bob = await addAccount(s, "Bob");
        void s.createAccount({ name: "Ann", key: "ann", passwordHash: "h", createdAt: T0 });
        void s.enqueue(msg(bob, "ann", "hello"));
        await s.flush();
        const ann = await s.findAccount("ann");
        expect(await s.countPending(ann!.id)).toBe(1);
      });
    });

    describe("operations: last login, password reset, bans", () => {
      it("remembers the last login of each account, and forgets it with the account", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        expect(await s.lastLogin(alice.id)).toBeNull();
        await s.recordLogin(alice.id, T0 + 5);
        await s.recordLogin(alice.id, T0 + 9);
        expect([await s.lastLogin(alice.id), await s.lastLogin(bob.id)]).toEqual([T0 + 9, null]);
        await s.deleteAccount(alice.id);
        expect(await s.lastLogin(alice.id)).toBeNull();
      });

      it("resetPassword replaces the hash and revokes only that account's tokens", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        await s.saveToken({ hash: "ta", accountId: alice.id, expiresAt: T0 + 1000 });
        await s.saveToken({ hash: "tb", accountId: bob.id, expiresAt: T0 + 1000 });
        await s.resetPassword(alice.id, "hash:new");
        expect([await s.passwordHash(alice.id), await s.passwordHash(bob.id)]).toEqual([
          "hash:new",
          "hash:Bob",
        ]);
        expect(await s.findToken("ta", T0)).toBeNull();
        expect(await s.findToken("tb", T0)).not.toBeNull();
      });

      it("keeps bans in prefix order, replaces one by prefix, and drops lapsed ones", async () => {
        await s.saveBan({ prefix: "203.0.113.0/24", until: null, createdAt: T0 });
        await s.saveBan({ prefix: "192.0.2.7/32", until: T0 + 100, createdAt: T0 });
        await s.saveBan({ prefix: "2001:db8::/32", until: T0 + 50, createdAt: T0 });
        expect((await s.listBans(T0)).map((b) => b.prefix)).toEqual([
          "192.0.2.7/32",
          "2001:db8::/32",
          "203.0.113.0/24",
        ]);
        await s.saveBan({ prefix: "192.0.2.7/32", until: null, createdAt: T0 + 1 });
        expect(await s.listBans(T0 + 60)).toEqual([
          { prefix: "192.0.2.7/32", until: null, createdAt: T0 + 1 },
          { prefix: "203.0.113.0/24", until: null, createdAt: T0 },
        ]);
        expect(await s.deleteBan("203.0.113.0/24")).toBe(true);
        expect(await s.deleteBan("203.0.113.0/24")).toBe(false);
        expect((await s.listBans(T0 + 60)).map((b) => b.prefix)).toEqual(["192.0.2.7/32"]);
      });
    });
  });
}
