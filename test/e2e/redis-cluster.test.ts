// `chat serve --data redis://…` pointed at a sharded Redis Cluster (three masters started
// here, AOF on): the binary finds the cluster by itself, two clients chat, and what was
// queued survives a SIGKILL of the chat server.

import { beforeAll, describe, expect, test } from "bun:test";
import { type RedisCluster, startRedisCluster } from "../store/redis-cluster-server";
import { loggedIn, startClient, startServer } from "./harness";

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
