import { describe, expect, test } from "bun:test";
import { COMMAND_WORDS, type Command, HELP, parseCommand } from "../../src/client/commands";

describe("HELP", () => {
  test("every line fits an 80-column terminal", () => {
    for (const l of HELP) expect(Bun.stringWidth(l)).toBeLessThan(80);
  });
});

describe("parseCommand", () => {
  test("commands, aliases and menu numbers", () => {
    expect(parseCommand("/create alice")).toEqual({ kind: "create", name: "alice" });
    expect(parseCommand("/login bob")).toEqual({ kind: "login", name: "bob" });
    expect(parseCommand("/send bob hi  there ")).toEqual({ kind: "send", to: "bob", text: "hi  there" });
    expect(parseCommand("/msg bob hi")).toEqual({ kind: "send", to: "bob", text: "hi" });
    expect(parseCommand("/send bob")).toEqual({ kind: "send", to: "bob" });
    expect(parseCommand("/to carol")).toEqual({ kind: "to", name: "carol" });
    expect(parseCommand("/query carol")).toEqual({ kind: "to", name: "carol" });
    expect(parseCommand("/to")).toEqual({ kind: "to" });
    expect(parseCommand("/r thanks!")).toEqual({ kind: "reply", text: "thanks!" });
    expect(parseCommand("/reply ok")).toEqual({ kind: "reply", text: "ok" });
    expect(parseCommand("/who")).toEqual({ kind: "who" });
    expect(parseCommand("/list a*")).toEqual({ kind: "list", pattern: "a*" });
    expect(parseCommand("/LIST")).toEqual({ kind: "list", pattern: "" });
    expect(parseCommand("3")).toEqual({ kind: "send" });
    expect(parseCommand(" 7 ")).toEqual({ kind: "quit" });
    expect(parseCommand("hello there")).toEqual({ kind: "text", text: "hello there" });
    expect(parseCommand("   ")).toEqual({ kind: "empty" });
  });

  test("//text sends a text that starts with /", () => {
    expect(parseCommand("//x")).toEqual({ kind: "text", text: "/x" });
    expect(parseCommand("//shrug ¯\\_(ツ)_/¯")).toEqual({ kind: "text", text: "/shrug ¯\\_(ツ)_/¯" });
  });

  test("a lone slash, or a slash and a space, is explained, not a crash", () => {
    for (const line of ["/", "/ x", "/   ", " / text"]) {
      const c = parseCommand(line);
      expect(c.kind).toBe("invalid");
      expect((c as { error: string }).error).toContain("//text");
    }
  });

  test("invalid names for /create and /to are refused with the reason", () => {
    expect(parseCommand("/create a\u202eb")).toMatchObject({ kind: "invalid" });
    expect((parseCommand("/create a\u202eb") as { error: string }).error).toContain("U+202E");
    expect(parseCommand(`/to ${"x".repeat(26)}`)).toMatchObject({ kind: "invalid" });
    expect(parseCommand("/create two names")).toMatchObject({ kind: "invalid" });
  });

  test("unknown commands are named safely and briefly", () => {
    const c = parseCommand(`/\x1b]0;x\x07${"y".repeat(100)}`) as { kind: string; error: string };
    expect(c.kind).toBe("invalid");
    expect(c.error).not.toMatch(/\p{Cc}/u);
    expect(c.error.length).toBeLessThan(120);
    expect(c.error).toContain("/help");
  });

  test("every command word offered for completion parses to a command", () => {
    for (const word of COMMAND_WORDS) expect(parseCommand(word).kind).not.toBe("invalid");
    for (const word of COMMAND_WORDS) expect(HELP.join("\n")).toContain(word);
  });
});

/** A small deterministic generator (mulberry32), so a failure can be replayed by its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  "/",
  "//",
  " ",
  "\t",
  "\n",
  "\r",
  "\x1b",
  "\x00",
  "\u202e",
  "\u200b",
  "\ufffd",
  "\ud800",
  "1",
  "7",
  "send",
  "create",
  "to",
  "r",
  "bob",
  "é",
  "日",
  "👍",
  "*",
  "?",
  "\\",
  "\x9b",
];

function randomLine(next: () => number): string {
  const n = Math.floor(next() * 12);
  let s = "";
  for (let i = 0; i < n; i++) {
    if (next() < 0.7) s += PIECES[Math.floor(next() * PIECES.length)];
    else s += String.fromCharCode(Math.floor(next() * 0x10000));
  }
  return s;
}

describe("parseCommand on random input (property)", () => {
  test("never throws; gives an action or a one-line explanation", () => {
    const kinds = new Set<Command["kind"]>();
    for (let seed = 1; seed <= 20_000; seed++) {
      const next = rng(seed);
      const line = randomLine(next);
      let c: Command;
      try {
        c = parseCommand(line);
      } catch (error) {
        throw new Error(`seed ${seed}: parseCommand(${JSON.stringify(line)}) threw ${error}`);
      }
      kinds.add(c.kind);
      if (c.kind === "invalid") {
        expect(c.error.length).toBeGreaterThan(0);
        expect(c.error).not.toContain("\n");
      }
    }
    // The generator reaches commands, text and explanations alike.
    for (const k of ["invalid", "text", "empty", "send"] as const) expect(kinds.has(k)).toBe(true);
  });

  test("10,000-character lines and invalid UTF-8 (decoded as U+FFFD) are handled", () => {
    const long = "x".repeat(10_000);
    expect(parseCommand(long)).toEqual({ kind: "text", text: long });
    expect(parseCommand(`/send bob ${long}`)).toMatchObject({ kind: "send", to: "bob" });
    expect(parseCommand(`/${long}`).kind).toBe("invalid");
    const garbled = new TextDecoder().decode(new Uint8Array([0x2f, 0xff, 0xfe, 0x20, 0xc3, 0x28]));
    expect(parseCommand(garbled).kind).toBe("invalid");
    expect(parseCommand(`/send bob ${garbled}`).kind).toBe("send");
  });
});
