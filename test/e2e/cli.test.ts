// The binary as a command: help, version, usage errors, start-up messages and shutdown.

import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { Status } from "../../src/wire";
import { track } from "../processes";
import { BIN, loggedIn, RawClient, runChat, startServer, tempDir } from "./harness";

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

describe("options through the binary", () => {
  test("a flag missing its value is a one-line usage error, never a value of the next flag", async () => {
    const dir = tempDir();
    for (const args of [
      ["serve", "--port"],
      ["serve", "--port="],
      ["serve", "--data", "--port", "21091"],
    ]) {
      const r = await runChat(args, { prefix: ["env", "-C", dir] });
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      expect(r.err.trimEnd().split("\n")).toEqual([
        expect.stringMatching(/^chat serve: --\w+ needs a value.*; see chat serve --help$/),
      ]);
    }
    expect(readdirSync(dir)).toEqual([]); // no data file named ./--port
    for (const [args, message] of [
      [["serve", "--port", "65536"], '--port must be a port number (0-65535); got "65536"'],
      [
        ["serve", "--heartbeat", "5x"],
        '--heartbeat wants a duration such as 500ms, 15s, 2m or 24h; got "5x"',
      ],
      [["serve", "--max-data-mb", "-5"], '--max-data-mb wants a whole number of at least 0; got "-5"'],
      [["serve", "--prot", "9000"], "unknown option --prot (did you mean --port?)"],
    ] as const) {
      expect(await run(...args)).toEqual({
        code: 2,
        out: "",
        err: `chat serve: ${message}; see chat serve --help\n`,
      });
    }
  });

  test("chat help [command], chat <command> --version, help within 80 columns", async () => {
    const version = `${(await Bun.file("package.json").json()).version}\n`;
    for (const c of ["serve", "connect", "bench"]) {
      expect(await run(c, "--version")).toMatchObject({ code: 0, out: version });
      const help = await run("help", c);
      expect(help.code).toBe(0);
      expect(help.out).toBe((await run(c, "--help")).out);
      expect(help.out.split("\n").filter((l) => [...l].length > 80)).toEqual([]);
    }
    expect((await run("help", "serve")).out).toContain("[CHAT_PORT]");
  });

  test("--print-config: flag > environment > config file > default, and where each came from", async () => {
    const dir = tempDir();
    const config = join(dir, "chat.toml");
    writeFileSync(config, 'port = 7000\nhost = "127.0.0.1"\nsync = "full"\n\nheartbeat = "20s"\n');
    const r = await runChat(["serve", "--config", config, "--print-config", "--heartbeat", "30s"], {
      prefix: ["env", "CHAT_PORT=7001", "CHAT_SYNC=", "CHAT_LOG_FORMAT=json"],
    });
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/^port = 7001 +# from CHAT_PORT$/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^host = "127\.0\.0\.1" +# from .*chat\.toml line 2$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^sync = "full" +# from .*chat\.toml line 3$/));
    expect(lines).toContainEqual(expect.stringMatching(/^heartbeat = "30s" +# from --heartbeat$/));
    expect(lines).toContainEqual(expect.stringMatching(/^log-format = "json" +# from CHAT_LOG_FORMAT$/));
    expect(lines).toContainEqual(expect.stringMatching(/^# max-queued +\(default: \d+\)$/));

    writeFileSync(config, "port = 7000\n\nmax_queued = 5\n");
    expect(await run("serve", "--config", config)).toEqual({
      code: 2,
      out: "",
      err: `chat serve: ${config} line 3: unknown key "max_queued" (did you mean max-queued?); see chat serve --help\n`,
    });
  });

  test("a server configured by file and environment runs with those options", async () => {
    const dir = tempDir();
    const config = join(dir, "chat.toml");
    writeFileSync(config, `host = "127.0.0.1"\nport = 0\ndata = ${JSON.stringify(join(dir, "chat.db"))}\n`);
    const proc = track(
      Bun.spawn([BIN, "serve"], {
        env: { ...process.env, CHAT_CONFIG: config, CHAT_LOG_FORMAT: "json" },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const reader = proc.stdout.getReader();
    let text = "";
    const deadline = Date.now() + 10_000;
    while (!text.includes("clients can connect to") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const lines = text
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
    const listening = lines.find((o) => /listening on port \d+/.test(o.msg));
    expect(listening).toMatchObject({ level: "info", time: expect.any(String) });
    const port = Number(/listening on port (\d+)/.exec(listening.msg)![1]);
    expect(port).toBeGreaterThan(0);
    expect(lines.find((o) => String(o.msg).startsWith("clients can connect to"))?.msg).toBe(
      `clients can connect to: 127.0.0.1:${port}`,
    );
    const c = await RawClient.open(port);
    expect((await c.login("alice")).status).toBe(Status.OK);
    c.close();
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(readdirSync(dir).sort()).toContain("chat.db");
  });
});
