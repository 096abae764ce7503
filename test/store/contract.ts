// The Store contract, run by every implementation's test file (as Hono runs one router
// suite against each router): runStoreContract("MemoryStore", (limits) => new MemoryStore(limits)).

import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { compileGlob, type Glob } from "../../src/rules/glob";
import { compareKeys } from "../../src/store/keys";
import type { Account, NewMessage, Store, StoredMessage, StoreLimits } from "../../src/store/store";

// --- helpers ---

export const LIMITS: StoreLimits = { maxQueuedPerAccount: 3, maxQueuedPerSender: 3, dedupPerSender: 4 };
const RING = LIMITS.dedupPerSender;
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

function glob(pattern: string): Glob {
  const r = compileGlob(pattern);
  if (!r.ok) throw new Error(r.reason);
  return r.glob;
}

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
      /** The keys of one call: everything matching by default, examining up to 1000 keys. */
      const list = async (afterKey: string, limit: number, pattern = "", maxExamined = 1000) =>
        keys((await s.listAccounts({ afterKey, limit, pattern: glob(pattern), maxExamined })).accounts);

      it("lists in key order whatever the creation order", async () => {
        await create("carol", "Alice", "dave", "Bob");
        expect(await list("", 10)).toEqual(["alice", "bob", "carol", "dave"]);
      });

      it("starts after the cursor, which need not be a key", async () => {
        await create("alice", "bob", "carol");
        expect(await list("bob", 10)).toEqual(["carol"]);
        expect(await list("b", 10)).toEqual(["bob", "carol"]);
        expect(await list("carol", 10)).toEqual([]);
      });

      it("pages through everyone with the last key as the cursor", async () => {
        const names = ["g", "b", "e", "a", "f", "c", "d"];
        await create(...names);
        const pages: string[][] = [];
        for (let cursor = ""; ; ) {
          const page = await list(cursor, 3);
          if (page.length === 0) break;
          pages.push(page);
          cursor = page[page.length - 1]!;
        }
        expect(pages).toEqual([["a", "b", "c"], ["d", "e", "f"], ["g"]]);
      });

      it("matches the pattern on keys and counts only matches against the limit", async () => {
        await create("Ann", "Bea", "Bob", "Cat", "Bud", "abba");
        expect(await list("", 2, "B*")).toEqual(["bea", "bob"]);
        expect(await list("bob", 2, "b*")).toEqual(["bud"]);
        expect(await list("", 10, "*b?")).toEqual(["abba"]);
        expect(await list("", 10, "*b*")).toEqual(["abba", "bea", "bob", "bud"]);
        expect(await list("", 10, "?a?")).toEqual(["cat"]);
        expect(await list("", 10, "bob")).toEqual(["bob"]);
      });

      it("takes the pattern's characters literally, `[` included", async () => {
        await create("a[b]", "ab", "a*b", "a]");
        expect(await list("", 10, "a[b]")).toEqual(["a[b]"]);
        expect(await list("", 10, "a[*")).toEqual(["a[b]"]);
        expect(await list("", 10, "a]")).toEqual(["a]"]);
      });

      it("lists nothing for limit 0", async () => {
        await create("alice");
        expect(await s.listAccounts({ afterKey: "", limit: 0, pattern: glob(""), maxExamined: 10 })).toEqual({
          accounts: [],
          examinedTo: null,
        });
      });

      it("sorts by code point, as UTF-8 bytes sort: characters past U+FFFF last", async () => {
        await create("𝐚", "ｚ", "z", "zz"); // U+1D41A, U+FF5A, U+007A
        expect(await list("", 10)).toEqual(["z", "zz", "ｚ", "𝐚"]);
        expect(await list("ｚ", 10)).toEqual(["𝐚"]);
        expect(await list("", 10, "z*")).toEqual(["z", "zz"]);
        // Patterns fold like names (NFKC): "ｚ*" is "z*". These keys exist only in this test.
        expect(await list("", 10, "ｚ*")).toEqual(["z", "zz"]);
      });

      it("leaves out deleted accounts", async () => {
        const [a] = await create("alice", "bob");
        await s.deleteAccount(a!.id);
        expect(await list("", 10)).toEqual(["bob"]);
      });

      it("stops after maxExamined keys and says where, matching or not", async () => {
        await create("a1", "a2", "b1", "b2", "b3", "c1");
        const q = (afterKey: string, pattern: string) =>
          s.listAccounts({ afterKey, limit: 10, pattern: glob(pattern), maxExamined: 2 });
        expect(await q("", "*1")).toEqual({
          accounts: [expect.objectContaining({ key: "a1" })],
          examinedTo: "a2",
        });
        expect(await q("a2", "*1")).toEqual({
          accounts: [expect.objectContaining({ key: "b1" })],
          examinedTo: "b2",
        });
        expect(await q("b2", "*1")).toEqual({
          accounts: [expect.objectContaining({ key: "c1" })],
          examinedTo: "c1",
        });
        expect(await q("c1", "*1")).toEqual({ accounts: [], examinedTo: null });
        // Keys outside the prefix are not examined at all.
        expect(await q("", "c*")).toEqual({
          accounts: [expect.objectContaining({ key: "c1" })],
          examinedTo: null,
        });
        expect(await q("", "b?")).toEqual({
          accounts: [expect.objectContaining({ key: "b1" }), expect.objectContaining({ key: "b2" })],
          examinedTo: "b2",
        });
        expect(await q("", "b*3")).toEqual({ accounts: [], examinedTo: "b2" });
        expect(await q("b2", "b*3")).toEqual({
          accounts: [expect.objectContaining({ key: "b3" })],
          examinedTo: null,
        });
      });

      it("pages through a random directory exactly like the matcher, whatever the budget", async () => {
        let seed = 42;
        const rand = () => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return seed / 0x80000000;
        };
        const alphabet = ["a", "b", "c", "é", "ｚ", "𝐚"];
        const word = (min: number, max: number, extra: string[] = []) => {
          const chars = [...alphabet, ...extra];
          const n = min + Math.floor(rand() * (max - min + 1));
          return Array.from({ length: n }, () => chars[Math.floor(rand() * chars.length)]).join("");
        };
        const made = new Set<string>();
        while (made.size < 120) made.add(word(1, 5));
        await create(...made);
        for (let round = 0; round < 40; round++) {
          const pattern = word(0, 4, ["*", "?", "*"]);
          const g = glob(pattern);
          const expected = [...made].filter((k) => g.matches(k)).sort(compareKeys);
          const maxExamined = 1 + Math.floor(rand() * 30);
          const limit = 1 + Math.floor(rand() * 10);
          const got: string[] = [];
          let cursor = "";
          for (let calls = 0; calls < 500; calls++) {
            const page = await s.listAccounts({ afterKey: cursor, limit, pattern: g, maxExamined });
            got.push(...keys(page.accounts));
            const last = page.accounts[page.accounts.length - 1]?.key;
            if (page.accounts.length === limit) cursor = last!;
            else if (page.examinedTo !== null) cursor = page.examinedTo;
            else break;
          }
          expect({ pattern, got }).toEqual({ pattern, got: expected });
        }
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

    describe("per-sender quota (maxQueuedPerSender)", () => {
      /** A store whose senders may each have 2 messages waiting per recipient, in a mailbox of 3. */
      async function quotaStore(): Promise<Store> {
        await s.close();
        s = await makeStore({ ...LIMITS, maxQueuedPerAccount: 3, maxQueuedPerSender: 2 });
        return s;
      }

      it("answers sender_quota past it, for that sender and that recipient only", async () => {
        const q = await quotaStore();
        const [alice, bob, carol] = [
          await addAccount(q, "Alice"),
          await addAccount(q, "Bob"),
          await addAccount(q, "Carol"),
        ];
        await put(q, msg(bob, "alice", "1"));
        await put(q, msg(bob, "alice", "2"));
        expect(await q.enqueue(msg(bob, "alice", "3"))).toEqual({ ok: false, error: "sender_quota" });
        expect(await q.countPending(alice.id)).toBe(2);
        await put(q, msg(bob, "carol", "to someone else"));
        await put(q, msg(carol, "alice", "another sender"));
        // The mailbox cap still holds over all senders together.
        expect(await q.enqueue(msg(carol, "alice", "4"))).toEqual({ ok: false, error: "mailbox_full" });
      });

      it("gives the quota back as the recipient confirms, and when the recipient is deleted", async () => {
        const q = await quotaStore();
        const [alice, bob] = [await addAccount(q, "Alice"), await addAccount(q, "Bob")];
        const first = await put(q, msg(bob, "alice", "1"));
        await put(q, msg(bob, "alice", "2"));
        await q.ack(alice.id, [first.id, first.id, 999_999]);
        await put(q, msg(bob, "alice", "3"));
        expect(await q.enqueue(msg(bob, "alice", "4"))).toEqual({ ok: false, error: "sender_quota" });
        await q.deleteAccount(alice.id);
        const again = await addAccount(q, "Alice");
        await put(q, msg(bob, "alice", "a"));
        await put(q, msg(bob, "alice", "b"));
        expect(await q.countPending(again.id)).toBe(2);
      });

      it("answers a resend within the dedup window as a duplicate even at the quota", async () => {
        const q = await quotaStore();
        const [, bob] = [await addAccount(q, "Alice"), await addAccount(q, "Bob")];
        const m = await put(q, msg(bob, "alice", "1", { clientMsgId: 7 }));
        await put(q, msg(bob, "alice", "2"));
        const r = await q.enqueue(msg(bob, "alice", "1", { clientMsgId: 7 }));
        expect(r).toMatchObject({ ok: true, duplicate: true, message: { id: m.id } });
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

      it("remembers the sender's last dedupPerSender ids, however old, and no more", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const stored: StoredMessage[] = [];
        for (let id = 1; id <= RING + 2; id++) {
          const m = await put(s, msg(bob, "alice", `m${id}`, { clientMsgId: id }));
          stored.push(m);
          await s.ack(alice.id, [m.id]); // keeps the mailbox (limit 3) from filling
        }
        // The newest RING are recognised, a week later too, and a duplicate takes no slot.
        for (let id = RING + 2; id >= 3; id--) {
          const r = await s.enqueue(msg(bob, "alice", "x", { clientMsgId: id, sentAt: T0 + 7 * 86_400_000 }));
          expect(r).toMatchObject({ duplicate: true, message: { id: stored[id - 1]!.id } });
        }
        // The two oldest were forgotten: id 1 is stored as a new message and takes the
        // slot of the then oldest (id 3).
        const again = await s.enqueue(msg(bob, "alice", "m1 again", { clientMsgId: 1 }));
        expect(again).toMatchObject({ ok: true, duplicate: false });
        expect(again.ok && again.message.id).toBeGreaterThan(stored.at(-1)!.id);
        expect(await s.enqueue(msg(bob, "alice", "x", { clientMsgId: 3 }))).toMatchObject({
          duplicate: false,
        });
        // Now 5, 6, 1, 3 are held: 4 went when 3 came back.
        for (const id of [5, 6, 1, 3])
          expect(await s.enqueue(msg(bob, "alice", "x", { clientMsgId: id }))).toMatchObject({
            duplicate: true,
          });
        expect(await s.enqueue(msg(bob, "alice", "x", { clientMsgId: 4 }))).toMatchObject({
          duplicate: false,
        });
      });

      it("keeps one ring per sender: other senders' messages evict nothing of it", async () => {
        const [alice, bob, carol] = [
          await addAccount(s, "Alice"),
          await addAccount(s, "Bob"),
          await addAccount(s, "Carol"),
        ];
        const first = await put(s, msg(bob, "alice", "from bob", { clientMsgId: 1 }));
        for (let id = 1; id <= RING * 3; id++) {
          const m = await put(s, msg(carol, "alice", `c${id}`, { clientMsgId: 100 + id }));
          await s.ack(alice.id, [m.id]);
        }
        expect(await s.enqueue(msg(bob, "alice", "from bob", { clientMsgId: 1 }))).toMatchObject({
          duplicate: true,
          message: { id: first.id },
        });
      });

      it("messages without an id take no slot", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        const first = await put(s, msg(bob, "alice", "with id", { clientMsgId: 9 }));
        for (let i = 0; i < RING * 2; i++)
          await s.ack(alice.id, [(await put(s, msg(bob, "alice", "plain"))).id]);
        expect(await s.enqueue(msg(bob, "alice", "with id", { clientMsgId: 9 }))).toMatchObject({
          duplicate: true,
          message: { id: first.id },
        });
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

    describe("confirming runs of consecutive ids", () => {
      /** A store whose mailboxes hold 20, so that runs of consecutive ids can be confirmed. */
      async function roomy(): Promise<Store> {
        await s.close();
        s = await makeStore({ ...LIMITS, maxQueuedPerAccount: 20, maxQueuedPerSender: 20 });
        return s;
      }
      const asAlice = { recipientName: "Alice", confirmedAt: T0 + 9, maxPerAccount: 100 };

      it("removes exactly a run, in any order, and leaves its neighbours and other recipients' messages", async () => {
        const q = await roomy();
        const [alice, bob, carol] = [
          await addAccount(q, "Alice"),
          await addAccount(q, "Bob"),
          await addAccount(q, "Carol"),
        ];
        const ms: StoredMessage[] = [];
        for (let i = 0; i < 10; i++)
          ms.push(await put(q, msg(bob, "alice", `a${i}`, { clientMsgId: 100 + i })));
        const forCarol = await put(q, msg(bob, "carol", "c"));
        const after = await put(q, msg(bob, "alice", "after"));
        // 1..8 of 0..9, given backwards: 0 and 9 stay, as does Carol's message.
        const run = ids(ms.slice(1, 9)).reverse();
        const r = await q.ackWithReceipts(alice.id, run, asAlice);
        expect(r.receipts.map((x) => x.messageId).sort((a, b) => a - b)).toEqual(ids(ms.slice(1, 9)));
        expect(r.receipts.map((x) => x.clientMsgId).sort((a, b) => a - b)).toEqual([
          101, 102, 103, 104, 105, 106, 107, 108,
        ]);
        expect(ids(await q.pending(alice.id, 0, 20))).toEqual([ms[0]!.id, ms[9]!.id, after.id]);
        expect(await q.countPending(alice.id)).toBe(3);
        expect(ids(await q.pending(carol.id, 0, 20))).toEqual([forCarol.id]);
        // A run spanning Carol's message confirms Alice's around it, never Carol's.
        const after2 = await put(q, msg(bob, "alice", "after2"));
        const around = await q.ackWithReceipts(
          alice.id,
          [ms[9]!.id, forCarol.id, after.id, after2.id],
          asAlice,
        );
        expect(around.receipts.map((x) => x.messageId).sort((a, b) => a - b)).toEqual(
          ids([ms[9]!, after, after2]),
        );
        expect(ids(await q.pending(alice.id, 0, 20))).toEqual([ms[0]!.id]);
        expect(ids(await q.pending(carol.id, 0, 20))).toEqual([forCarol.id]);
        expect((await q.stats()).queued).toBe(2);
      });

      it("confirms a run with other recipients' messages between, and keeps one of its own left out", async () => {
        const q = await roomy();
        const [alice, bob, carol] = [
          await addAccount(q, "Alice"),
          await addAccount(q, "Bob"),
          await addAccount(q, "Carol"),
        ];
        const forAlice: StoredMessage[] = [];
        const forCarol: StoredMessage[] = [];
        for (let i = 0; i < 8; i++) {
          forAlice.push(await put(q, msg(bob, "alice", `a${i}`, { clientMsgId: 300 + i })));
          forCarol.push(await put(q, msg(bob, "carol", `c${i}`)));
        }
        // A write of another kind: what was stored is in the file, as before a drain.
        await q.saveToken({ hash: "t", accountId: alice.id, expiresAt: T0 + 1000 });
        const first = await q.ackWithReceipts(alice.id, ids(forAlice.slice(0, 5)), asAlice);
        expect(first.receipts.map((x) => x.clientMsgId)).toEqual([300, 301, 302, 303, 304]);
        expect(ids(await q.pending(alice.id, 0, 20))).toEqual(ids(forAlice.slice(5)));
        expect(ids(await q.pending(carol.id, 0, 20))).toEqual(ids(forCarol));
        // a5 left out of a confirmation that spans it (from a4, confirmed before): it stays.
        await q.saveToken({ hash: "u", accountId: alice.id, expiresAt: T0 + 1000 });
        const more = await put(q, msg(bob, "alice", "a8"));
        const more2 = await put(q, msg(bob, "alice", "a9"));
        await q.saveToken({ hash: "v", accountId: alice.id, expiresAt: T0 + 1000 });
        const second = await q.ackWithReceipts(
          alice.id,
          [forAlice[4]!.id, forAlice[6]!.id, forAlice[7]!.id, more.id, more2.id],
          asAlice,
        );
        expect(second.receipts.map((x) => x.messageId)).toEqual([
          forAlice[6]!.id,
          forAlice[7]!.id,
          more.id,
          more2.id,
        ]);
        expect(ids(await q.pending(alice.id, 0, 20))).toEqual([forAlice[5]!.id]);
        expect(ids(await q.pending(carol.id, 0, 20))).toEqual(ids(forCarol));
        expect(await q.countPending(alice.id)).toBe(1);
        expect(await q.countPending(carol.id)).toBe(8);
        // Carol's, with Alice's left one between: only Carol's go.
        await q.ack(carol.id, ids(forCarol));
        expect(await q.countPending(carol.id)).toBe(0);
        expect(ids(await q.pending(alice.id, 0, 20))).toEqual([forAlice[5]!.id]);
      });

      it("a run with ids already confirmed, repeated or unknown makes receipts only for what it removed", async () => {
        const q = await roomy();
        const [alice, bob] = [await addAccount(q, "Alice"), await addAccount(q, "Bob")];
        const ms: StoredMessage[] = [];
        for (let i = 0; i < 12; i++) ms.push(await put(q, msg(bob, "alice", `a${i}`)));
        await q.ack(alice.id, ids(ms.slice(2, 6)));
        const last = ms[11]!.id;
        const r = await q.ackWithReceipts(
          alice.id,
          [...ids(ms.slice(0, 10)), ms[7]!.id, ms[8]!.id, last + 1, last + 2, last + 3, last + 4],
          asAlice,
        );
        const want = ids([...ms.slice(0, 2), ...ms.slice(6, 10)]);
        expect(r.receipts.map((x) => x.messageId).sort((a, b) => a - b)).toEqual(want);
        expect((await q.receipts(bob.id, 20)).map((x) => x.messageId)).toEqual(want);
        expect(ids(await q.pending(alice.id, 0, 20))).toEqual(ids(ms.slice(10)));
        expect(await q.countPending(alice.id)).toBe(2);
        // The per-sender quota followed: Bob may queue 18 more for Alice.
        for (let i = 0; i < 18; i++) await put(q, msg(bob, "alice", `b${i}`));
        expect(await q.enqueue(msg(bob, "alice", "one too many"))).toMatchObject({ ok: false });
      });

      it("a run confirmed in the call that follows its storing removes it before it is read", async () => {
        const q = await roomy();
        const [alice, bob] = [await addAccount(q, "Alice"), await addAccount(q, "Bob")];
        const older = [];
        for (let i = 0; i < 3; i++) older.push(await put(q, msg(bob, "alice", `o${i}`)));
        // Stored and confirmed in one go: the store sees the enqueues, then the confirmation.
        const calls = [];
        for (let i = 0; i < 6; i++) calls.push(q.enqueue(msg(bob, "alice", `n${i}`, { clientMsgId: 7 + i })));
        const newer = (await Promise.all(calls)).map((x) => (x.ok ? x.message : null)!);
        const r = await q.ackWithReceipts(alice.id, [...ids(older), ...ids(newer)], asAlice);
        expect(r.receipts.map((x) => x.messageId).sort((a, b) => a - b)).toEqual([
          ...ids(older),
          ...ids(newer),
        ]);
        expect(await q.pending(alice.id, 0, 20)).toEqual([]);
        expect(await q.countPending(alice.id)).toBe(0);
        expect((await q.receipts(bob.id, 20)).map((x) => x.clientMsgId)).toEqual([
          0, 0, 0, 7, 8, 9, 10, 11, 12,
        ]);
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

      it("keeps deduplication records: they are bounded by count, not by age", async () => {
        const [, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        await put(s, msg(bob, "alice", "a", { clientMsgId: 1 }));
        await s.sweep(T0 + 30 * 86_400_000);
        expect(await s.enqueue(msg(bob, "alice", "a", { clientMsgId: 1 }))).toMatchObject({
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

    describe("identity: skeletons, reserved names, token revocation, rehashing", () => {
      const DAY = 86_400_000;
      const make = (name: string, key: string, skeleton: string, createdAt = T0) =>
        s.createAccount({ name, key, skeleton, passwordHash: `hash:${name}`, createdAt });

      it("refuses a name whose skeleton an account has, and finds that account by skeleton", async () => {
        const alice = await make("alice", "alice", "alice");
        expect(await make("\u0430lice", "\u0430lice", "alice")).toBeNull();
        expect(await s.findAccountBySkeleton("alice")).toEqual(alice!);
        expect(await s.findAccountBySkeleton("bob")).toBeNull();
        expect(await make("bob", "bob", "bob")).not.toBeNull();
      });

      it("without a skeleton the key stands for it", async () => {
        await addAccount(s, "Carol");
        expect(await make("Carol2", "carol2", "carol")).toBeNull();
      });

      it("a deleted account's key and skeleton stay reserved until the given time", async () => {
        const bob = await make("bob", "bob", "bob");
        await s.deleteAccount(bob!.id, T0 + 30 * DAY);
        expect(await s.nameReservation("bob", "x", T0)).toEqual({ name: "bob", until: T0 + 30 * DAY });
        expect(await s.nameReservation("b\u043eb", "bob", T0)).toEqual({ name: "bob", until: T0 + 30 * DAY });
        expect(await s.nameReservation("bob", "bob", T0 + 30 * DAY)).toBeNull();
        expect(await make("bob", "bob", "bob", T0 + DAY)).toBeNull();
        expect(await make("B\u043eb", "b\u043eb", "bob", T0 + DAY)).toBeNull();
        expect(await s.findAccount("bob")).toBeNull();
        expect(await make("bob", "bob", "bob", T0 + 30 * DAY)).not.toBeNull();
      });

      it("several deleted names with one skeleton are all reserved; the longest reservation answers", async () => {
        const a = await make("ilya", "ilya", "llya");
        await s.deleteAccount(a!.id, T0 + DAY);
        const b = await make("llya", "llya", "llya", T0 + 2 * DAY);
        await s.deleteAccount(b!.id, T0 + 5 * DAY);
        expect(await s.nameReservation("x", "llya", T0)).toEqual({ name: "llya", until: T0 + 5 * DAY });
        expect(await s.nameReservation("ilya", "x", T0)).toEqual({ name: "ilya", until: T0 + DAY });
        expect(await s.nameReservation("ilya", "x", T0 + DAY)).toBeNull();
        expect(await s.nameReservation("x", "llya", T0 + 4 * DAY)).toEqual({
          name: "llya",
          until: T0 + 5 * DAY,
        });
      });

      it("deleting without a time reserves nothing; sweep drops reservations that ended", async () => {
        const a = await make("ann", "ann", "ann");
        await s.deleteAccount(a!.id);
        expect(await s.nameReservation("ann", "ann", T0)).toBeNull();
        const b = await make("ben", "ben", "ben");
        await s.deleteAccount(b!.id, T0 + DAY);
        await s.sweep(T0 + DAY);
        expect(await s.nameReservation("ben", "ben", T0)).toBeNull();
      });

      it("revokeTokens drops every token of the account but the one kept, and no other account's", async () => {
        const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
        for (const hash of ["a1", "a2", "a3"])
          await s.saveToken({ hash, accountId: alice.id, expiresAt: T0 + DAY });
        await s.saveToken({ hash: "b1", accountId: bob.id, expiresAt: T0 + DAY });
        await s.revokeTokens(alice.id, "a3");
        expect(await s.findToken("a1", T0)).toBeNull();
        expect(await s.findToken("a2", T0)).toBeNull();
        expect(await s.findToken("a3", T0)).toMatchObject({ accountId: alice.id });
        expect(await s.findToken("b1", T0)).toMatchObject({ accountId: bob.id });
        await s.revokeTokens(alice.id);
        expect(await s.findToken("a3", T0)).toBeNull();
        await s.saveToken({ hash: "a4", accountId: alice.id, expiresAt: T0 + DAY });
        expect(await s.findToken("a4", T0)).toMatchObject({ accountId: alice.id });
      });

      it("a token belongs to its account id: a new account with the old name does not inherit it", async () => {
        const old = await addAccount(s, "Dan");
        await s.saveToken({ hash: "d1", accountId: old.id, expiresAt: T0 + DAY });
        await s.deleteAccount(old.id);
        const reborn = await addAccount(s, "Dan");
        expect(reborn.id).not.toBe(old.id);
        expect(await s.findToken("d1", T0)).toBeNull();
      });

      it("setPasswordHash replaces the hash; samplePasswordHashes returns stored hashes", async () => {
        expect(await s.samplePasswordHashes(8)).toEqual([]);
        const alice = await addAccount(s, "Alice");
        await addAccount(s, "Bob");
        await s.setPasswordHash(alice.id, "new-hash");
        expect(await s.passwordHash(alice.id)).toBe("new-hash");
        const sample = await s.samplePasswordHashes(16);
        expect(sample.length).toBeGreaterThan(0);
        for (const h of sample) expect(["new-hash", "hash:Bob"]).toContain(h);
      });

      it("backfillIdentity leaves accounts made with a skeleton alone", async () => {
        await make("eve", "eve", "eve");
        expect(await s.backfillIdentity(() => ({ key: "x", skeleton: "x" }))).toBe(0);
        expect(await s.findAccount("eve")).not.toBeNull();
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

    describe("delivery receipts (ackWithReceipts, receipts, deleteReceipts)", () => {
      const asBob = { recipientName: "Bob", confirmedAt: T0 + 5, maxPerAccount: 10 };

      it("stores one receipt per confirmed message for its sender, with its client_msg_id", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        // The largest client_msg_id allowed is kept exactly.
        const m1 = await put(s, msg(alice, "bob", "one", { clientMsgId: 2 ** 53 - 1 }));
        const m2 = await put(s, msg(alice, "bob", "two"));
        const r = await s.ackWithReceipts(bob.id, [m2.id, m1.id, 999_999], asBob);
        expect(r.dropped).toBe(0);
        const want = [
          {
            messageId: m1.id,
            senderId: alice.id,
            recipientName: "Bob",
            confirmedAt: T0 + 5,
            clientMsgId: 2 ** 53 - 1,
          },
          { messageId: m2.id, senderId: alice.id, recipientName: "Bob", confirmedAt: T0 + 5, clientMsgId: 0 },
        ];
        expect([...r.receipts].sort((a, b) => a.messageId - b.messageId)).toEqual(want);
        expect(await s.countPending(bob.id)).toBe(0);
        expect(await s.receipts(alice.id, 10)).toEqual(want);
        expect(await s.receipts(alice.id, 1)).toEqual([want[0]!]);
        expect(await s.receipts(bob.id, 10)).toEqual([]);
      });

      it("applies in call order: a read made after the call does not see the confirmed messages", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        const m = await put(s, msg(alice, "bob", "gone", { clientMsgId: 3 }));
        const acked = s.ackWithReceipts(bob.id, [m.id], asBob);
        const [left, count] = await Promise.all([s.pending(bob.id, 0, 10), s.countPending(bob.id)]);
        expect([left, count]).toEqual([[], 0]);
        expect((await acked).receipts.map((x) => x.messageId)).toEqual([m.id]);
      });

      it("stores nothing for ids not waiting, and nothing twice for a repeated confirmation", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        const m = await put(s, msg(alice, "bob", "hi"));
        expect((await s.ackWithReceipts(bob.id, [m.id], asBob)).receipts).toHaveLength(1);
        expect(await s.ackWithReceipts(bob.id, [m.id, m.id + 1], asBob)).toEqual({
          receipts: [],
          dropped: 0,
        });
        // Alice cannot confirm Bob's message: the id is not in her queue.
        const m2 = await put(s, msg(alice, "bob", "again"));
        expect((await s.ackWithReceipts(alice.id, [m2.id], asBob)).receipts).toEqual([]);
        expect(await s.countPending(bob.id)).toBe(1);
        expect((await s.receipts(alice.id, 10)).map((x) => x.messageId)).toEqual([m.id]);
      });

      it("removes exactly the confirmed receipts, only the account's own", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        const ms = [await put(s, msg(alice, "bob", "a")), await put(s, msg(alice, "bob", "b"))];
        await s.ackWithReceipts(bob.id, ids(ms), asBob);
        await s.deleteReceipts(bob.id, [ms[0]!.id]);
        expect((await s.receipts(alice.id, 10)).map((x) => x.messageId)).toEqual(ids(ms));
        await s.deleteReceipts(alice.id, [ms[0]!.id, 424_242]);
        expect((await s.receipts(alice.id, 10)).map((x) => x.messageId)).toEqual([ms[1]!.id]);
        await s.deleteReceipts(alice.id, [ms[1]!.id]);
        expect(await s.receipts(alice.id, 10)).toEqual([]);
      });

      it("removes many confirmed receipts at once, leaving the unconfirmed ones among them", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        const ms: StoredMessage[] = [];
        // Two at a time: the queue holds three at most (LIMITS).
        for (let i = 0; i < 8; i += 2) {
          const two = [
            await put(s, msg(alice, "bob", `m${i}`)),
            await put(s, msg(alice, "bob", `m${i + 1}`)),
          ];
          await s.ackWithReceipts(bob.id, ids(two), asBob);
          ms.push(...two);
        }
        // Four of the first six: the two between them stay.
        await s.deleteReceipts(alice.id, [ms[4]!.id, ms[0]!.id, ms[1]!.id, ms[5]!.id]);
        expect((await s.receipts(alice.id, 10)).map((x) => x.messageId)).toEqual(
          ids([ms[2]!, ms[3]!, ms[6]!, ms[7]!]),
        );
        // Ids that are not (or no longer) there change nothing.
        await s.deleteReceipts(alice.id, [ms[0]!.id, ms[1]!.id, ms[4]!.id, 424_242]);
        expect(await s.receipts(alice.id, 10)).toHaveLength(4);
        // All that are left: every receipt between the lowest and the highest.
        await s.deleteReceipts(alice.id, [...ids(ms.slice(6)), ...ids(ms.slice(2, 4))]);
        expect(await s.receipts(alice.id, 10)).toEqual([]);
        // The sender's count followed: its next receipts are kept up to the cap again.
        const more: StoredMessage[] = [];
        for (let i = 0; i < 3; i++) more.push(await put(s, msg(alice, "bob", `n${i}`)));

        const r = await s.ackWithReceipts(bob.id, ids(more), { ...asBob, maxPerAccount: 3 });
        expect(r.dropped).toBe(0);
        expect((await s.receipts(alice.id, 10)).map((x) => x.messageId)).toEqual(ids(more));
      });

      it("keeps a sender's newest maxPerAccount receipts and counts those dropped", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        const cap = { ...asBob, maxPerAccount: 2 };
        const first = [await put(s, msg(alice, "bob", "1")), await put(s, msg(alice, "bob", "2"))];
        expect(await s.ackWithReceipts(bob.id, ids(first), cap)).toMatchObject({ dropped: 0 });
        const more = [
          await put(s, msg(alice, "bob", "3")),
          await put(s, msg(alice, "bob", "4")),
          await put(s, msg(alice, "bob", "5")),
        ];
        const r = await s.ackWithReceipts(bob.id, ids(more), cap);
        expect(r.dropped).toBe(3);
        // Only what is still kept is reported as stored.
        expect(r.receipts.map((x) => x.messageId).sort((a, b) => a - b)).toEqual(ids(more).slice(1));
        expect((await s.receipts(alice.id, 10)).map((x) => x.messageId)).toEqual(ids(more).slice(1));
      });

      it("stores no receipt for a message whose sender's account is gone", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        const m = await put(s, msg(alice, "bob", "bye"));
        await s.deleteAccount(alice.id);
        const again = await addAccount(s, "Alice");
        expect(await s.ackWithReceipts(bob.id, [m.id], asBob)).toEqual({ receipts: [], dropped: 0 });
        expect(await s.countPending(bob.id)).toBe(0);
        expect(await s.receipts(again.id, 10)).toEqual([]);
        expect(await s.receipts(alice.id, 10)).toEqual([]);
      });

      it("stores none for a sender deleted after its earlier receipts were stored", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        const m1 = await put(s, msg(alice, "bob", "first"));
        const m2 = await put(s, msg(alice, "bob", "second"));
        expect((await s.ackWithReceipts(bob.id, [m1.id], asBob)).receipts).toHaveLength(1);
        await s.deleteAccount(alice.id);
        expect(await s.ackWithReceipts(bob.id, [m2.id], asBob)).toEqual({ receipts: [], dropped: 0 });
        expect(await s.countPending(bob.id)).toBe(0);
        expect(await s.receipts(alice.id, 10)).toEqual([]);
      });

      it("drops an account's receipts with the account", async () => {
        const alice = await addAccount(s, "Alice");
        const bob = await addAccount(s, "Bob");
        const m = await put(s, msg(alice, "bob", "x"));
        await s.ackWithReceipts(bob.id, [m.id], asBob);
        await s.deleteAccount(alice.id);
        expect(await s.receipts(alice.id, 10)).toEqual([]);
        const again = await addAccount(s, "Alice");
        expect(await s.receipts(again.id, 10)).toEqual([]);
      });
    });
  });
}
