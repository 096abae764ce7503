// `chat serve --data redis://…` pointed at a sharded Redis Cluster (three masters started
// here, AOF on): the binary finds the cluster by itself, two clients chat, and what was
// queued survives a SIGKILL of the chat server; two nodes on it are one service.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Delivery, Op, Push, type Reply, Status } from "../../src/wire";
import { type RedisCluster, startRedisCluster } from "../store/redis-cluster-server";
import { type ChatServer, loggedIn, RawClient, startClient, startServer } from "./harness";

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);

describe("chat serve on a Redis Cluster", () => {
  test("two clients chat; queued messages survive a SIGKILL of the server, in order", async () => {
    const first = await startServer([], cluster.url);
    await first.out.find(
      (l) => l.includes(`data: redis cluster redis://127.0.0.1:${cluster.nodes[0]!.port}/0`),
      "the data line",
    );
    const alice = await loggedIn(first.port, "alice");
    const bob = await loggedIn(first.port, "bob");
    alice.say("/send bob live one");
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    await bob.waitFor((e) => e.type === "message" && e.text === "live one", "the live message");
    bob.say("/send alice and back");
    expect(await bob.reply("send")).toMatchObject({ ok: true, delivery: "live" });
    await alice.waitFor((e) => e.type === "message" && e.text === "and back", "the reply");
    bob.say("/quit");
    await bob.exited;
    const texts = ["queued one", "queued two", "queued three"];
    for (const text of texts) alice.say(`/send bob ${text}`);
    for (const _ of texts) expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "queued" });
    expect(await first.stop("SIGKILL")).not.toBe(0);
    alice.end();

    const second = await startServer([], cluster.url);
    const back = startClient(second.port);
    back.say("/login bob", "correct horse");
    expect(await back.reply("login")).toMatchObject({ ok: true, unread: 3 });
    back.say("/check");
    await back.reply("check");
    expect(back.events.filter((e) => e.type === "message").map((e) => e.text)).toEqual(texts);
    back.say("/check");
    expect((await back.reply("check")).msg).toBe("no unread messages");
    back.end();
    expect(await second.stop()).toBe(0);
    // The accounts and queues really are spread over the shards.
    const sizes = await Promise.all(
      cluster.nodes.map(async (n) => {
        const p = Bun.spawn(["redis-cli", "-p", String(n.port), "DBSIZE"], { stdout: "pipe" });
        return Number((await new Response(p.stdout).text()).trim());
      }),
    );
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThan(1);
  });
});

describe("two chat serve nodes on a Redis Cluster", () => {
  const servers: ChatServer[] = [];
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) if (!c.closed) c.close();
    await Promise.all(servers.splice(0).map((n) => (n.proc.exitCode === null ? n.stop("SIGKILL") : 0)));
  });
  const user = async (node: ChatServer, name: string): Promise<RawClient> => {
    const c = await RawClient.open(node.port);
    clients.push(c);
    expect(await c.login(name)).toMatchObject({ status: Status.OK });
    return c;
  };
  const send = (c: RawClient, to: string, text: string, clientMsgId = 0): Promise<Reply> =>
    c.request({ opcode: Op.SEND_MESSAGE, receiver: to, msg: text, clientMsgId });

  test("alice on node A and bob on node B chat live both ways; logging in on A forces bob out of B", async () => {
    const args = ["--argon2-memory-kib", "64", "--argon2-time", "1", "--presence-lease", "1s"];
    const a = await startServer([...args, "--node-name", "node-a"], cluster.url);
    const b = await startServer([...args, "--node-name", "node-b"], cluster.url);
    servers.push(a, b);
    const alice = await user(a, "alice");
    const bob = await user(b, "bob");
    const N = 20;
    const toBob = await Promise.all(Array.from({ length: N }, (_, k) => send(alice, "bob", `a${k}`, k + 1)));
    const toAlice = await Promise.all(
      Array.from({ length: N }, (_, k) => send(bob, "alice", `b${k}`, k + 1)),
    );
    for (const r of [...toBob, ...toAlice])
      expect(r).toMatchObject({ status: Status.OK, delivery: Delivery.LIVE, duplicate: false });
    await bob.next(() => bob.delivered().length >= N, "bob's messages from node A", 10_000);
    await alice.next(() => alice.delivered().length >= N, "alice's messages from node B", 10_000);
    const texts = (p: string) => Array.from({ length: N }, (_, k) => `${p}${k}`);
    expect(bob.delivered().map((m) => m.text)).toEqual(texts("a"));
    expect(alice.delivered().map((m) => m.text)).toEqual(texts("b"));
    expect(bob.delivered().map((m) => m.id)).toEqual(toBob.map((r) => r.messageId));
    // Bob logs in on node A: his session on node B is forced out, told why.
    const again = await RawClient.open(a.port);
    clients.push(again);
    expect(
      await again.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" }),
    ).toMatchObject({
      status: Status.OK,
    });
    const out = await bob.next((f) => f.opcode === Push.LOGGED_OUT, "the LOGGED_OUT push", 5000);
    expect(out).toMatchObject({ status: Status.LOGGED_IN_ELSEWHERE });
    expect(out.msg).toContain("logged out: bob logged in elsewhere (");
    // Unconfirmed ones wait for him on node A, and new ones reach him there.
    expect(await send(alice, "bob", "on A now")).toMatchObject({
      status: Status.OK,
      delivery: Delivery.LIVE,
    });
    await again.next(
      () => again.delivered().some((m) => m.text === "on A now"),
      "the message on the new session",
      10_000,
    );
    const seen = again.delivered().map((m) => m.text);
    expect(seen.slice(-1)).toEqual(["on A now"]);
    const ids = again.delivered().map((m) => m.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
  }, 60_000);
});
