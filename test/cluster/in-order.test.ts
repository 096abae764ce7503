// Live pushes on Redis (src/cluster/redis-signals.ts, RedisStore.takeInOrder): a node pushes
// a message it stored itself as it is when every message before it to that recipient was its
// own, and otherwise has the holder read the queue. Two `chat serve` nodes (the binary) on
// one redis-server: one recipient gets bursts from senders on its own node and on the other,
// interleaved; every message arrives once, in id order, each sender's in its order.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeFrame, encodeRequest, Op, type Reply, Status } from "../../src/wire";
import { type ChatServer, CLUSTER_NODE_ARGS, RawClient, startServer } from "../e2e/harness";
import { HAVE_REDIS, type RedisServer, startRedis } from "../store/redis-server";

let redis: RedisServer;
const nodes: ChatServer[] = [];
const clients: RawClient[] = [];

async function user(node: ChatServer, name: string): Promise<RawClient> {
  const c = await RawClient.open(node.port);
  clients.push(c);
  expect(await c.login(name)).toMatchObject({ status: Status.OK });
  return c;
}

describe.skipIf(!HAVE_REDIS)("pushes on Redis with senders on the recipient's node and on another", () => {
  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++)
      nodes.push(
        await startServer(
          [...CLUSTER_NODE_ARGS, "--presence-lease", "1s", "--node-name", `n${i}`],
          redis.url,
        ),
      );
  });

  afterAll(async () => {
    for (const c of clients) if (!c.closed) c.close();
    await Promise.all(nodes.map((n) => (n.proc.exitCode === null ? n.stop("SIGKILL") : 0)));
    await redis.stop();
  });

  test("every message once, in id order, each sender's in order, nothing left waiting", async () => {
    const [here, there] = nodes as [ChatServer, ChatServer];
    const bob = await user(here, "bob");
    const senders = [
      { name: "a0", c: await user(here, "a0") },
      { name: "a1", c: await user(here, "a1") },
      { name: "b0", c: await user(there, "b0") },
      { name: "b1", c: await user(there, "b1") },
    ];
    // Bob confirms what arrives as it arrives, as a client does.
    let acked = 0;
    const acker = setInterval(() => {
      const ids = bob
        .delivered()
        .slice(acked)
        .map((m) => m.id);
      acked += ids.length;
      if (ids.length) bob.write(encodeFrame(encodeRequest({ opcode: Op.ACK, requestId: 0, ackIds: ids })));
    }, 5);
    const BURSTS = 8;
    const PER_BURST = 30;
    const answers = new Map<string, Reply[]>(senders.map((s) => [s.name, []]));
    try {
      for (let b = 0; b < BURSTS; b++) {
        // Each sender's burst is written at once: the nodes store them interleaved.
        const burst = senders.flatMap((s) =>
          Array.from({ length: PER_BURST }, (_, k) => {
            const n = b * PER_BURST + k;
            return s.c
              .request({
                opcode: Op.SEND_MESSAGE,
                receiver: "bob",
                msg: `${s.name}-${n}`,
                clientMsgId: n + 1,
              })
              .then((r) => answers.get(s.name)!.push(r));
          }),
        );
        await Promise.all(burst);
      }
      const total = senders.length * BURSTS * PER_BURST;
      await bob.next(() => bob.delivered().length >= total, `bob's ${total} messages`, 20_000);
    } finally {
      clearInterval(acker);
    }
    const got = bob.delivered();
    const ids = got.map((m) => m.id);
    // Once each, and in id order: no id came after a larger one.
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    for (const s of senders) {
      const list = answers.get(s.name)!;
      for (const a of list) expect(a).toMatchObject({ status: Status.OK, duplicate: false });
      const mine = got.filter((m) => m.sender === s.name);
      expect(mine.map((m) => m.text)).toEqual(list.map((_, n) => `${s.name}-${n}`));
      expect(mine.map((m) => m.id)).toEqual(list.map((a) => a.messageId));
    }
    // Every message confirmed (the last ACKs go before the CHECK on this connection, and the
    // store applies them in that order): nothing waits.
    const rest = bob
      .delivered()
      .slice(acked)
      .map((m) => m.id);
    if (rest.length) bob.write(encodeFrame(encodeRequest({ opcode: Op.ACK, requestId: 0, ackIds: rest })));
    expect(await bob.request({ opcode: Op.CHECK_MESSAGES })).toMatchObject({
      status: Status.OK,
      messages: [],
    });
  }, 60_000);
});
