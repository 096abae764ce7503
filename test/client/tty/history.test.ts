import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bound, defaultHistoryFile, HistoryFile, withEntry } from "../../../src/client/tty/history";
import { tempDir } from "../../e2e/harness";

describe("history file", () => {
  test("lives in $XDG_STATE_HOME/chat/history, else ~/.local/state/chat/history", () => {
    expect(defaultHistoryFile({ XDG_STATE_HOME: "/s", HOME: "/h" })).toBe("/s/chat/history");
    expect(defaultHistoryFile({ HOME: "/h" })).toBe("/h/.local/state/chat/history");
    // A relative XDG_STATE_HOME is invalid by the spec and ignored.
    expect(defaultHistoryFile({ XDG_STATE_HOME: "rel", HOME: "/h" })).toBe("/h/.local/state/chat/history");
  });

  test("created with its directory, mode 0600, one entry per line, oldest first", () => {
    const path = join(tempDir(), "state", "chat", "history");
    const h = new HistoryFile(path);
    expect(h.load()).toEqual([]);
    h.add("/login alice");
    expect(h.add("/send bob hi")).toEqual(["/login alice", "/send bob hi"]);
    expect(readFileSync(path, "utf8")).toBe("/login alice\n/send bob hi\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(new HistoryFile(path).load()).toEqual(["/login alice", "/send bob hi"]);
  });

  test("a file with wider permissions is replaced by one readable by its owner only", () => {
    const dir = tempDir();
    const path = join(dir, "history");
    writeFileSync(path, "old\n", { mode: 0o644 });
    new HistoryFile(path).add("new");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8")).toBe("old\nnew\n");
  });

  test("two clients sharing the file keep each other's lines", () => {
    const path = join(tempDir(), "history");
    const a = new HistoryFile(path);
    const b = new HistoryFile(path);
    a.add("from a");
    b.add("from b");
    expect(a.add("a again")).toEqual(["from a", "from b", "a again"]);
  });

  test("empty lines and a repeat of the last entry are not added", () => {
    expect(withEntry(["x"], "")).toEqual(["x"]);
    expect(withEntry(["x"], "   ")).toEqual(["x"]);
    expect(withEntry(["x"], "x")).toEqual(["x"]);
    expect(withEntry(["x"], "y")).toEqual(["x", "y"]);
  });

  test("bounded in entries and bytes: the newest are kept", () => {
    const many = Array.from({ length: 1500 }, (_, i) => `line ${i}`);
    const kept = bound(many);
    expect(kept.length).toBe(1000);
    expect(kept.at(-1)).toBe("line 1499");
    const big = Array.from({ length: 50 }, (_, i) => `${i}`.padEnd(5000, "x"));
    const small = bound(big);
    expect(small.join("\n").length).toBeLessThanOrEqual(100 * 1024);
    expect(small.at(-1)).toBe(big.at(-1));
    const dir = tempDir();
    mkdirSync(join(dir, "h"));
    const path = join(dir, "h", "history");
    writeFileSync(path, `${many.join("\n")}\n`);
    expect(new HistoryFile(path).add("newest").length).toBe(1000);
    expect(readFileSync(path, "utf8").split("\n").length).toBe(1001);
  });
});
