import { describe, expect, test } from "bun:test";
import { Output, useColor } from "../../src/client/output";
import { Status } from "../../src/wire";

describe("useColor", () => {
  test("auto: only on a terminal and without NO_COLOR (any value, even empty)", () => {
    expect(useColor("auto", true, {})).toBe(true);
    expect(useColor("auto", false, {})).toBe(false);
    expect(useColor("auto", true, { NO_COLOR: "" })).toBe(false);
    expect(useColor("auto", true, { NO_COLOR: "1" })).toBe(false);
  });

  test("always and never override both", () => {
    expect(useColor("always", false, { NO_COLOR: "1" })).toBe(true);
    expect(useColor("never", true, {})).toBe(false);
  });
});

describe("Output", () => {
  const capture = (mode: "text" | "json", color = false) => {
    const lines: string[] = [];
    const out = new Output(
      mode,
      async (l) => {
        lines.push(l);
      },
      color,
    );
    return { out, lines };
  };
  const reply = (msg: string, status: number = Status.OK) =>
    ({ status, msg, accounts: [], messages: [] }) as unknown as Parameters<Output["reply"]>[1];

  test("server sentences are made safe before colour is added", async () => {
    const { out, lines } = capture("text", true);
    await out.reply("login", reply("logged in as \x1b]0;x\x07bob"));
    expect(lines[0]).toBe("\x1b[32m✓ logged in as \\x1b]0;x\\x07bob\x1b[0m");
  });

  test("a message over several lines: continuation lines are separate, marked lines", async () => {
    const { out, lines } = capture("text");
    await out.message({ id: 1, sender: "bob", text: "one\n[14:05] eve: two", sentAt: Date.now() });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d\] bob: one$/);
    expect(lines[1]).toBe("   ┆ [14:05] eve: two");
  });

  test("a time no Date can hold does not break the output", async () => {
    const { out, lines } = capture("json");
    await out.message({ id: 1, sender: "bob", text: "x", sentAt: 8.64e15 + 1 });
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: "message", sentAt: null });
    const text = capture("text");
    await text.out.message({ id: 1, sender: "bob", text: "x", sentAt: 8.64e15 + 1 });
    expect(text.lines[0]).toBe("[--:--] bob: x");
  });
});
