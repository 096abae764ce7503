import { describe, expect, test } from "bun:test";
import { historyFile } from "../src/client";

describe("historyFile", () => {
  test("$XDG_STATE_HOME/chat/history, else ~/.local/state/chat/history", () => {
    expect(historyFile({ XDG_STATE_HOME: "/state", HOME: "/home/me" })).toBe("/state/chat/history");
    expect(historyFile({ HOME: "/home/me" })).toBe("/home/me/.local/state/chat/history");
    // The XDG spec: an empty or relative value is ignored.
    expect(historyFile({ XDG_STATE_HOME: "", HOME: "/home/me" })).toBe("/home/me/.local/state/chat/history");
    expect(historyFile({ XDG_STATE_HOME: "rel", HOME: "/home/me" })).toBe(
      "/home/me/.local/state/chat/history",
    );
  });
});
