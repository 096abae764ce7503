// `chat connect host1:port1,host2:port2`: the client tries the servers in turn, for the
// first connection and after losing one. Two independent servers (two SQLite files): a
// session on the first cannot be resumed on the second, so the client says it moved, that
// the session ended, and logs in again there.

import { afterEach, expect, test } from "bun:test";
import { Push } from "../../src/wire";
import { track } from "../processes";
import { BIN, freePort, RawClient, startClient, startServer } from "./harness";

const PASSWORD = "correct horse";
const servers: Awaited<ReturnType<typeof startServer>>[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) if (s.proc.exitCode === null) await s.stop();
});

async function twoServers() {
  const a = await startServer();
  const b = await startServer();
  servers.push(a, b);
  return [a, b] as const;
}

test("the first server killed with SIGKILL: the client reconnects to the second and says so", async () => {
  const [a, b] = await twoServers();
  // bob exists on both; carol on the second, to see bob's message arrive there.
  const carol = await RawClient.open(b.port);
  await carol.login("carol");
  const maker = await RawClient.open(b.port);
  await maker.login("bob");
  maker.close();

  const list = `127.0.0.1:${a.port},127.0.0.1:${b.port}`;
  const bob = startClient(list, ["--heartbeat", "1s"]);
  const first = await bob.waitFor((e) => e.type === "connected", "the first connection");
  expect(first.address).toBe(`127.0.0.1:${a.port}`);
  bob.say("/create bob", PASSWORD);
  expect(await bob.reply("login")).toMatchObject({ ok: true, name: "bob" });

  await a.stop("SIGKILL");
  const lost = await bob.waitFor((e) => e.type === "lost", "the loss of the first server");
  expect(lost.reconnecting).toBe(true);
  const moved = await bob.waitFor((e) => e.type === "reconnected", "the reconnection", 15_000);
  expect(moved.address).toBe(`127.0.0.1:${b.port}`);
  expect(bob.events.filter((e) => e.type === "connected").map((e) => e.address)).toEqual([
    `127.0.0.1:${a.port}`,
    `127.0.0.1:${b.port}`,
  ]);
  // The second server does not know the first one's session token.
  await bob.waitFor((e) => e.type === "session_ended", "the session ending on the other server");

  bob.say("/login bob", PASSWORD, "/send carol hello from the second server");
  expect(await bob.reply("login")).toMatchObject({ ok: true, name: "bob" });
  expect(await bob.reply("send")).toMatchObject({ ok: true });
  const got = await carol.next((r) => r.opcode === Push.DELIVER, "bob's message on the second server");
  expect(got.messages.map((m) => [m.sender, m.text])).toEqual([["bob", "hello from the second server"]]);
  carol.close();
  bob.say("/quit");
  bob.end();
  expect(await bob.exited).toBe(0);
}, 30_000);

test("the first connection skips a server that is down, and a name's addresses are tried", async () => {
  const [, b] = await twoServers();
  const down = freePort();
  // Nobody on `down` (IPv4 and IPv6 loopback), then the second server by name.
  const c = startClient(`127.0.0.1:${down},[::1]:${down},localhost:${b.port}`);
  const e = await c.waitFor((x) => x.type === "connected", "a connection");
  expect(e.address).toBe(`localhost:${b.port}`);
  c.say("/create dave", PASSWORD);
  expect(await c.reply("login")).toMatchObject({ ok: true, name: "dave" });
  c.end();
  expect(await c.exited).toBe(0);
});

test("when no server answers, the error names each of them and the exit status is 1", async () => {
  const p1 = freePort();
  // A port just given back can be handed out again at once; the list must name two.
  let p2 = freePort();
  while (p2 === p1) p2 = freePort();
  const c = startClient(`127.0.0.1:${p1},127.0.0.1:${p2}`);
  c.end();
  expect(await c.exited).toBe(1);
  const msg = String(c.events.find((e) => e.type === "error")?.msg);
  expect(msg).toBe(
    `cannot connect to any of 127.0.0.1:${p1}, 127.0.0.1:${p2}: 127.0.0.1:${p1}: connection refused (is the server running?); 127.0.0.1:${p2}: connection refused (is the server running?)`,
  );
});

test("a bad server list is a usage error (exit 2) naming the entry", async () => {
  const c = startClient("127.0.0.1:1,,x");
  c.end();
  expect(await c.exited).toBe(2);
  expect(c.err.all.join("\n") + c.out.all.join("\n")).toContain('an empty entry in "127.0.0.1:1,,x"');
});

test("in script mode without --json the reconnection line names the new server", async () => {
  const [a, b] = await twoServers();
  const proc = track(
    Bun.spawn([BIN, "connect", `127.0.0.1:${a.port},127.0.0.1:${b.port}`, "--heartbeat", "1s"], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    }),
  );
  let out = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) out += decoder.decode(chunk, { stream: true });
  })();
  const until = async (text: string, what: string) => {
    const deadline = Date.now() + 15_000;
    while (!out.includes(text)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${out}`);
      await Bun.sleep(20);
    }
  };
  proc.stdin.write(`/create erin\n${PASSWORD}\n`);
  proc.stdin.flush();
  await until("✓ logged in as erin", "the login on the first server");
  await a.stop("SIGKILL");
  await until(`✓ reconnected to 127.0.0.1:${b.port}`, "the reconnection line");
  proc.stdin.end();
  expect(await proc.exited).toBe(0);
  await reading;
  expect(out).toContain("! connection lost");
});
