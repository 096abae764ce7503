// The argument parser: values, flags missing their value, unknown options, positionals.

import { describe, expect, test } from "bun:test";
import type { ArgsDef } from "citty";
import { asks, parseArgs } from "../../src/cli/args";
import { UsageError } from "../../src/cli/parse";

const defs = {
  host: { type: "positional", required: false, description: "host" },
  port: { type: "string", alias: "p", description: "port" },
  data: { type: "string", description: "data" },
  json: { type: "boolean", description: "json" },
  reconnect: { type: "boolean", default: true, description: "reconnect" },
  "server-arg": { type: "string", multiple: true, description: "repeatable" },
  "log-format": { type: "enum", options: ["text", "json"], description: "format" },
} as ArgsDef;

const parse = (...argv: string[]) => parseArgs(defs, argv);
const error = (...argv: string[]) => {
  try {
    parse(...argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as UsageError).message;
  }
  throw new Error(`no usage error for ${argv.join(" ")}`);
};

describe("parseArgs", () => {
  test("values in every spelling", () => {
    expect(parse("--port", "9000")).toMatchObject({ port: "9000" });
    expect(parse("--port=9000")).toMatchObject({ port: "9000" });
    expect(parse("-p", "9000")).toMatchObject({ port: "9000" });
    expect(parse("-p9000")).toMatchObject({ port: "9000" });
    expect(parse("-p=9000")).toMatchObject({ port: "9000" });
    expect(parse("--data=--odd")).toMatchObject({ data: "--odd" });
    expect(parse("--data", "-")).toMatchObject({ data: "-" });
    expect(parse("--port", "1", "--port", "2")).toMatchObject({ port: "2" });
    expect(parse("--server-arg=--a=1", "--server-arg", "x")).toMatchObject({ "server-arg": ["--a=1", "x"] });
    expect(parse("--log-format", "json")).toMatchObject({ "log-format": "json" });
  });

  test("negative numbers are values, so the value check can refuse them", () => {
    expect(parse("--port", "-5")).toMatchObject({ port: "-5" });
    expect(parse("--port", "-.5")).toMatchObject({ port: "-.5" });
  });

  test("booleans, their negation and defaults", () => {
    expect(parse()).toEqual({ _: [], reconnect: true });
    expect(parse("--json", "--no-reconnect")).toMatchObject({ json: true, reconnect: false });
    expect(parse("--json=false")).toMatchObject({ json: false });
    expect(error("--json=yes")).toBe('--json takes no value; got "yes"');
    expect(error("--no-json=true")).toBe('--no-json takes no value; got "true"');
  });

  test("a flag missing its value is an error, never the next flag taken as the value", () => {
    expect(error("--port")).toBe("--port needs a value");
    expect(error("--port=")).toBe("--port needs a value, not an empty one");
    expect(error("--port", "")).toBe("--port needs a value, not an empty one");
    expect(error("--data", "--port", "21091")).toBe("--data needs a value, but --port follows it");
    expect(error("--data", "-p", "21091")).toBe("--data needs a value, but -p follows it");
    expect(error("--data", "--")).toBe("--data needs a value, but -- follows it");
    expect(error("-p")).toBe("-p needs a value");
  });

  test("unknown options are named, with the nearest known one", () => {
    expect(error("--prot", "9000")).toBe("unknown option --prot (did you mean --port?)");
    expect(error("--jsno")).toBe("unknown option --jsno (did you mean --json?)");
    expect(error("--frobnicate=1")).toBe("unknown option --frobnicate");
    expect(error("-x")).toBe("unknown option -x");
    expect(error("--no-port")).toBe("unknown option --no-port"); // only booleans have a --no- form
    // A hostile or binary option name is shown short and escaped.
    const long = error(`--${"\u001b[2J".repeat(1000)}`);
    expect(long.length).toBeLessThan(120);
    expect(long).toContain("\\u001b");
    expect(long).not.toContain("\u001b");
  });

  test("enum options check their value", () => {
    expect(error("--log-format", "xml")).toBe('--log-format must be one of text, json; got "xml"');
  });

  test("positionals fill in order; a surplus one is an error; -- ends the options", () => {
    expect(parse("example.org")).toMatchObject({ host: "example.org", _: ["example.org"] });
    expect(error("a", "b")).toBe('unexpected argument "b"');
    expect(parse("--", "--json")).toMatchObject({ host: "--json" });
    expect(parse("--", "--json").json).toBeUndefined();
  });

  test("required options and positionals", () => {
    const strict = {
      file: { type: "positional", description: "file" },
      key: { type: "string", required: true, description: "key" },
    } as ArgsDef;
    expect(() => parseArgs(strict, ["--key", "k"])).toThrow("FILE is missing");
    expect(() => parseArgs(strict, ["f"])).toThrow("--key is required");
    expect(parseArgs(strict, ["f", "--key", "k"])).toMatchObject({ file: "f", key: "k" });
  });

  test("asks: --help and --version before --", () => {
    expect(asks(["--port", "1", "--help"], ["--help", "-h"])).toBe(true);
    expect(asks(["--", "--help"], ["--help", "-h"])).toBe(false);
    expect(asks(["--port", "1"], ["--help", "-h"])).toBe(false);
  });
});
