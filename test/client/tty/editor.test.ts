import { describe, expect, test } from "bun:test";
import {
  type EditContext,
  type EditorState,
  type Effect,
  EMPTY,
  edit,
  MAX_LINE,
} from "../../../src/client/tty/editor";
import type { KeyEvent, KeyName } from "../../../src/client/tty/keys";

const none: EditContext = { history: [], complete: null };

function run(events: KeyEvent[], ctx: EditContext = none, from: EditorState = EMPTY) {
  let state = from;
  const effects: Effect[] = [];
  for (const e of events) {
    const r = edit(state, e, ctx);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}

const text = (t: string): KeyEvent => ({ type: "text", text: t });
const key = (name: KeyName): KeyEvent => ({ type: "key", name });
const ctrl = (k: string): KeyEvent => ({ type: "ctrl", key: k });
/** The line with | at the cursor. */
const shown = (s: EditorState) => `${s.text.slice(0, s.cursor)}|${s.text.slice(s.cursor)}`;

describe("line editor", () => {
  test("typing, moving and deleting go by grapheme (CJK, emoji with modifiers and ZWJ)", () => {
    const family = "👨‍👩‍👧";
    const { state } = run([text(`a世${family}👍🏽b`), key("left"), key("left"), key("backspace")]);
    expect(shown(state)).toBe(`a世|👍🏽b`);
    const after = run([key("delete"), key("right")], none, state).state;
    expect(shown(after)).toBe("a世b|");
  });

  test("Home/End, Ctrl+A/E, word moves, Ctrl+U/K/W and Ctrl+Y", () => {
    let s = run([text("/send bob hello there")]).state;
    s = run([ctrl("a")], none, s).state;
    expect(s.cursor).toBe(0);
    s = run([key("word-right"), key("word-right")], none, s).state;
    expect(shown(s)).toBe("/send bob| hello there");
    s = run([ctrl("k")], none, s).state;
    expect(shown(s)).toBe("/send bob|");
    s = run([ctrl("y"), key("end"), ctrl("w")], none, s).state;
    expect(shown(s)).toBe("/send bob hello |");
    s = run([key("word-left"), ctrl("u")], none, s).state;
    expect(shown(s)).toBe("|hello ");
    s = run([ctrl("e"), key("home")], none, s).state;
    expect(s.cursor).toBe(0);
  });

  test("Enter submits the line and starts an empty one", () => {
    const r = run([text("hi there"), key("left"), key("enter")]);
    expect(r.effects).toEqual([{ type: "submit", line: "hi there" }]);
    expect(r.state.text).toBe("");
  });

  test("a paste submits each whole line and leaves the last piece in the input", () => {
    const start = run([text("<>"), key("left")]).state;
    const r = run([{ type: "paste", text: "one\ntwo\n\nthree" }], none, start);
    expect(r.effects).toEqual([
      { type: "submit", line: "<one>" },
      { type: "submit", line: "two" },
      { type: "submit", line: "" },
    ]);
    expect(shown(r.state)).toBe("three|");
  });

  test("Ctrl+C clears the line (saying whether it was empty); Ctrl+D ends only on an empty line", () => {
    expect(run([text("x"), ctrl("c")]).effects).toEqual([{ type: "interrupt", empty: false }]);
    expect(run([ctrl("c")]).effects).toEqual([{ type: "interrupt", empty: true }]);
    const d = run([text("ab"), key("home"), ctrl("d")]);
    expect(d.effects).toEqual([]);
    expect(d.state.text).toBe("b");
    expect(run([ctrl("d")]).effects).toEqual([{ type: "eof" }]);
  });

  test("Up and Down browse the history and come back to what was being typed", () => {
    const ctx: EditContext = { history: ["first", "second"], complete: null };
    let s = run([text("draft"), key("up")], ctx).state;
    expect(shown(s)).toBe("second|");
    s = run([key("up")], ctx, s).state;
    expect(s.text).toBe("first");
    expect(run([key("up")], ctx, s).effects).toEqual([{ type: "bell" }]);
    s = run([key("down"), key("down")], ctx, s).state;
    expect(shown(s)).toBe("draft|");
    expect(run([key("up")], none).effects).toEqual([{ type: "bell" }]);
  });

  test("Tab uses the completer; several candidates without progress are listed", () => {
    const ctx: EditContext = {
      history: [],
      complete: (t, c) =>
        t === "/s"
          ? { text: "/send ", cursor: 6, candidates: ["/send"] }
          : { text: t, cursor: c, candidates: ["ab", "ac"] },
    };
    expect(shown(run([text("/s"), key("tab")], ctx).state)).toBe("/send |");
    expect(run([text("a"), key("tab")], ctx).effects).toEqual([
      { type: "candidates", candidates: ["ab", "ac"] },
    ]);
    expect(run([text("a"), key("tab")], none).effects).toEqual([{ type: "bell" }]);
  });

  test("Ctrl+L asks for a clear screen; unknown sequences change nothing", () => {
    expect(run([ctrl("l")]).effects).toEqual([{ type: "clear-screen" }]);
    expect(run([text("x"), { type: "unknown", sequence: "\x1b[15~" }]).state.text).toBe("x");
  });

  test("random keys never throw; the cursor always stays on a grapheme boundary inside the text", () => {
    let seed = 3;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ["a", " ", "世", "👍🏽", "e\u0301", "👨‍👩‍👧", "\x1b", "xy z"];
    const names: KeyName[] = [
      "left",
      "right",
      "home",
      "end",
      "backspace",
      "delete",
      "word-left",
      "word-right",
      "word-rubout",
      "up",
      "down",
      "tab",
    ];
    const ctx: EditContext = {
      history: ["one", "two 世界"],
      complete: (t, c) => ({ text: t, cursor: c, candidates: [] }),
    };
    const segmenter = new Intl.Segmenter();
    for (let round = 0; round < 300; round++) {
      let s = EMPTY;
      for (let k = 0; k < 40; k++) {
        const pick = rand(4);
        const e: KeyEvent =
          pick === 0
            ? text(pieces[rand(pieces.length)]!)
            : pick === 1
              ? key(names[rand(names.length)]!)
              : pick === 2
                ? ctrl("abcdefhklnpuwy"[rand(14)]!)
                : { type: "paste", text: `${pieces[rand(pieces.length)]}\n${pieces[rand(pieces.length)]}` };
        s = edit(s, e, ctx).state;
        const stops = [...segmenter.segment(s.text)].map((g) => g.index).concat(s.text.length);
        expect(stops).toContain(s.cursor);
      }
    }
  });

  test("a line holds MAX_LINE characters; what a paste has beyond them is left out and said so", () => {
    const r = run([text("ab"), { type: "paste", text: "x".repeat(MAX_LINE) }]);
    expect(r.state.text.length).toBe(MAX_LINE);
    expect(r.effects).toEqual([{ type: "too-long", dropped: 2 }]);
    expect(run([text("y")], none, r.state).effects).toEqual([{ type: "too-long", dropped: 1 }]);
    // Never half an emoji.
    const full = run([{ type: "paste", text: `${"x".repeat(MAX_LINE - 1)}🙂` }]).state.text;
    expect(full.length).toBe(MAX_LINE - 1);
  });
});
