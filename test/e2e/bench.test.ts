// `chat bench` as a user runs it: every workload completes on small counts, and its own
// correctness figures hold (nothing lost, nothing out of order, no errors). Speed is what
// the benchmarks report; these tests assert none.

import { describe, expect, test } from "bun:test";
import { runChat, startQuietServer } from "./harness";

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

  test("offline: everything queued for an absent receiver is drained", async () => {
    const { code, result } = await bench("offline", "--messages", "3000");
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
    });
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
    const server = await startQuietServer(["--data", ":memory:"]);
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
