// Three `chat serve` nodes (the binary) on one redis-server with AOF: one chat service.
// Cross-node chat, forced logout, LIST's online marks and deletion during sends across
// nodes; a node SIGKILLed under load; Redis restarted under load.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import {
  Delivery,
  encodeFrame,
  encodeRequest,
  Op,
  Push,
  type Reply,
  Status,
  type WireMessage,
} from "../../src/wire";
import { HAVE_REDIS, type RedisServer, startRedis } from "../store/redis-server";
import { type ChatServer, CLUSTER_NODE_ARGS, RawClient, startServer } from "./harness";

const LEASE = "1s";

let redis: RedisServer;
let nodes: ChatServer[] = [];
/** Connections the test's clients lost and made again on some node, over one test. */
let reconnects = 0;
const clients: RawClient[] = [];

async function startNodes(n: number, lease = LEASE): Promise<ChatServer[]> {
  await redis.cli("FLUSHALL");
  reconnects = 0;
  nodes = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      startServer([...CLUSTER_NODE_ARGS, "--presence-lease", lease, "--node-name", `node${i}`], redis.url),
    ),
  );
  return nodes;
}

async function user(node: ChatServer, name: string): Promise<RawClient> {
  const c = await RawClient.open(node.port);
  clients.push(c);
  expect(await c.login(name)).toMatchObject({ status: Status.OK });
  return c;
}

/** Sends one message (request written now); resolves with its answer. */
const send = (c: RawClient, to: string, text: string, clientMsgId = 0): Promise<Reply> =>
  c.request({ opcode: Op.SEND_MESSAGE, receiver: to, msg: text, clientMsgId });

/** Confirms every message pushed to c so far (ACK has no answer). */
function ackAll(c: RawClient, from = 0): number {
  const ids = c
    .delivered()
    .slice(from)
    .map((m) => m.id);
  if (ids.length) c.write(encodeAck(ids));
  return from + ids.length;
}

const encodeAck = (ids: number[]) =>
  encodeFrame(encodeRequest({ opcode: Op.ACK, requestId: 0, ackIds: ids }));

const increasing = (ids: readonly number[]) => ids.every((id, i) => i === 0 || id > ids[i - 1]!);

/** Logs c in as name on a fresh connection to node (after its old one died). */
async function reconnect(node: ChatServer, name: string): Promise<RawClient> {
  const c = await RawClient.open(node.port);
  clients.push(c);
  const r = await c.request({ opcode: Op.LOG_IN, sender: name, password: "correct horse" });
  if (r.status !== Status.OK) throw new Error(`login as ${name} on ${node.port}: ${r.msg}`);
  return c;
}

/**
 * A sender that sends total messages to `to` one after another, each with its own
 * client_msg_id; when its node dies it logs in on the next node of `nodes` and sends the
 * unanswered one again (same client_msg_id: stored once). Refusals while Redis is away
 * (STORAGE_FAILED) are retried. Answers what was accepted: k → message id.
 */
async function runSender(
  name: string,
  to: string,
  nodesInTurn: ChatServer[],
  total: number,
  refusals: Reply[] = [],
): Promise<Map<number, number>> {
  let turn = 0;
  let c = await reconnect(nodesInTurn[0]!, name);
  const accepted = new Map<number, number>();
  const deadline = Date.now() + 60_000;
  for (let k = 0; k < total; k++) {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${name} could not send message ${k}`);
      let r: Reply;
      try {
        r = await send(c, to, `${name}-${k}`, k + 1);
      } catch (error) {
        if (!c.closed) throw error;
        c = await reconnectSomewhere(nodesInTurn, ++turn, name);
        reconnects++;
        continue;
      }
      if (r.status === Status.OK) {
        accepted.set(k, r.messageId);
        break;
      }
      if (r.status !== Status.STORAGE_FAILED) throw new Error(`${name}: ${r.status} ${r.msg}`);
      refusals.push(r);
      await Bun.sleep(50);
    }
  }
  c.close();
  return accepted;
}

/** The next live node from turn on (its port may refuse while it is dead). */
async function reconnectSomewhere(nodesInTurn: ChatServer[], turn: number, name: string): Promise<RawClient> {
  for (let i = 0; i < nodesInTurn.length * 10; i++) {
    const node = nodesInTurn[(turn + i) % nodesInTurn.length]!;
    if (node.proc.exitCode !== null) continue;
    try {
      return await reconnect(node, name);
    } catch {
      await Bun.sleep(100);
    }
  }
  throw new Error(`${name} found no node to reconnect to`);
}

/**
 * A recipient that confirms what it is pushed, and when its node dies logs in on another
 * one (where its queue is pushed on login). got: every message received, in arrival order.
 */
function runRecipient(name: string, nodesInTurn: ChatServer[]) {
  const got: WireMessage[] = [];
  let stop = false;
  const running = (async () => {
    let turn = 0;
    let c = await reconnect(nodesInTurn[0]!, name);
    let seen = 0;
    while (!stop) {
      const now = c.delivered();
      if (now.length > seen) {
        got.push(...now.slice(seen));
        seen = ackAll(c, seen);
      }
      if (c.closed) {
        c = await reconnectSomewhere(nodesInTurn, ++turn, name);
        reconnects++;
        seen = 0;
      }
      await Bun.sleep(5);
    }
    c.close();
  })();
  return {
    got,
    async stop() {
      stop = true;
      await running;
    },
  };
}

/** Each accepted message arrived; by id, without two ids for one text, each sender's in order. */
function expectAllArrived(got: readonly WireMessage[], sender: string, accepted: Map<number, number>): void {
  const byId = new Map<number, string>();
  for (const m of got) {
    if (m.sender !== sender) continue;
    const before = byId.get(m.id);
    if (before !== undefined) expect(m.text).toBe(before); // a redelivery: same id, same text
    byId.set(m.id, m.text);
  }
  for (const [k, id] of accepted) expect(byId.get(id), `${sender}-${k} (id ${id})`).toBe(`${sender}-${k}`);
  // One id per text (no resend stored twice), and ids rising with k (no reordering).
  const ids = [...byId.entries()].sort((x, y) => x[0] - y[0]);
  const ks = ids.map(([, text]) => Number(text.slice(sender.length + 1)));
  expect(new Set(ks).size).toBe(ks.length);
  expect(increasing(ks)).toBe(true);
}

describe.skipIf(!HAVE_REDIS)("three chat serve nodes on one redis-server", () => {
  beforeAll(async () => {
    redis = await startRedis();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) if (!c.closed) c.close();
    await Promise.all(nodes.map((n) => (n.proc.exitCode === null ? n.stop("SIGKILL") : 0)));
    nodes = [];
  });

  afterAll(async () => {
    await redis.stop();
  });

  test("cross-node chat, 20 pairs: every message LIVE, nothing lost, duplicated or reordered", async () => {
    const [n0, n1, n2] = await startNodes(3);
    const ring = [n0!, n1!, n2!];
    const PAIRS = 20;
    const PER_PAIR = 25;
    const senders: RawClient[] = [];
    const recipients: RawClient[] = [];
    for (let i = 0; i < PAIRS; i++) {
      recipients.push(await user(ring[(i + 1) % 3]!, `r${i}`));
      senders.push(await user(ring[i % 3]!, `s${i}`));
    }
    const answers = await Promise.all(
      senders.map((s, i) =>
        Promise.all(Array.from({ length: PER_PAIR }, (_, k) => send(s, `r${i}`, `s${i}-${k}`, k + 1))),
      ),
    );
    for (const [i, r] of recipients.entries()) {
      await r.next(() => r.delivered().length >= PER_PAIR, `r${i}'s ${PER_PAIR} messages`, 20_000);
      ackAll(r);
    }
    for (const [i, list] of answers.entries()) {
      for (const a of list)
        expect(a).toMatchObject({ status: Status.OK, delivery: Delivery.LIVE, duplicate: false });
      const got = recipients[i]!.delivered();
      expect(got.map((m) => m.text)).toEqual(Array.from({ length: PER_PAIR }, (_, k) => `s${i}-${k}`));
      expect(got.map((m) => m.id)).toEqual(list.map((a) => a.messageId));
      expect(increasing(got.map((m) => m.id))).toBe(true);
    }
    // Every ACK removed its message: nothing waits anywhere.
    for (const [i, r] of recipients.entries()) {
      const page = await r.request({ opcode: Op.CHECK_MESSAGES });
      expect(page, `r${i}`).toMatchObject({ status: Status.OK, messages: [] });
    }
  }, 120_000);

  test("nodes renew their leases: sessions stay online over several leases", async () => {
    const [n0, n1] = await startNodes(3);
    const bob = await user(n0!, "bob");
    const alice = await user(n1!, "alice");
    // Three leases long, the lease key of bob's node never comes near running out: renewed
    // every third of the lease, it keeps more than a quarter of it (of 1 s) at all times.
    const until = Date.now() + 3 * 1000;
    while (Date.now() < until) {
      expect(Number(await redis.cli("PTTL", "chat:{n:node0}:lease"))).toBeGreaterThan(250);
      await Bun.sleep(20);
    }
    expect(await send(alice, "bob", "still there")).toMatchObject({
      status: Status.OK,
      delivery: Delivery.LIVE,
    });
    await bob.next(() => bob.delivered().length === 1, "the message");
    const list = await alice.request({ opcode: Op.LIST_ACCOUNTS, msg: "bob" });
    expect(list.accounts.map((a) => a.online)).toEqual([true]);
  }, 60_000);

  test("a node stopped with SIGTERM leaves: its accounts are offline at once, not a lease later", async () => {
    const [n0, n1] = await startNodes(2, "60s");
    await user(n0!, "bob");
    const alice = await user(n1!, "alice");
    expect(await send(alice, "bob", "while up")).toMatchObject({ delivery: Delivery.LIVE });
    expect(await n0!.stop("SIGTERM")).toBe(0);
    expect(await send(alice, "bob", "after")).toMatchObject({ status: Status.OK, delivery: Delivery.QUEUED });
    const list = await alice.request({ opcode: Op.LIST_ACCOUNTS, msg: "bob" });
    expect(list.accounts.map((a) => a.online)).toEqual([false]);
  }, 60_000);

  test("logging in on another node forces out the old session, told why", async () => {
    const [n0, n1] = await startNodes(3);
    const old = await user(n0!, "bob");
    const fresh = await RawClient.open(n1!.port);
    clients.push(fresh);
    expect(
      await fresh.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" }),
    ).toMatchObject({
      status: Status.OK,
    });
    const out = await old.next((f) => f.opcode === Push.LOGGED_OUT, "the LOGGED_OUT push", 5000);
    expect(out).toMatchObject({ status: Status.LOGGED_IN_ELSEWHERE });
    expect(out.msg).toContain("logged out: bob logged in elsewhere (");
    expect(await send(old, "bob", "from the old one")).toMatchObject({ status: Status.NOT_LOGGED_IN });
    const alice = await user(nodes[2]!, "alice");
    expect(await send(alice, "bob", "to the new one")).toMatchObject({
      status: Status.OK,
      delivery: Delivery.LIVE,
    });
    await fresh.next(() => fresh.delivered().length === 1, "the message on the new session");
    expect(old.delivered()).toEqual([]);
  }, 60_000);

  test("LIST shows the online marks of every node", async () => {
    const [n0, n1, n2] = await startNodes(3);
    const a = await user(n0!, "alice");
    const b = await user(n1!, "bob");
    const c = await user(n2!, "carol");
    const gone = await user(n2!, "dave");
    gone.close();
    await gone.whenClosed();
    const expected = [
      { name: "alice", online: true },
      { name: "bob", online: true },
      { name: "carol", online: true },
      { name: "dave", online: false },
    ];
    for (const client of [a, b, c]) {
      // dave's logout reaches presence a moment after his socket closes.
      const deadline = Date.now() + 5000;
      let list = await client.request({ opcode: Op.LIST_ACCOUNTS, msg: "*" });
      while (list.accounts.some((x) => x.name === "dave" && x.online) && Date.now() < deadline) {
        await Bun.sleep(20);
        list = await client.request({ opcode: Op.LIST_ACCOUNTS, msg: "*" });
      }
      expect(list.accounts.map((x) => ({ name: x.name, online: x.online }))).toEqual(expected);
    }
  }, 60_000);
  test("delete on one node while another accepts messages: each is handed over first or refused", async () => {
    const [n0, n1] = await startNodes(3);
    const bob = await user(n0!, "bob");
    const alice = await user(n1!, "alice");
    const sends: Promise<Reply>[] = [];
    for (let i = 0; i < 10; i++) sends.push(send(alice, "bob", `m${i}`));
    await Promise.all(sends);
    let acked = 0;
    let answered = false;
    const del = bob.request({ opcode: Op.DELETE_ACCOUNT, password: "correct horse" }).finally(() => {
      answered = true;
    });
    const deadline = Date.now() + 20_000;
    for (let i = 10; !answered && Date.now() < deadline; i++) {
      sends.push(send(alice, "bob", `m${i}`));
      acked = ackAll(bob, acked);
      await Bun.sleep(3);
    }
    expect(await del).toMatchObject({ status: Status.OK });
    for (let i = 0; i < 5; i++) sends.push(send(alice, "bob", `after${i}`));
    const answers = await Promise.all(sends);
    const handed = new Set(bob.delivered().map((m) => m.id));
    let accepted = 0;
    for (const r of answers) {
      if (r.status === Status.OK) {
        accepted++;
        expect(handed.has(r.messageId), `message ${r.messageId} handed over`).toBe(true);
      } else expect(r).toMatchObject({ status: Status.NO_SUCH_ACCOUNT, msg: "no account named bob" });
    }
    expect(accepted).toBeGreaterThanOrEqual(10);
    expect(accepted).toBeLessThan(answers.length);
  }, 60_000);

  test("a node SIGKILLed under load: its clients go on on another node, nothing accepted is lost, duplicated or reordered", async () => {
    const [n0, n1, n2] = await startNodes(3);
    const TOTAL = 60;
    // Recipients on the node that dies and on the others; senders everywhere.
    const pairs = [
      { s: "s0", r: "r0", sNodes: [n0!, n1!], rNodes: [n2!, n0!, n1!] },
      { s: "s1", r: "r1", sNodes: [n1!, n0!], rNodes: [n2!, n1!, n0!] },
      { s: "s2", r: "r2", sNodes: [n2!, n0!, n1!], rNodes: [n0!, n1!] },
      { s: "s3", r: "r3", sNodes: [n2!, n1!, n0!], rNodes: [n1!, n0!] },
      { s: "s4", r: "r4", sNodes: [n2!, n0!, n1!], rNodes: [n2!, n0!, n1!] },
    ];
    for (const p of pairs) {
      (await user(p.rNodes[0]!, p.r)).close();
      (await user(p.sNodes[0]!, p.s)).close();
    }
    const recipients = pairs.map((p) => runRecipient(p.r, p.rNodes));
    const senders = pairs.map((p) => runSender(p.s, p.r, p.sNodes, TOTAL));
    // Kill n2 once the load is under way.
    await waitUntil(() => recipients.every((r) => r.got.length >= 10), 20_000, "the load under way");
    n2!.proc.kill("SIGKILL");
    await n2!.proc.exited;
    const accepted = await Promise.all(senders);
    for (const a of accepted) expect(a.size).toBe(TOTAL);
    await waitUntil(
      () =>
        pairs.every((_, i) => {
          const ids = new Set(recipients[i]!.got.map((m) => m.id));
          return [...accepted[i]!.values()].every((id) => ids.has(id));
        }),
      30_000,
      "every accepted message received",
    );
    for (const r of recipients) await r.stop();
    for (const [i, p] of pairs.entries()) expectAllArrived(recipients[i]!.got, p.s, accepted[i]!);
    // The clients of the dead node (two recipients, three senders) went on elsewhere.
    expect(reconnects).toBeGreaterThanOrEqual(2);
  }, 120_000);

  test("redis-server restarted under load: STORAGE_FAILED meanwhile, the nodes recover by themselves", async () => {
    const [n0, n1, n2] = await startNodes(3);
    const TOTAL = 80;
    const pairs = [
      { s: "s0", r: "r0", sNode: n0!, rNode: n1! },
      { s: "s1", r: "r1", sNode: n1!, rNode: n2! },
      { s: "s2", r: "r2", sNode: n2!, rNode: n0! },
    ];
    for (const p of pairs) {
      (await user(p.rNode, p.r)).close();
      (await user(p.sNode, p.s)).close();
    }
    const recipients = pairs.map((p) => runRecipient(p.r, [p.rNode]));
    const refusals: Reply[] = [];
    const senders = pairs.map((p) => runSender(p.s, p.r, [p.sNode], TOTAL, refusals));
    await waitUntil(() => recipients.every((r) => r.got.length >= 10), 20_000, "the load under way");
    await redis.stop();
    await waitUntil(() => refusals.length >= 3, 20_000, "refusals while Redis is away");
    await redis.start();
    const accepted = await Promise.all(senders);
    for (const a of accepted) expect(a.size).toBe(TOTAL);
    expect(refusals[0]!.msg).toContain("(Redis) is unavailable");
    await waitUntil(
      () =>
        pairs.every((_, i) => {
          const ids = new Set(recipients[i]!.got.map((m) => m.id));
          return [...accepted[i]!.values()].every((id) => ids.has(id));
        }),
      30_000,
      "every accepted message received",
    );
    for (const r of recipients) await r.stop();
    for (const [i, p] of pairs.entries()) expectAllArrived(recipients[i]!.got, p.s, accepted[i]!);
    for (const n of [n0!, n1!, n2!]) expect(n.proc.exitCode).toBeNull();
    // The nodes kept every client connection through the outage.
    expect(reconnects).toBe(0);
  }, 120_000);
});

async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await Bun.sleep(10);
  }
}

describe.skipIf(!HAVE_REDIS)("a node with --redis-wait-replicas on a primary and a replica", () => {
  let primary: RedisServer;
  let replica: RedisServer;
  const replicationUp = async () => {
    const deadline = Date.now() + 10_000;
    while (!/master_link_status:up/.test(await replica.cli("INFO", "replication"))) {
      if (Date.now() > deadline) throw new Error("the replica did not sync");
      await Bun.sleep(20);
    }
  };

  beforeAll(async () => {
    primary = await startRedis();
    replica = await startRedis({ replicaOf: primary.port });
    await replicationUp();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) if (!c.closed) c.close();
    await Promise.all(nodes.map((n) => (n.proc.exitCode === null ? n.stop("SIGKILL") : 0)));
    nodes = [];
  });

  afterAll(async () => {
    // SIGKILL: a replica stopped while it syncs can take long to exit; the data is not needed.
    await replica.kill();
    await primary.kill();
  });

  test("answers a SEND once the replica has it, and STORAGE_FAILED saying why while it is away", async () => {
    const node = await startServer(
      // Long enough for a replica on a busy disk (AOF always) to confirm: 300 ms was not.
      [...CLUSTER_NODE_ARGS, "--redis-wait-replicas", "1", "--redis-wait-timeout", "1500ms"],
      primary.url,
    );
    nodes = [node];
    expect(await node.out.find((l) => l.includes("data: redis"), "the data line")).toContain(
      "(WAIT for 1 replica, 1500 ms)",
    );
    const bob = await user(node, "bob");
    const alice = await user(node, "alice");
    const first = await send(alice, "bob", "kept twice", 1);
    expect(first).toMatchObject({ status: Status.OK, delivery: Delivery.LIVE });
    // Answered after the replica had it: bob's queue (the only one) is there with it.
    const queue = await replica.cli("KEYS", "chat:{u:*}:q");
    expect(await replica.cli("ZCOUNT", queue, "(-inf", "+inf")).toBe("1"); // leaving the pad out
    await replica.kill(); // SIGKILL: a replica told to stop (SIGTERM) can take long to exit
    const refused = await send(alice, "bob", "unconfirmed", 2);
    expect(refused).toMatchObject({
      status: Status.STORAGE_FAILED,
      msg: expect.stringContaining("not confirmed by 1 Redis replica within 1500 ms (0 confirmed)"),
    });
    await replica.start();
    await replicationUp();
    // The client sends it again with its client_msg_id: stored once, and now confirmed.
    expect(await send(alice, "bob", "unconfirmed", 2)).toMatchObject({ status: Status.OK, duplicate: true });
    // The refused one was stored without a push; the next message brings it along.
    expect(await send(alice, "bob", "after", 3)).toMatchObject({ status: Status.OK, duplicate: false });
    await bob.next(() => bob.delivered().length >= 3, "the three messages", 10_000);
    expect(bob.delivered().map((m) => m.text)).toEqual(["kept twice", "unconfirmed", "after"]);
  }, 60_000);
});
