// `chat bench` as a user runs it: every workload completes on small counts, and its own
// correctness figures hold (nothing lost, nothing out of order, no errors). Speed is what
// the benchmarks report; these tests assert none.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Op, Status } from "../../src/wire";
import { track } from "../processes";
import { webPortOf } from "../web/ws-client";
import { RawClient, runChat, startQuietServer, startServer, tempDir } from "./harness";

const HARNESS = join(import.meta.dir, "../../bench/peer/harness.ts");

/** Rows of the data file's dedup records, per sender name. */
function idRecords(dataFile: string): Record<string, number> {
  const db = new Database(dataFile, { readonly: true });
  const rows = db
    .query(
      "SELECT a.name AS name, count(*) AS n FROM sent_ring r JOIN accounts a ON a.id = r.sender_id GROUP BY a.name",
    )
    .all() as { name: string; n: number }[];
  db.close();
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

/** Receipts the data file still holds, unconfirmed by their senders. */
function waitingReceipts(dataFile: string): number {
  const db = new Database(dataFile, { readonly: true });
  const { n } = db.query("SELECT count(*) AS n FROM receipts").get() as { n: number };
  db.close();
  return n;
}

/** The harness's clients all connect from 127.0.0.1: lift the per-address request budget. */
const ONE_ADDRESS = ["--request-rate-per-address", "100000000", "--request-burst-per-address", "100000000"];

async function bench(...args: string[]) {
  const { code, out, err } = await runChat(["bench", ...args, "--json", "--max-seconds", "60"], {
    timeoutMs: 90_000,
  });
  const line = out.trim().split("\n").at(-1) ?? "";
  return { code, err, result: line.startsWith("{") ? (JSON.parse(line) as Record<string, unknown>) : {} };
}

describe("chat bench", () => {
  test("relay: every message sent is answered and delivered once, in order", async () => {
    const { code, result } = await bench("relay", "--pairs", "4", "--count", "2000", "--data", ":memory:");
    expect(code).toBe(0);
    expect(result).toMatchObject({
      workload: "relay",
      store: "memory",
      pairs: 4,
      count: 2000,
      msg_ids: true,
      sent: 8000,
      answered: 8000,
      delivered: 8000,
      refused: 0,
      lost: 0,
      order_errors: 0,
    });
    expect(result.msgs_per_s).toBeGreaterThan(0);
    expect(result.p50_ms).toBeGreaterThan(0);
  });

  test("sends a client_msg_id with every message unless --no-msg-ids, and is correct either way", async () => {
    const withIds = join(tempDir(), "ids.db");
    const a = await bench("relay", "--pairs", "2", "--count", "1000", "--data", withIds);
    expect(a.code).toBe(0);
    expect(a.result).toMatchObject({
      msg_ids: true,
      delivered: 2000,
      refused: 0,
      lost: 0,
      order_errors: 0,
      receipts_confirmed: 2000,
    });
    // The server remembered each sender's last 128 ids: the ids were sent, and the bound held.
    expect(idRecords(withIds)).toEqual({ send0: 128, send1: 128 });
    // The senders confirmed every delivery receipt, as the real client does: none is left.
    expect(waitingReceipts(withIds)).toBe(0);
    const without = join(tempDir(), "plain.db");
    const b = await bench("relay", "--pairs", "2", "--count", "1000", "--data", without, "--no-msg-ids");
    expect(b.code).toBe(0);
    expect(b.result).toMatchObject({
      msg_ids: false,
      delivered: 2000,
      refused: 0,
      lost: 0,
      order_errors: 0,
      receipts_confirmed: 2000,
    });
    expect(idRecords(without)).toEqual({});
    expect(waitingReceipts(without)).toBe(0);
  });

  test("offline: everything queued for an absent receiver is drained, the sender confirms its receipts", async () => {
    const data = join(tempDir(), "offline.db");
    const { code, result } = await bench("offline", "--messages", "3000", "--data", data);
    expect(code).toBe(0);
    expect(result).toMatchObject({
      workload: "offline",
      store: "sqlite sync=normal",
      messages: 3000,
      answered: 3000,
      delivered: 3000,
      refused: 0,
      lost: 0,
      order_errors: 0,
      // The sender was away while the receiver drained: it comes back to the newest
      // max_receipts (1000) of its receipts and confirms them all.
      receipts_confirmed: 1000,
    });
    expect(waitingReceipts(data)).toBe(0);
  });

  test("conns and login: every client connects and logs in", async () => {
    const conns = await bench("conns", "--conns", "100", "--conc", "20");
    expect(conns.code).toBe(0);
    expect(conns.result).toMatchObject({ workload: "conns", conns: 100, connect_errors: 0, dropped: 0 });
    const login = await bench("login", "--conns", "10", "--conc", "5");
    expect(login.code).toBe(0);
    expect(login.result).toMatchObject({ workload: "login", logins: 10, errors: 0 });
  });

  test("measures a server that is already running", async () => {
    // All the bench's clients come from 127.0.0.1: lift the per-address budget (ONE_ADDRESS).
    const server = await startQuietServer(["--data", ":memory:", ...ONE_ADDRESS]);
    const { code, result } = await bench(
      "relay",
      "--host",
      "127.0.0.1",
      "--port",
      String(server.port),
      "--pid",
      String(server.proc.pid),
      "--pairs",
      "2",
      "--count",
      "500",
      "--label",
      "running",
    );
    expect(code).toBe(0);
    expect(result).toMatchObject({
      label: "running",
      store: "remote",
      delivered: 1000,
      lost: 0,
      order_errors: 0,
    });
    expect(result.server_rss_mb).toBeGreaterThan(0);
    // A second run on the same accounts: the ids of the first are not taken for resends.
    const again = await bench(
      "relay",
      "--host",
      "127.0.0.1",
      "--port",
      String(server.port),
      "--pairs",
      "2",
      "--count",
      "500",
    );
    expect(again.result).toMatchObject({ delivered: 1000, refused: 0, lost: 0, order_errors: 0 });
    // The receivers confirmed every delivery: nothing is left waiting for them.
    for (const name of ["recv0", "recv1"]) {
      const c = await RawClient.open(server.port);
      const r = await c.request({ opcode: Op.LOG_IN, sender: name, password: "bench password" });
      expect(r).toMatchObject({ status: Status.OK, unread: 0 });
      c.close();
    }
    // The bench leaves the server it did not start running.
    expect(server.proc.exitCode).toBeNull();
  });

  test("bad options are usage errors", async () => {
    const payload = await bench("relay", "--payload", "20");
    expect(payload.code).toBe(2);
    expect(payload.err).toContain("--payload");
    const workload = await bench("flood");
    expect(workload.code).toBe(2);
    expect(workload.err).toContain("flood");
  });
});

/** The peer harness (bench/peer/harness.ts) with the chat driver, against a running server. */
async function peerHarness(port: number, pid: number, env: Record<string, string>, ...args: string[]) {
  const proc = track(
    Bun.spawn(
      [
        process.execPath,
        HARNESS,
        "--driver",
        "chat",
        "--port",
        String(port),
        "--pid",
        String(pid),
        "--quiet",
        "--max-seconds",
        "60",
        ...args,
      ],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } },
    ),
  );
  const timer = setTimeout(() => proc.kill("SIGKILL"), 90_000);
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  const line = out.trim().split("\n").at(-1) ?? "";
  return { code, err, result: line.startsWith("{") ? (JSON.parse(line) as Record<string, unknown>) : {} };
}

describe("the peer harness's chat driver", () => {
  test("relay with client_msg_id: every message acked and delivered once, in order, every delivery confirmed", async () => {
    const server = await startServer(ONE_ADDRESS);
    const { code, err, result } = await peerHarness(
      server.port,
      server.proc.pid,
      {},
      "--workload",
      "relay",
      "--pairs",
      "3",
      "--count",
      "700",
    );
    expect({ code, err: code ? err : "" }).toEqual({ code: 0, err: "" });
    expect(result).toMatchObject({
      driver: "chat",
      sent: 2100,
      acked: 2100,
      delivered: 2100,
      lost: 0,
      order_errors: 0,
    });
    for (const name of ["recv0", "recv2"]) {
      const c = await RawClient.open(server.port);
      expect(await c.request({ opcode: Op.LOG_IN, sender: name, password: "bench password" })).toMatchObject({
        status: Status.OK,
        unread: 0,
      });
      c.close();
    }
    await server.stop();
    // The ids reached the server, which remembered only the last 128 of each sender.
    expect(idRecords(server.dataFile)).toEqual({ send0: 128, send1: 128, send2: 128 });
    // Every receipt was pushed to its sender and confirmed before it left.
    expect(waitingReceipts(server.dataFile)).toBe(0);
  });

  test("offline, with and without ids: the queued backlog is drained whole, in order", async () => {
    for (const ids of ["1", "0"]) {
      const server = await startServer([
        ...ONE_ADDRESS,
        "--max-queued",
        "5000",
        "--max-queued-per-sender",
        "5000",
      ]);
      const { code, err, result } = await peerHarness(
        server.port,
        server.proc.pid,
        { CHAT_MSG_IDS: ids },
        "--workload",
        "offline",
        "--messages",
        "3000",
      );
      expect({ code, err: code ? err : "" }).toEqual({ code: 0, err: "" });
      expect(result).toMatchObject({
        messages: 3000,
        acked: 3000,
        delivered: 3000,
        lost: 0,
        order_errors: 0,
      });
      await server.stop();
      expect(idRecords(server.dataFile)).toEqual(ids === "1" ? { send0: 128 } : {});
    }
  });

  test("conns: the users are set up in a first connect, then all log in again and stay idle", async () => {
    // As bench/peer/run-peers.sh starts it: many accounts from one address, a cheap hash.
    const server = await startServer([
      "--accounts-per-address",
      "1000",
      "--argon2-memory-kib",
      "256",
      "--argon2-time",
      "1",
    ]);
    const { code, err, result } = await peerHarness(
      server.port,
      server.proc.pid,
      {},
      "--workload",
      "conns",
      "--conns",
      "60",
    );
    expect({ code, err: code ? err : "" }).toEqual({ code: 0, err: "" });
    expect(result).toMatchObject({ conns: 60, connect_errors: 0, dropped: 0 });
    expect(typeof result.bytes_per_conn).toBe("number");
    await server.stop();
    // Each user's account was made once, by the setup connect.
    const db = new Database(server.dataFile, { readonly: true });
    const { n } = db.query("SELECT count(*) AS n FROM accounts WHERE name LIKE 'recv%'").get() as {
      n: number;
    };
    db.close();
    expect(n).toBe(60);
  });
});

describe("chat bench over WebSocket and against several nodes", () => {
  test("--transport ws: the started server serves /ws and every workload's figures hold", async () => {
    const relay = await bench(
      "relay",
      "--transport",
      "ws",
      "--pairs",
      "4",
      "--count",
      "1000",
      "--data",
      ":memory:",
    );
    expect(relay.code).toBe(0);
    expect(relay.result).toMatchObject({
      workload: "relay",
      transport: "ws",
      sent: 4000,
      answered: 4000,
      delivered: 4000,
      refused: 0,
      lost: 0,
      order_errors: 0,
    });
    const light = await bench("light", "--transport", "ws", "--count", "300", "--data", ":memory:");
    expect(light.result).toMatchObject({ transport: "ws", pairs: 1, window: 1, delivered: 300, lost: 0 });
    const offline = await bench("offline", "--transport", "ws", "--messages", "2000");
    expect(offline.result).toMatchObject({
      transport: "ws",
      answered: 2000,
      delivered: 2000,
      refused: 0,
      lost: 0,
      order_errors: 0,
    });
  });

  test("--transport ws against a running server's web port: ids sent, every delivery confirmed", async () => {
    const server = await startServer(["--web-port", "0", ...ONE_ADDRESS]);
    await server.out.find((l) => /web client on port \d+/.test(l), "the web port line");
    const webPort = webPortOf(server.out.all);
    const { code, result } = await bench(
      "relay",
      "--transport",
      "ws",
      "--host",
      `127.0.0.1:${webPort}`,
      "--pid",
      String(server.proc.pid),
      "--pairs",
      "2",
      "--count",
      "400",
    );
    expect(code).toBe(0);
    expect(result).toMatchObject({
      transport: "ws",
      store: "remote",
      delivered: 800,
      lost: 0,
      order_errors: 0,
    });
    expect(result.server_rss_mb).toBeGreaterThan(0);
    // Nothing waits for the receivers: the bench ACKed every delivery over WebSocket.
    for (const name of ["recv0", "recv1"]) {
      const c = await RawClient.open(server.port);
      const r = await c.request({ opcode: Op.LOG_IN, sender: name, password: "bench password" });
      expect(r).toMatchObject({ status: Status.OK, unread: 0 });
      c.close();
    }
    // The TCP port given for WebSocket: a clear error, not a hang.
    const wrong = await bench(
      "relay",
      "--transport",
      "ws",
      "--host",
      `127.0.0.1:${server.port}`,
      "--count",
      "1",
    );
    expect(wrong.code).toBe(1);
    expect(String(wrong.result.error)).toContain(
      "the answer is not HTTP (a chat TCP port, not a --web-port?)",
    );
    await server.stop();
    expect(idRecords(server.dataFile)).toEqual({ send0: 128, send1: 128 });
  });

  // Two nodes of one service would need cross-node presence, which the Redis store does not
  // have yet (docs/CLUSTER.md): one node under two addresses stands in for two.
  test("two --host nodes: clients spread over both, figures per node, one process counted once", async () => {
    const server = await startQuietServer(["--data", ":memory:", ...ONE_ADDRESS]);
    const pid = String(server.proc.pid);
    const { code, result } = await bench(
      "relay",
      "--host",
      `127.0.0.1:${server.port},localhost:${server.port}`,
      "--pid",
      `${pid},${pid}`,
      "--pairs",
      "4",
      "--warmup",
      "0",
      "--duration",
      "1",
    );
    expect(code).toBe(0);
    expect(result).toMatchObject({
      store: "remote",
      lost: 0,
      order_errors: 0,
      refused: 0,
      nodes: 2,
      node0: `127.0.0.1:${server.port}`,
      node1: `localhost:${server.port}`,
      node0_clients: 4,
      node1_clients: 4,
    });
    expect(result.delivered).toBeGreaterThan(0);
    expect(result.node0_cpu_pct).toBeGreaterThan(0);
    expect(result.node1_rss_mb).toBeGreaterThan(0);
    // The same process behind both addresses: its CPU is not counted twice in the total.
    expect(Math.abs((result.server_cpu_pct as number) - (result.node0_cpu_pct as number))).toBeLessThan(3);
    expect(server.proc.exitCode).toBeNull();
  });
});

describe("the runtime's floor for chat's protocol (bench/bun-chat-floor.ts)", () => {
  test("serves the harness's chat driver: every message answered, delivered once in order, receipts or not", async () => {
    const FLOOR = join(import.meta.dir, "../../bench/bun-chat-floor.ts");
    for (const mode of [[], ["no-receipts"]]) {
      const proc = track(
        Bun.spawn([process.execPath, FLOOR, "0", ...mode], { stdout: "ignore", stderr: "pipe" }),
      );
      const reader = proc.stderr.getReader();
      let text = "";
      while (!/listening on 127\.0\.0\.1:\d+\n/.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the floor server ended before listening: ${text}`);
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const port = Number(/:(\d+)\n/.exec(text)![1]);
      const { code, err, result } = await peerHarness(
        port,
        proc.pid,
        {},
        "--workload",
        "relay",
        "--pairs",
        "2",
        "--count",
        "500",
      );
      expect({ mode, code, err: code ? err : "" }).toEqual({ mode, code: 0, err: "" });
      expect(result).toMatchObject({ sent: 1000, acked: 1000, delivered: 1000, lost: 0, order_errors: 0 });
      proc.kill();
      await proc.exited;
    }
  });
});
