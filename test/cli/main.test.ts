// runCli as a user meets it: exit codes, one-line usage errors, help and version.

import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { runCli } from "../../src/main";
import { VERSION } from "../../src/version";

let out: string[] = [];
let err: string[] = [];
let spies: { mockRestore(): void }[] = [];

beforeEach(() => {
  out = [];
  err = [];
  spies = [
    spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" "))),
    spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" "))),
  ];
});
afterEach(() => {
  for (const s of spies) s.mockRestore();
});

async function run(...args: string[]) {
  out = [];
  err = [];
  const code = await runCli(args);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A usage error: exit 2, nothing on stdout, exactly one line on stderr. */
async function usage(args: string[], message: string, help = `chat ${args[0]} --help`) {
  const r = await run(...args);
  expect(r).toEqual({
    code: 2,
    out: "",
    err: `${args[0] === "help" ? "chat help" : `chat ${args[0]}`}: ${message}; see ${help}`,
  });
}

describe("usage errors: exit 2, one line, what is wrong and where the help is", () => {
  test("a flag missing its value", async () => {
    await usage(["serve", "--port"], "--port needs a value");
    await usage(["serve", "--port="], "--port needs a value, not an empty one");
    await usage(["serve", "--data", "--port", "21091"], "--data needs a value, but --port follows it");
    await usage(["connect", "--ca"], "--ca needs a value");
  });

  test("values that do not parse", async () => {
    await usage(["serve", "--port", "65536"], '--port must be a port number (0-65535); got "65536"');
    await usage(["serve", "--port", "-1"], '--port must be a port number (0-65535); got "-1"');
    await usage(
      ["serve", "--heartbeat", "5x"],
      '--heartbeat wants a duration such as 500ms, 15s, 2m or 24h; got "5x"',
    );
    await usage(["serve", "--heartbeat", "0"], '--heartbeat must be more than zero; got "0"');
    await usage(["serve", "--max-queued", "-5"], '--max-queued wants a whole number of at least 1; got "-5"');
    await usage(
      ["serve", "--max-frame-bytes", "12"],
      "--max-frame-bytes must be between 1024 and 16777216; got 12",
    );
    await usage(["serve", "--sync", "always"], '--sync must be one of full, normal; got "always"');
    await usage(["connect", "localhost", "0"], 'port must be a port number (1-65535); got "0"');
    await usage(["connect", "localhost", "70000"], 'port must be a port number (1-65535); got "70000"');
    await usage(
      ["connect", "--heartbeat", "soon"],
      '--heartbeat wants a duration such as 500ms, 15s, 2m or 24h; got "soon"',
    );
    await usage(["bench", "--pairs", "0"], "--pairs must be between 1 and 10000; got 0");
    await usage(
      ["bench", "nonsense"],
      'WORKLOAD must be one of relay, light, conns, offline, login; got "nonsense"',
    );
  });

  test("unknown options, commands and surplus arguments", async () => {
    await usage(["serve", "--prot", "9000"], "unknown option --prot (did you mean --port?)");
    await usage(["connect", "localhost", "8080", "extra"], 'unexpected argument "extra"');
    expect(await run("frobnicate")).toEqual({
      code: 2,
      out: "",
      err: 'chat: unknown command "frobnicate"; see chat --help',
    });
    await usage(["help", "frobnicate"], 'unknown command "frobnicate"', "chat --help");
    expect((await run("--port", "9000")).err).toBe(
      'chat: unknown option "--port" (options go after the command, e.g. chat serve --port 9000); see chat --help',
    );
  });

  test("a client-side rule is a usage error too", async () => {
    await usage(["connect", "--insecure"], "--insecure only makes sense with --tls");
  });
});

describe("help and version", () => {
  test("no arguments: the help on stderr, exit 2", async () => {
    const r = await run();
    expect(r.code).toBe(2);
    expect(r.err).toContain("Usage: chat <command>");
  });

  test("chat help, chat --help, chat help <command>, chat <command> --help", async () => {
    const top = await run("help");
    expect(top.code).toBe(0);
    for (const c of ["serve", "connect", "bench", "help"]) expect(top.out).toContain(`  ${c} `);
    expect((await run("--help")).out).toBe(top.out);
    const serve = await run("help", "serve");
    expect(serve.code).toBe(0);
    expect(serve.out).toContain("Usage: chat serve [options]");
    expect(serve.out).toContain("--port <value>");
    expect(serve.out).toContain("[CHAT_PORT]");
    expect(serve.out).toContain("[CHAT_MAX_DATA_MB]");
    expect(serve.out).toContain("--print-config");
    expect((await run("serve", "--help")).out).toBe(serve.out);
    // --help wins over anything else on the line, even a bad value.
    expect((await run("serve", "--port", "x", "-h")).out).toBe(serve.out);
    const connect = await run("help", "connect");
    expect(connect.out).toContain("--no-reconnect");
    expect(connect.out).toContain("[HOST] [PORT]");
  });

  test("every help line fits in 80 columns", async () => {
    for (const args of [["help"], ["help", "serve"], ["help", "connect"], ["help", "bench"]]) {
      await run(...args);
      const lines = out.join("\n").split("\n");
      expect(lines.length).toBeGreaterThan(5);
      expect(lines.filter((l) => [...l].length > 80)).toEqual([]);
    }
  });

  test("--version on its own and after a command", async () => {
    for (const args of [
      ["--version"],
      ["-v"],
      ["serve", "--version"],
      ["connect", "-v"],
      ["bench", "--version"],
    ]) {
      expect(await run(...args)).toEqual({ code: 0, out: VERSION, err: "" });
    }
  });
});

describe("help of a command defined here", () => {
  test("a command's own -v is not taken for --version", async () => {
    const { renderHelp } = await import("../../src/cli/help");
    const text = renderHelp({
      name: "chat x",
      description: "x",
      version: "1",
      args: { verbose: { type: "boolean", alias: "v", description: "More output" } },
    });
    expect(text).toContain("-v, --verbose");
    expect(text).toContain("  --version ");
    expect(text).not.toContain("-v, --version");
  });
});
