// What the server holds per idle logged-in connection, from the inside: the server runs in
// this process (src/server.ts, the default SQLite store), a child process connects N users
// with the peer harness's chat driver (once to create their accounts, then again to stay
// logged in), and the JavaScript heap (bun:jsc heapStats, after Bun.gc(true)) and RSS are
// read before and after the second connect, each after the same quiet time.
//
//   bun bench/idle-heap.ts [N=3000]
//
// Prints heap and RSS bytes per connection and the object types whose count grew by at
// least N/2 (per connection). Kernel socket buffers are not in either figure.

import { heapStats } from "bun:jsc";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveOptions } from "../src/cli/serve";
import { startServer } from "../src/server";

const N = Number(process.argv[2] ?? 3000);
const QUIET_MS = 1500;

if (process.argv[2] === "--client") {
  await client(Number(process.argv[3]), Number(process.argv[4]));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "chat-idle-heap-"));
const data = join(dir, "chat.db");
// The limits bench/peer/run-peers.sh raises (bench/peer/README.md says why).
const args = {
  host: "127.0.0.1",
  port: "0",
  data,
  "log-level": "error",
  "max-connections": String(N + 100),
  "max-connections-per-address": String(N + 100),
  "accounts-per-address": "1000000",
  "login-failures-per-address": "1000000",
  "argon2-memory-kib": "256",
  "argon2-time": "1",
  "request-rate-per-address": "100000000",
  "request-burst-per-address": "100000000",
  "request-rate": "1000000",
  "request-burst": "1000000",
};
const server = await startServer(serveOptions(args as never, data));
const child = Bun.spawn([process.execPath, import.meta.path, "--client", String(server.port), String(N)], {
  stdin: "pipe",
  stdout: "pipe",
  stderr: "inherit",
});
const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let pending = "";
async function line(): Promise<string> {
  for (;;) {
    const i = pending.indexOf("\n");
    if (i >= 0) {
      const l = pending.slice(0, i);
      pending = pending.slice(i + 1);
      return l;
    }
    const r = await lines.read();
    if (r.done) throw new Error("the client process ended early");
    pending += r.value;
  }
}
function snapshot() {
  Bun.gc(true);
  const h = heapStats();
  return {
    heap: h.heapSize,
    types: h.objectTypeCounts as Record<string, number>,
    rss: process.memoryUsage().rss,
  };
}

await line(); // accounts made, every user gone again
await Bun.sleep(QUIET_MS);
const before = snapshot();
child.stdin.write("connect\n");
child.stdin.flush();
const connected = Number((await line()).split(" ")[1]);
await Bun.sleep(QUIET_MS);
const after = snapshot();
console.log(`${connected} idle logged-in connections`);
console.log(`JS heap bytes per connection: ${Math.round((after.heap - before.heap) / connected)}`);
console.log(`RSS bytes per connection:     ${Math.round((after.rss - before.rss) / connected)}`);
console.log("object types grown (per connection):");
for (const k of new Set([...Object.keys(before.types), ...Object.keys(after.types)])) {
  const d = (after.types[k] ?? 0) - (before.types[k] ?? 0);
  if (d >= connected / 2) console.log(`  ${k.padEnd(28)} ${(d / connected).toFixed(2)}`);
}
child.stdin.end();
await child.exited;
await server.stop();
rmSync(dir, { recursive: true, force: true });

/** The child: N users connect and leave, then connect again and stay until stdin closes. */
async function client(port: number, n: number): Promise<void> {
  const { chatDriver } = await import("./peer/drivers/chat");
  const d = chatDriver({ host: "127.0.0.1", port, payloadBytes: 64 });
  const h = { onDeliver() {}, onAck() {} };
  const inBatches = async <T>(fn: (i: number) => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (let i = 0; i < n; i += 50)
      out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => fn(i + j)))));
    return out;
  };
  await inBatches(async (i) => (await d.connect(`idle${i}`, h, { persistent: false })).close());
  console.log("ready");
  const input = console[Symbol.asyncIterator]();
  await input.next();
  const clients = await inBatches((i) => d.connect(`idle${i}`, h, { persistent: false }));
  console.log(`connected ${clients.length}`);
  await input.next();
}
