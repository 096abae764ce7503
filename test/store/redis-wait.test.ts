// WAIT for replicas (RedisStoreOptions.waitReplicas, `--redis-wait-replicas`), on a real
// primary and replica (`redis-server --replicaof`).

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { RedisStore } from "../../src/store/redis";
import { user } from "../../src/store/redis-keys";
import { parseRedisTarget } from "../../src/store/redis-url";
import { StorageError, type StoreLimits } from "../../src/store/store";
import { addAccount, msg, put } from "./contract";
import { type RedisServer, startRedis } from "./redis-server";

const LIMITS: StoreLimits = { maxQueuedPerAccount: 10_000, maxQueuedPerSender: 10_000, dedupPerSender: 4 };
let primary: RedisServer;
let replica: RedisServer;
const opened: RedisStore[] = [];

beforeAll(async () => {
  primary = await startRedis();
  replica = await startRedis({ replicaOf: primary.port });
  await until(async () => /connected_slaves:1/.test(await primary.cli("INFO", "replication")));
  await until(async () => /master_link_status:up/.test(await replica.cli("INFO", "replication")));
});

afterAll(async () => {
  for (const s of opened) await s.close().catch(() => {});
  // SIGKILL: a replica stopped while it syncs can take long to exit, and nothing here needs the data.
  await replica.kill();
  await primary.kill();
});

async function until(ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

async function open(opts: { waitReplicas: number; waitTimeoutMs: number }): Promise<RedisStore> {
  const t = parseRedisTarget(primary.url);
  if (!t.ok) throw new Error(t.reason);
  const s = await RedisStore.open(t.target, LIMITS, opts);
  opened.push(s);
  return s;
}

/** How many times Redis ran cmd, from INFO commandstats. */
async function calls(r: RedisServer, cmd: string): Promise<number> {
  const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await r.cli("INFO", "commandstats"));
  return m ? Number(m[1]) : 0;
}

describe("WAIT for replicas", () => {
  it("answers a SEND once the replica has it, with one WAIT per burst of SENDs", async () => {
    const s = await open({ waitReplicas: 1, waitTimeoutMs: 2000 });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const m = await put(s, msg(bob, "alice", "kept twice"));
    // Answered only after the replica confirmed it: the replica holds it now.
    expect(await replica.cli("ZSCORE", user(alice.id).queue, String(m.id))).toBe(String(m.id));
    const before = await calls(primary, "wait");
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => put(s, msg(bob, "alice", `b${i}`))));
    const waits = (await calls(primary, "wait")) - before;
    expect(waits).toBeGreaterThan(0);
    expect(waits).toBeLessThan(10);
    expect(await replica.cli("ZCOUNT", user(alice.id).queue, "(-inf", "+inf")).toBe("51");
    expect(burst.map((x) => x.id)).toEqual([...burst.map((x) => x.id)].sort((p, q) => p - q));
  });

  it("does not WAIT when not asked to", async () => {
    const s = await open({ waitReplicas: 0, waitTimeoutMs: 1000 });
    const [, bob] = [await addAccount(s, "Carol"), await addAccount(s, "Dave")];
    const before = await calls(primary, "wait");
    await put(s, msg(bob, "carol", "no wait"));
    expect(await calls(primary, "wait")).toBe(before);
  });

  it("answers STORAGE_FAILED saying why while the replica is away; the resend is stored once", async () => {
    const s = await open({ waitReplicas: 1, waitTimeoutMs: 300 });
    const [erin, frank] = [await addAccount(s, "Erin"), await addAccount(s, "Frank")];
    // The other stores' changes of the shared total reach Redis first (each adds its own).
    const queued = async () => {
      for (const o of opened) await o.flush();
      return (await s.stats()).queued;
    };
    const queuedBefore = await queued();
    await replica.kill(); // SIGKILL: a replica told to stop (SIGTERM) can take long to exit
    await until(async () => /connected_slaves:0/.test(await primary.cli("INFO", "replication")));
    const started = Date.now();
    const failed = await s.enqueue(msg(frank, "erin", "unconfirmed", { clientMsgId: 9 })).catch((e) => e);
    expect(failed).toBeInstanceOf(StorageError);
    expect(failed.message).toBe(
      "the message was stored but not confirmed by 1 Redis replica within 300 ms (0 confirmed)",
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await replica.start();
    await until(async () => /master_link_status:up/.test(await replica.cli("INFO", "replication")));
    const again = await s.enqueue(msg(frank, "erin", "unconfirmed", { clientMsgId: 9 }));
    expect(again).toMatchObject({ ok: true, duplicate: true });
    expect(await s.countPending(erin.id)).toBe(1);
    // Counted once in the queued total: it was stored when it was refused as unconfirmed.
    expect(await queued()).toBe(queuedBefore + 1);
    expect(await replica.cli("ZCOUNT", user(erin.id).queue, "(-inf", "+inf")).toBe("1");
  });
});
