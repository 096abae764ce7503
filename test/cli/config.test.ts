// Options from flags, environment and a TOML file: precedence, errors that point at the
// right place, and --print-config.

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "../../src/cli/args";
import { configArgs, envName, layer, parseConfig } from "../../src/cli/config";
import { UsageError } from "../../src/cli/parse";
import { formatConfig } from "../../src/cli/print-config";
import { serveArgs } from "../../src/cli/serve";
import { configureServe } from "../../src/cli/serve-config";
import { tempDir } from "../e2e/harness";

const flags = (...argv: string[]) => parseArgs({ ...serveArgs, ...configArgs }, argv);
const file = (text: string) => parseConfig(text, "chat.toml", serveArgs);
function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error("no usage error");
}

describe("names", () => {
  test("the environment variable is derived from the flag", () => {
    expect(envName("port")).toBe("CHAT_PORT");
    expect(envName("max-data-mb")).toBe("CHAT_MAX_DATA_MB");
    expect(envName("login-failures-per-account")).toBe("CHAT_LOGIN_FAILURES_PER_ACCOUNT");
  });
});

describe("precedence: flag > environment > file > default", () => {
  const config = file('port = 7000\nhost = "10.0.0.1"\ndata = "file.db"\nheartbeat = 5\n');
  const env = { CHAT_PORT: "7001", CHAT_HOST: "10.0.0.2" };

  test("each source wins over the ones below it", () => {
    const l = layer(serveArgs, flags("--port", "7002"), env, config);
    expect(l.values).toMatchObject({ port: "7002", host: "10.0.0.2", data: "file.db", heartbeat: "5" });
    expect(l.origins.port).toEqual({ kind: "flag" });
    expect(l.origins.host).toEqual({ kind: "env", name: "CHAT_HOST" });
    expect(l.origins.data).toEqual({ kind: "file", file: "chat.toml", line: 3 });
    expect(l.origins.heartbeat).toEqual({ kind: "file", file: "chat.toml", line: 4 });
    expect(l.origins.sync).toEqual({ kind: "default" });
    expect(l.values.sync).toBeUndefined();
  });

  test("an empty environment variable counts as unset", () => {
    const l = layer(serveArgs, flags(), { CHAT_PORT: "", CHAT_HOST: "" }, config);
    expect(l.values).toMatchObject({ port: "7000", host: "10.0.0.1" });
  });

  test("booleans from the environment; --no- on the command line beats them", () => {
    const on = layer(serveArgs, flags(), { CHAT_RESET_CORRUPT_DATA: "yes" });
    expect(on.values["reset-corrupt-data"]).toBe(true);
    expect(layer(serveArgs, flags(), { CHAT_RESET_CORRUPT_DATA: "0" }).values["reset-corrupt-data"]).toBe(
      false,
    );
    const off = layer(serveArgs, flags("--no-reset-corrupt-data"), { CHAT_RESET_CORRUPT_DATA: "1" });
    expect(off.values["reset-corrupt-data"]).toBe(false);
    expect(usageError(() => layer(serveArgs, flags(), { CHAT_RESET_CORRUPT_DATA: "maybe" }))).toBe(
      'CHAT_RESET_CORRUPT_DATA wants true or false (or 1, 0, yes, no); got "maybe"',
    );
  });

  test("the effective options are what serve uses", () => {
    const dir = tempDir();
    const path = join(dir, "chat.toml");
    writeFileSync(path, 'port = 7000\nheartbeat = "2s"\nlog-format = "json"\n');
    const c = configureServe(flags("--config", path, "--heartbeat", "3s"), { CHAT_PORT: "7001" });
    expect(c.values).toMatchObject({ port: "7001", heartbeat: "3s", "log-format": "json" });
    expect(c.file).toBe(path);
    // CHAT_CONFIG names the file when --config does not.
    expect(configureServe(flags(), { CHAT_CONFIG: path }).values.port).toBe("7000");
  });
});

describe("the config file", () => {
  test("unknown keys are errors naming the key and its line", () => {
    expect(usageError(() => file("port = 1\n\n# a comment\nprot = 3\n"))).toBe(
      'chat.toml line 4: unknown key "prot" (did you mean port?)',
    );
    expect(usageError(() => file("max_data_mb = 3\n"))).toBe(
      'chat.toml line 1: unknown key "max_data_mb" (did you mean max-data-mb?)',
    );
    expect(usageError(() => file("port = 1\n[server]\nport = 2\n"))).toBe(
      'chat.toml line 2: unknown key "server"',
    );
    expect(usageError(() => file("port = 1\nserver.port = 2\n"))).toBe(
      'chat.toml line 2: unknown key "server"',
    );
    // The options about the configuration itself do not belong in it.
    expect(usageError(() => file('config = "other.toml"\n'))).toBe('chat.toml line 1: unknown key "config"');
  });

  test("wrong types are errors naming the key and its line", () => {
    expect(usageError(() => file('port = 1\nreset-corrupt-data = "yes"\n'))).toBe(
      "chat.toml line 2: reset-corrupt-data wants true or false; got a string",
    );
    expect(usageError(() => file("port = true\n"))).toBe(
      "chat.toml line 1: port wants a string or a number; got a boolean",
    );
    expect(usageError(() => file("port = [1, 2]\n"))).toBe(
      "chat.toml line 1: port wants a string or a number; got an array",
    );
    expect(usageError(() => file('data = ""\n'))).toBe(
      "chat.toml line 1: data is empty; leave it out for the default",
    );
  });

  test("a value that does not parse names the key and its line", () => {
    const dir = tempDir();
    const path = join(dir, "bad.toml");
    writeFileSync(path, 'port = 7000\n\nheartbeat = "5x"\n');
    expect(usageError(() => configureServe(flags("--config", path), {}))).toBe(
      `heartbeat in ${path} line 3 wants a duration such as 500ms, 15s, 2m or 24h; got "5x"`,
    );
    writeFileSync(path, "port = 99999\n");
    expect(usageError(() => configureServe(flags("--config", path), {}))).toBe(
      `port in ${path} line 1 must be a port number (0-65535); got "99999"`,
    );
    expect(usageError(() => configureServe(flags(), { CHAT_MAX_QUEUED: "lots" }))).toBe(
      'CHAT_MAX_QUEUED wants a whole number of at least 1; got "lots"',
    );
  });

  test("TOML syntax errors say which line", () => {
    expect(usageError(() => file('port = 1\nhost = "a"\nheartbeat = \nsync = "full"\n'))).toBe(
      "chat.toml line 3: not valid TOML: Missing value after '='; values must be on the same line",
    );
    expect(usageError(() => file("port = 1\nhost = 'a'\nport = 2\n"))).toMatch(
      /^chat\.toml line 3: not valid TOML: /,
    );
  });

  test("a missing file is a clear error", () => {
    expect(usageError(() => configureServe(flags("--config", "/nonexistent/chat.toml"), {}))).toBe(
      "cannot read config file /nonexistent/chat.toml: ENOENT",
    );
    expect(usageError(() => configureServe(flags(), { CHAT_CONFIG: "/nonexistent/chat.toml" }))).toBe(
      "cannot read config file /nonexistent/chat.toml: ENOENT (from CHAT_CONFIG)",
    );
  });
});

describe("--print-config", () => {
  test("every option, its value and where it came from, as TOML", () => {
    const l = layer(
      serveArgs,
      flags("--port", "7002"),
      { CHAT_DATA: "/srv/chat.db" },
      file("sync = 'full'\n"),
    );
    const text = formatConfig(serveArgs, l);
    const lines = text.split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/^port = 7002 +# from --port$/));
    expect(lines).toContainEqual(expect.stringMatching(/^data = "\/srv\/chat\.db" +# from CHAT_DATA$/));
    expect(lines).toContainEqual(expect.stringMatching(/^sync = "full" +# from chat\.toml line 1$/));
    expect(lines).toContainEqual(expect.stringMatching(/^# heartbeat +\(default: 15s\)$/));
    for (const name of Object.keys(serveArgs)) expect(text).toMatch(new RegExp(`^#? ?${name} `, "m"));
    // The set lines are valid TOML with the same values.
    const set = Bun.TOML.parse(lines.filter((x) => !x.startsWith("#")).join("\n"));
    expect(set).toEqual({ port: 7002, data: "/srv/chat.db", sync: "full" });
  });

  test("a password in a redis:// --data is not printed", () => {
    const l = layer(serveArgs, flags("--data", "redis://chat:s3cret@127.0.0.1:6379/0"), {}, file(""));
    const text = formatConfig(serveArgs, l);
    expect(text).toContain('data = "redis://chat:***@127.0.0.1:6379/0"');
    expect(text).not.toContain("s3cret");
  });
});

describe("defaults declared in an ArgsDef", () => {
  test("stay below the environment and the file", () => {
    const defs = {
      ...serveArgs,
      compress: { type: "boolean", default: true, description: "x" },
      mode: { type: "string", default: "fast", description: "y" },
    } as const;
    const parsed = parseArgs(defs, []);
    expect(parsed).toMatchObject({ compress: true, mode: "fast" });
    const l = layer(defs, parsed, { CHAT_COMPRESS: "0" }, parseConfig('mode = "slow"\n', "f.toml", defs));
    expect(l.values).toMatchObject({ compress: false, mode: "slow" });
    expect(l.origins).toMatchObject({ compress: { kind: "env" }, mode: { kind: "file" } });
    const none = layer(defs, parsed, {});
    expect(none.values).toMatchObject({ compress: true, mode: "fast" });
    expect(none.origins.compress).toEqual({ kind: "default" });
    expect(layer(defs, parseArgs(defs, ["--no-compress"]), { CHAT_COMPRESS: "1" }).values.compress).toBe(
      false,
    );
  });
});
