// /metrics of the compiled binary: where it listens, the standard process metrics and
// chat_build_info, and the exposition rules `promtool check metrics` applies.

import { describe, expect, test } from "bun:test";
import { Op } from "../../src/wire";
import { lintExposition } from "../core/exposition";
import { RawClient, runChat, serverLine, startServer } from "./harness";

async function metricsUrl(server: Parameters<typeof serverLine>[0]): Promise<string> {
  const line = await serverLine(server, (l) => l.includes("metrics: http"), "the metrics line");
  return /(http:\/\/\S+\/metrics)/.exec(line)![1]!;
}

describe("metrics", () => {
  test("listen on 127.0.0.1 by default, whatever --host says", async () => {
    const server = await startServer(["--host", "::1", "--metrics-port", "0"]);
    const url = await metricsUrl(server);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await fetch(url)).status).toBe(200);
  });

  test("--metrics-host chooses the address", async () => {
    const server = await startServer(["--metrics-port", "0", "--metrics-host", "::1"]);
    const url = await metricsUrl(server);
    expect(url).toMatch(/^http:\/\/\[::1\]:\d+\/metrics$/);
    expect((await fetch(url)).status).toBe(200);
  });

  test("pass the exposition rules and carry process metrics and the build info", async () => {
    const before = Date.now() / 1000;
    const server = await startServer(["--metrics-port", "0"]);
    const url = await metricsUrl(server);
    const c = await RawClient.open(server.port);
    await c.login("alice", "correct horse");
    await c.request({ opcode: Op.SEND_MESSAGE, receiver: "nobody", msg: "hi" });
    const text = await (await fetch(url)).text();
    expect(lintExposition(text)).toEqual([]);
    const value = (name: string) => {
      const m = new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text);
      if (!m) throw new Error(`no ${name} in:\n${text}`);
      return Number(m[1]);
    };
    const version = (await runChat(["--version"])).out.trim();
    expect(value(`chat_build_info{version="${version}"}`)).toBe(1);
    expect(value("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(value("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
    expect(value("process_open_fds")).toBeGreaterThanOrEqual(3);
    expect(value("process_max_fds")).toBeGreaterThanOrEqual(value("process_open_fds"));
    const started = value("process_start_time_seconds");
    expect(started).toBeGreaterThan(before - 5);
    expect(started).toBeLessThanOrEqual(Date.now() / 1000);
    expect(value('chat_errors_total{status="NO_SUCH_ACCOUNT"}')).toBe(1);
  });
});
