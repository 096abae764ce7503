// The Redis store on a real, sharded Redis Cluster (three masters started here): the whole
// store contract, keys spread over the shards, and the redirections a resharding causes.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { RedisStore } from "../../src/store/redis";
import { keySlot } from "../../src/store/redis-cluster-slot";
import { RedisOpenError } from "../../src/store/redis-conn";
import { dir, receiptOutbox, token, user } from "../../src/store/redis-keys";
import { LEFTOVER_MS } from "../../src/store/redis-scripts";
import { parseRedisTarget } from "../../src/store/redis-url";
import { type Account, StorageError, type Store, type StoreLimits } from "../../src/store/store";
import { addAccount, LIMITS, msg, put, runStoreContract } from "./contract";
import { HAVE_REDIS_CLUSTER, type RedisCluster, startRedisCluster } from "./redis-cluster-server";

let cluster: RedisCluster;
const opened: Store[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);

afterAll(async () => {
  for (const s of opened) await s.close().catch(() => {});
});

function target(url = cluster.url) {
  const r = parseRedisTarget(url);
  if (!r.ok) throw new Error(r.reason);
  return r.target;
}

async function open(limits: StoreLimits = LIMITS): Promise<RedisStore> {
  const s = await RedisStore.open(target(), limits);
  opened.push(s);
  return s;
}

async function fresh(limits: StoreLimits): Promise<Store> {
  await cluster.flush();
  return open(limits);
}

/** redis-cli against one node (no redirections followed). */
async function at(port: number, ...args: string[]): Promise<string> {
  const p = Bun.spawn(["redis-cli", "-p", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out.trim();
}

if (!HAVE_REDIS_CLUSTER) throw new Error("the Redis Cluster tests need redis-server and redis-cli on PATH");

runStoreContract("RedisStore on a Redis Cluster", fresh);

describe("RedisStore on a Redis Cluster of three masters", () => {
  it("finds out by itself that redis:// is a cluster, and spreads the accounts over the masters", async () => {
    const s = await fresh(LIMITS);
    expect(s.description).toBe(`redis cluster redis://127.0.0.1:${cluster.nodes[0]!.port}/0`);
    const people = [];
    for (let i = 0; i < 12; i++) people.push(await addAccount(s, `user${i}`));
    for (let i = 0; i < 12; i++) await put(s, msg(people[i]!, `user${(i + 1) % 12}`, `hello ${i}`));
    for (let i = 0; i < 12; i++)
      expect((await s.pending(people[(i + 1) % 12]!.id, 0, 10)).map((m) => m.text)).toEqual([`hello ${i}`]);
    // Every master holds some of the keys.
    const sizes = await Promise.all(cluster.nodes.map((n) => at(n.port, "DBSIZE")));
    for (const size of sizes) expect(Number(size)).toBeGreaterThan(0);
    // The router's slots are Redis's own.
    for (const k of [dir.byKey, user(people[3]!.id).queue, token("abc")])
      expect(Number(await at(cluster.nodes[0]!.port, "CLUSTER", "KEYSLOT", k))).toBe(keySlot(k));
  });

  it("refuses a database number other than 0, which a cluster does not have", async () => {
    const error = await RedisStore.open(target(`${cluster.url}/2`), LIMITS).catch((e) => e);
    expect(error).toBeInstanceOf(RedisOpenError);
    expect(error.message).toContain(
      "it is a Redis Cluster, which has database 0 only: leave the database out of the URL",
    );
  });

  it("follows ASK while a slot migrates and MOVED once it has moved, losing nothing", async () => {
    const s = await fresh(LIMITS);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await put(s, msg(bob, "alice", "before the move"));
    const hash = "tok-moving";
    const slot = keySlot(token(hash));
    const ports = cluster.nodes.map((n) => n.port);
    const owner = await ownerPort(slot, ports);
    const to = ports.find((p) => p !== owner)!;
    const [fromId, toId] = [await at(owner, "CLUSTER", "MYID"), await at(to, "CLUSTER", "MYID")];
    expect(await at(to, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromId)).toBe("OK");
    expect(await at(owner, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", toId)).toBe("OK");
    // The token's key is new: its old master answers ASK, and it is made on the new one.
    await s.saveToken({ hash, accountId: alice.id, expiresAt: Date.now() + 60_000 });
    expect(await at(to, "CLUSTER", "COUNTKEYSINSLOT", String(slot))).toBe("1");
    expect(await s.findToken(hash, Date.now())).toMatchObject({ accountId: alice.id });
    // The slot now belongs to the new master: the router's map is stale and MOVED corrects it.
    for (const p of ports) expect(await at(p, "CLUSTER", "SETSLOT", String(slot), "NODE", toId)).toBe("OK");
    expect(await s.findToken(hash, Date.now())).toMatchObject({ accountId: alice.id });
    await s.deleteToken(hash);
    expect(await s.findToken(hash, Date.now())).toBeNull();
    expect((await s.pending(alice.id, 0, 10)).map((m) => m.text)).toEqual(["before the move"]);
  });

  it("keeps working through a resharding that moves the directory's slot to another master", async () => {
    const s = await fresh({ ...LIMITS, maxQueuedPerAccount: 100, maxQueuedPerSender: 100 });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const before = [];
    for (let i = 0; i < 5; i++) before.push(await put(s, msg(bob, "alice", `m${i}`)));
    const slot = keySlot(dir.byKey);
    const ports = cluster.nodes.map((n) => n.port);
    const owner = await ownerPort(slot, ports);
    const to = ports.find((p) => p !== owner)!;
    const [fromId, toId] = [await at(owner, "CLUSTER", "MYID"), await at(to, "CLUSTER", "MYID")];
    // Move the slot with its keys, as `redis-cli --cluster reshard` does.
    await at(to, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromId);
    await at(owner, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", toId);
    const keys = (await at(owner, "CLUSTER", "GETKEYSINSLOT", String(slot), "100"))
      .split("\n")
      .filter(Boolean);
    expect(keys.length).toBeGreaterThan(3);
    expect(await at(owner, "MIGRATE", "127.0.0.1", String(to), "", "0", "5000", "KEYS", ...keys)).toBe("OK");
    for (const p of ports) await at(p, "CLUSTER", "SETSLOT", String(slot), "NODE", toId);
    expect(await s.findAccount("bob")).toEqual(bob);
    const carol = await addAccount(s, "Carol");
    await put(s, msg(carol, "alice", "after the move"));
    expect((await s.pending(alice.id, 0, 10)).map((m) => m.text)).toEqual([
      ...before.map((m) => m.text),
      "after the move",
    ]);
    expect(Number(await at(to, "CLUSTER", "COUNTKEYSINSLOT", String(slot)))).toBeGreaterThan(3);
  });
});

describe("RedisStore on a Redis Cluster: the appends of one turn", () => {
  it("go as one script call per slot, recipients of one slot together, each answered in its place", async () => {
    const s = (await fresh(LIMITS)) as RedisStore;
    const alice = await addAccount(s, "Alice");
    // Account ids 129 and 2104 share a slot; the directory's counter gives them out next.
    await s.connection.send("SET", [dir.nextId, 128]);
    const bob = await addAccount(s, "Bob");
    await s.connection.send("SET", [dir.nextId, 2103]);
    const carol = await addAccount(s, "Carol");
    const dave = await addAccount(s, "Dave");
    const slot = (a: Account) => keySlot(user(a.id).queue);
    expect([bob.id, carol.id]).toEqual([129, 2104]);
    expect(slot(bob)).toBe(slot(carol));
    expect(slot(dave)).not.toBe(slot(bob));
    // Every recipient known and the id block taken, then emptied: the turn below is one batch per slot.
    for (const to of [bob, carol, dave]) await s.ack(to.id, [(await put(s, msg(alice, to.key, "x"))).id]);
    const evalsha = async () => {
      let n = 0;
      for (const node of cluster.nodes)
        n += Number(
          /cmdstat_evalsha:calls=(\d+)/.exec(await at(node.port, "INFO", "commandstats"))?.[1] ?? 0,
        );
      return n;
    };
    const before = await evalsha();
    const turn = [
      s.enqueue(msg(alice, "bob", "b1", { clientMsgId: 1 })),
      s.enqueue(msg(alice, "carol", "c1", { clientMsgId: 1 })),
      s.enqueue(msg(alice, "dave", "d1", { clientMsgId: 1 })),
      s.enqueue(msg(alice, "bob", "b1 again", { clientMsgId: 1 })),
      s.enqueue(msg(alice, "carol", "c2", { clientMsgId: 2 })),
    ];
    const r = await Promise.all(turn);
    expect(await evalsha()).toBe(before + 2);
    const stored = r.map((x) =>
      x.ok ? `${x.recipient.key} ${x.duplicate ? "dup " : ""}${x.message.id}` : x.error,
    );
    const ids = r.map((x) => (x.ok ? x.message.id : 0));
    expect(stored).toEqual([
      `bob ${ids[0]}`,
      `carol ${ids[1]}`,
      `dave ${ids[2]}`,
      `bob dup ${ids[0]}`,
      `carol ${ids[4]}`,
    ]);
    expect((await s.pending(bob.id, 0, 10)).map((m) => m.text)).toEqual(["b1"]);
    expect((await s.pending(carol.id, 0, 10)).map((m) => m.text)).toEqual(["c1", "c2"]);
    expect((await s.pending(dave.id, 0, 10)).map((m) => m.text)).toEqual(["d1"]);
  });
});

describe("RedisStore when one master of the cluster crashes", () => {
  it("fails the calls for that master's slots clearly, serves the others, and has everything back after its restart (AOF)", async () => {
    const s = await fresh({ ...LIMITS, maxQueuedPerAccount: 100, maxQueuedPerSender: 100 });
    const people: Account[] = [];
    for (let i = 0; i < 9; i++) people.push(await addAccount(s, `p${i}`));
    const sender = people[0]!;
    for (const p of people) await put(s, msg(sender, p.key, `to ${p.key}`));
    // The master of someone's queue that is not the directory's master.
    const ports = cluster.nodes.map((n) => n.port);
    const dirPort = await ownerPort(keySlot(dir.byKey), ports);
    let victim: Account | undefined;
    let port = 0;
    for (const p of people) {
      port = await ownerPort(keySlot(user(p.id).queue), ports);
      if (port !== dirPort) {
        victim = p;
        break;
      }
    }
    expect(victim).toBeDefined();
    const node = cluster.nodes.find((n) => n.port === port)!;
    await node.kill();
    try {
      const failed = await s.pending(victim!.id, 0, 10).catch((e) => e);
      expect(failed).toBeInstanceOf(StorageError);
      expect(failed.message).toMatch(/^the message store \(Redis\) is unavailable/);
      // The directory's master still answers.
      expect(await s.findAccount(victim!.key)).toEqual(victim!);
    } finally {
      await node.start();
    }
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await s.pending(victim!.id, 0, 10).catch((e) => e);
      if (Array.isArray(r)) {
        expect(r.map((m) => m.text)).toEqual([`to ${victim!.key}`]);
        break;
      }
      if (Date.now() > deadline) throw r;
      await Bun.sleep(100);
    }
    expect((await put(s, msg(sender, victim!.key, "after the restart"))).id).toBeGreaterThan(0);
  });
});

describe("RedisStore on a Redis Cluster with a password", () => {
  it("logs in to every master with the URL's password, and says so when it is missing", async () => {
    const locked = await startRedisCluster(3, { password: "clu ster" });
    const s = await RedisStore.open(target(locked.url), LIMITS);
    opened.push(s);
    const people: Account[] = [];
    for (let i = 0; i < 9; i++) people.push(await addAccount(s, `q${i}`));
    for (const p of people) await put(s, msg(people[0]!, p.key, `to ${p.key}`));
    for (const p of people) expect(await s.countPending(p.id)).toBe(1);
    const bare = `redis://127.0.0.1:${locked.nodes[0]!.port}`;
    const error = await RedisStore.open(target(bare), LIMITS).catch((e) => e);
    expect(error).toBeInstanceOf(RedisOpenError);
    expect(error.message).toContain("check the password");
  }, 60_000);
});

/** The port of the master that owns slot (CLUSTER SLOTS of the first node). */
async function ownerPort(slot: number, ports: readonly number[]): Promise<number> {
  const nodes = await at(ports[0]!, "CLUSTER", "NODES");
  for (const line of nodes.split("\n")) {
    const [, addr, flags, , , , , , ...ranges] = line.split(" ");
    if (!flags?.includes("master")) continue;
    for (const r of ranges) {
      const [a, b] = r.split("-").map(Number);
      if (slot >= a! && slot <= (b ?? a)!) return Number(addr!.split(":")[1]!.split("@")[0]);
    }
  }
  throw new Error(`no master owns slot ${slot}`);
}

describe("WAIT on a Redis Cluster", () => {
  it("waits on the master of the recipient's slot, and says so when no replica confirms", async () => {
    await cluster.flush();
    const s = await RedisStore.open(target(), LIMITS, { waitReplicas: 1, waitTimeoutMs: 100 });
    opened.push(s);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    for (const n of cluster.nodes) await at(n.port, "CONFIG", "RESETSTAT");
    const failed = await s.enqueue(msg(bob, "alice", "no replica here")).catch((e) => e);
    expect(failed).toBeInstanceOf(StorageError);
    expect(failed.message).toBe(
      "the message was stored but not confirmed by 1 Redis replica within 100 ms (0 confirmed)",
    );
    // Stored on the master of alice's slot, and the WAIT went there and nowhere else.
    const waits: Record<string, number> = {};
    for (const n of cluster.nodes) {
      const holds = (await at(n.port, "EXISTS", user(alice.id).queue)) === "1";
      const m = /cmdstat_wait:calls=(\d+)/.exec(await at(n.port, "INFO", "commandstats"));
      waits[holds ? "owner" : `other${n.port}`] = m ? Number(m[1]) : 0;
    }
    expect(Object.entries(waits).filter(([, calls]) => calls > 0)).toEqual([["owner", 1]]);
    expect(await s.countPending(alice.id)).toBe(1);
  });
});

describe("Receipts on a Redis Cluster (through the recipient's outbox)", () => {
  it("moves a receipt left in the outbox by a node that died with the recipient's next confirmation", async () => {
    const s = (await fresh(LIMITS)) as RedisStore;
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const m1 = await put(s, msg(alice, "bob", "one", { clientMsgId: 2 ** 40 + 3 }));
    const m2 = await put(s, msg(alice, "bob", "two", { clientMsgId: 9 }));
    // What the removal script leaves when the node dies before moving the receipt on.
    const c = s.connection;
    await c.send("ZREM", [user(bob.id).queue, m1.id]);
    await c.send("HDEL", [user(bob.id).bodies, m1.id]);
    await c.send("HSET", [receiptOutbox(bob.id), m1.id, `${alice.id}|${2 ** 40 + 3}|77|Bob`]);
    const confirmedAt = 77 + LEFTOVER_MS;
    const r = await s.ackWithReceipts(bob.id, [m2.id], {
      recipientName: "Bob",
      confirmedAt,
      maxPerAccount: 10,
    });
    expect(r.receipts.map((x) => [x.messageId, x.confirmedAt, x.clientMsgId])).toEqual([
      [m1.id, 77, 2 ** 40 + 3],
      [m2.id, confirmedAt, 9],
    ]);
    expect((await s.receipts(alice.id, 10)).map((x) => [x.messageId, x.clientMsgId])).toEqual([
      [m1.id, 2 ** 40 + 3],
      [m2.id, 9],
    ]);
    expect(Number(await c.send("HLEN", [receiptOutbox(bob.id)]))).toBe(0);
  });
});
