// The binary as a command: help, version, usage errors, start-up messages and shutdown.

import { describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { loggedIn, runChat, startServer } from "./harness";

const run = (...args: string[]) => runChat(args);

describe("chat as a command", () => {
  test("--version and --help", async () => {
    const version = await run("--version");
    expect(version).toMatchObject({ code: 0, out: `${(await Bun.file("package.json").json()).version}\n` });
    const help = await run("--help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("serve");
    expect(help.out).toContain("connect");
    const serveHelp = await run("serve", "--help");
    for (const flag of [
      "--port",
      "--host",
      "--data",
      "--tls-cert",
      "--heartbeat",
      "--max-frame-bytes",
      "--metrics-port",
    ]) {
      expect(serveHelp.out).toContain(flag);
    }
    expect((await run("connect", "--help")).out).toContain("--no-reconnect");
  });

  test("usage errors exit 2 with a specific message", async () => {
    expect(await run()).toMatchObject({ code: 2 });
    const unknown = await run("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "frobnicate"');
    const badFlag = await run("serve", "--prot", "9000");
    expect(badFlag.code).toBe(2);
    expect(badFlag.err).toContain("unknown option --prot");
    const badPort = await run("connect", "localhost", "http");
    expect(badPort.code).toBe(2);
    expect(badPort.err).toContain('port must be a port number (1-65535); got "http"');
    const badDuration = await run("serve", "--heartbeat", "soon");
    expect(badDuration.code).toBe(2);
    expect(badDuration.err).toContain("--heartbeat wants a duration");
  });

  test("serve prints where clients can reach it and where the data lives", async () => {
    const server = await startServer(["--host", "0.0.0.0"]);
    const reachable = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal && a.family === "IPv4")
      .map((a) => `${a!.address}:${server.port}`);
    await server.out.find((l) => l.includes("data: sqlite"), "the data line");
    const text = server.out.all.join("\n");
    for (const address of reachable) expect(text).toContain(address);
    if (!reachable.length) expect(text).toContain(`127.0.0.1:${server.port}`);
    expect(text).toContain(`data: sqlite ${server.dataFile}`);
    expect(await server.stop("SIGTERM")).toBe(0);
  });

  test("a port already in use is a clear start-up error", async () => {
    const first = await startServer();
    const { out, err, code } = await run(
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      String(first.port),
      "--data",
      ":memory:",
    );
    expect(code).toBe(1);
    expect(out + err).toContain(`port ${first.port} is already in use on 127.0.0.1:${first.port}`);
    await first.stop();
  });

  test("Ctrl+C stops the server promptly with clients connected; they are told", async () => {
    const server = await startServer();
    const alice = await loggedIn(server.port, "alice", "correct horse", ["--no-reconnect"]);
    const started = Date.now();
    const code = await server.stop("SIGINT");
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await alice.exited).toBe(1);
    const notice = await alice.waitFor((e) => e.type === "notice", "shutdown notice");
    expect(notice).toMatchObject({
      status: "SHUTTING_DOWN",
      msg: "the server is shutting down; try again later",
    });
    expect(server.out.all.join("\n")).toContain("server stopped");
  });
});
