import { describe, expect, test } from "bun:test";
import { complete } from "../../../src/client/tty/completion";

const COMMANDS = ["/check", "/create", "/delete", "/help", "/list", "/login", "/send", "/to", "/quit"];
const NAMES = ["bob", "bobby", "carol"];
const at = (line: string) => complete(line, line.length, COMMANDS, NAMES);

describe("Tab completion", () => {
  test("the command word at the start of a line", () => {
    expect(at("/se")).toEqual({ text: "/send ", cursor: 6, candidates: ["/send"] });
    expect(at("/c")).toEqual({ text: "/c", cursor: 2, candidates: ["/check", "/create"] });
    expect(at("/cr").text).toBe("/create ");
    expect(at("/x").candidates).toEqual([]);
    expect(at("").candidates).toEqual([...COMMANDS].sort());
  });

  test("an account name after /send, /to, /login, and up to the common prefix", () => {
    expect(at("/send c")).toEqual({ text: "/send carol ", cursor: 12, candidates: ["carol"] });
    expect(at("/to b")).toEqual({ text: "/to bob", cursor: 7, candidates: ["bob", "bobby"] });
    expect(at("/login bobb").text).toBe("/login bobby ");
    expect(at("/check b").candidates).toEqual([]);
  });

  test("names in plain text and in a message, case-insensitively", () => {
    expect(at("C").text).toBe("carol ");
    expect(at("hello ca").text).toBe("hello carol ");
    expect(at("/send bob thanks ca").text).toBe("/send bob thanks carol ");
  });

  test("in the middle of a line, only the word before the cursor changes", () => {
    const line = "/send c hi";
    expect(complete(line, 7, COMMANDS, NAMES)).toEqual({
      text: "/send carol hi",
      cursor: 12,
      candidates: ["carol"],
    });
  });

  test("with no commands (a sub-prompt such as To:), names only", () => {
    expect(complete("car", 3, [], NAMES, false)).toEqual({ text: "carol", cursor: 5, candidates: ["carol"] });
    expect(complete("", 0, [], NAMES).candidates).toEqual([]);
    expect(complete("/s", 2, [], NAMES).candidates).toEqual([]);
  });
});
