// One round of tries over several servers, on loopback: a listener that speaks HELLO per
// server, names resolved by a stand-in resolver.

import { afterEach, expect, test } from "bun:test";
import { type DialError, dialRound, type Resolver } from "../../src/client/dial";
import { encodeFrame, encodeReply, Push } from "../../src/wire";

/** A port nobody listens on a moment later. */
function freePort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("connected, but no server should have answered");
    },
    (e) => e as DialError,
  );

const listeners: { stop(closeActive?: boolean): void }[] = [];
afterEach(() => {
  for (const l of listeners.splice(0)) l.stop(true);
});

/** A server that greets with HELLO and counts who connected. */
function helloServer() {
  const seen = { connections: 0 };
  const l = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        seen.connections++;
        s.write(encodeFrame(encodeReply({ opcode: Push.HELLO, msg: "hello" })));
      },
      data() {},
    },
  });
  listeners.push(l);
  return { port: l.port, seen };
}

const base = { connectTimeoutMs: 2000, heartbeatMs: 60_000, heartbeatMisses: 3, maxFrameBytes: 1 << 20 };
const handlers = { onPush() {}, onLost() {} };

test("a name's addresses are tried in turn; the connection is named as given", async () => {
  const s = helloServer();
  const tried: string[] = [];
  const resolve: Resolver = async (host) => {
    tried.push(host);
    return host === "chat.test" ? ["::1", "127.0.0.1"] : [host];
  };
  const down = freePort();
  const d = await dialRound(
    {
      ...base,
      host: "127.0.0.1",
      port: down,
      servers: [
        { host: "127.0.0.1", port: down },
        { host: "chat.test", port: s.port },
      ],
    },
    null,
    handlers,
    resolve,
  );
  expect(tried).toEqual(["127.0.0.1", "chat.test"]);
  expect(d.server).toBe(1);
  expect(d.where).toBe(`chat.test:${s.port}`);
  expect(s.seen.connections).toBe(1);
  d.conn.close();
});

test("after losing a server the round starts with the next one", async () => {
  const a = helloServer();
  const b = helloServer();
  const servers = [
    { host: "127.0.0.1", port: a.port },
    { host: "127.0.0.1", port: b.port },
  ];
  const first = await dialRound({ ...base, ...servers[0]!, servers }, null, handlers);
  expect(first.server).toBe(0);
  first.conn.close();
  const next = await dialRound({ ...base, ...servers[0]!, servers }, 0, handlers);
  expect(next.server).toBe(1);
  expect([a.seen.connections, b.seen.connections]).toEqual([1, 1]);
  next.conn.close();
});

test("a round where every server refuses is transient; an unknown name is not", async () => {
  const p1 = freePort();
  const p2 = freePort();
  const refused = dialRound(
    {
      ...base,
      host: "127.0.0.1",
      port: p1,
      servers: [
        { host: "127.0.0.1", port: p1 },
        { host: "127.0.0.1", port: p2 },
      ],
    },
    null,
    handlers,
  );
  const e = await failure(refused);
  expect(e.message).toStartWith(`cannot connect to any of 127.0.0.1:${p1}, 127.0.0.1:${p2}: `);
  expect(e.transient).toBe(true);
  const unknown = await failure(
    dialRound({ ...base, host: "nowhere.test", port: p1 }, null, handlers, async () => {
      throw new Error("ENOTFOUND");
    }),
  );
  expect(unknown.message).toBe(`cannot connect to nowhere.test:${p1}: unknown host`);
  expect(unknown.transient).toBe(false);
});
