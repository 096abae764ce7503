// Many addresses, one server: past the per-address budget there is a total one, so twenty
// addresses flooding together get the total's worth between them (by back-pressure: their
// frames wait in the kernel), while a client from another address, within its fair part of
// the total, is served at once.

import { expect, test } from "bun:test";
import { encodeFrame, encodeRequest, Op } from "../../src/wire";
import { RawClient, startServer } from "./harness";
import { answeredOf, flooder, pingSteadily, refusedOf } from "./ping-flooder";

const TOTAL = 2000;
const ADDRESSES = 20;
const RUN_MS = 3000;

test("twenty addresses flooding together get the total budget's worth; another address is served at once", async () => {
  const server = await startServer([
    // Each address alone could send all it likes: only the total holds them.
    ...["--request-rate-per-address", "1000000", "--request-burst-per-address", "1000000"],
    ...["--request-rate-total", String(TOTAL), "--request-burst-total", String(TOTAL)],
  ]);
  const flooders = await Promise.all(
    Array.from({ length: ADDRESSES * 2 }, (_, i) => flooder(server.port, `127.0.0.${2 + (i % ADDRESSES)}`)),
  );
  const burst = Buffer.concat(
    Array.from({ length: 500 }, (_, i) => encodeFrame(encodeRequest({ opcode: Op.PING, requestId: i + 1 }))),
  );
  const started = performance.now();
  for (const f of flooders) f.socket.write(burst); // 20,000 PINGs: more than twice what RUN_MS pays for

  // Meanwhile a client from 127.0.0.1 pings one at a time, within its fair part of the
  // total (2,000/s over 21 addresses: about 95 a second).
  const other = await RawClient.open(server.port);
  const took = await pingSteadily(other, started, RUN_MS, 20);
  const elapsed = performance.now() - started;
  const answered = answeredOf(flooders);
  const refused = refusedOf(flooders);
  console.log(
    `${ADDRESSES} addresses: ${answered} PINGs answered in ${elapsed.toFixed(0)} ms (total budget ${TOTAL} + ${TOTAL}/s); ` +
      `another address: ${took.length} PINGs, p99 ${took[Math.floor(took.length * 0.99)]!.toFixed(1)} ms`,
  );
  // The burst and the rate, plus what each connection's reads hand on before it is held.
  expect(answered).toBeGreaterThan(TOTAL);
  expect(answered).toBeLessThan(TOTAL + (TOTAL * elapsed) / 1000 + 2500);
  expect(refused).toBe(0);
  expect(flooders.every((f) => !f.closed)).toBe(true);
  // The operator is told, once (not once per frame), and what to raise if the load is expected.
  const told = await server.err.find(
    (l) => l.includes("limit request_budget_total"),
    "the total budget's log line",
  );
  expect(told).toContain("--request-rate-total");
  expect(server.err.all.filter((l) => l.includes("request_budget_total")).length).toBeLessThanOrEqual(2);
  expect(took.length).toBeGreaterThan(50);
  // Loose: this machine's own noise.
  expect(took[Math.floor(took.length * 0.99)]!).toBeLessThan(250);

  // The rest is answered in the end: held, not dropped.
  const deadline = performance.now() + 30_000;
  while (answeredOf(flooders) < answered + TOTAL && performance.now() < deadline) await Bun.sleep(50);
  expect(answeredOf(flooders)).toBeGreaterThanOrEqual(answered + TOTAL / 2);
  for (const f of flooders) f.socket.end();
  other.close();
  expect(await server.stop()).toBe(0);
}, 60_000);
