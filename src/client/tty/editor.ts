// The input line as a pure state machine: a key event and the state before give the state
// after and what the terminal has to do (submit a line, end the input, show candidates).
// Cursor moves and deletions go by grapheme, so an emoji or a CJK character is one step.

import type { KeyEvent } from "./keys";
import { boundaries } from "./visible";

export interface EditorState {
  readonly text: string;
  /** UTF-16 index into text, always on a grapheme boundary. */
  readonly cursor: number;
  /** While browsing the history with Up/Down: the entry shown and the line typed before. */
  readonly browsing: { readonly index: number; readonly draft: string } | null;
  /** The last text removed by Ctrl+U, Ctrl+K or Ctrl+W, put back by Ctrl+Y. */
  readonly killed: string;
}

/**
 * The longest line the editor holds (UTF-16 units): far past any command or message, and
 * short enough to redraw on every key. What a paste has beyond it is refused, and said so.
 */
export const MAX_LINE = 100_000;

export const EMPTY: EditorState = { text: "", cursor: 0, browsing: null, killed: "" };

export interface Completion {
  text: string;
  cursor: number;
  /** Every possible completion when there is more than one. */
  candidates: readonly string[];
}

export interface EditContext {
  /** Oldest first. Empty where history does not apply (sub-prompts). */
  history: readonly string[];
  /** Tab completion; null where it does not apply. */
  complete: ((text: string, cursor: number) => Completion) | null;
}

export type Effect =
  | { type: "submit"; line: string }
  /** Ctrl+D on an empty line. */
  | { type: "eof" }
  /** Ctrl+C; `empty` when the line was already empty. */
  | { type: "interrupt"; empty: boolean }
  | { type: "clear-screen" }
  /** Ctrl+Z: stop the program, as the shell's job control does. */
  | { type: "suspend" }
  | { type: "candidates"; candidates: readonly string[] }
  | { type: "bell" }
  /** Characters that did not fit in the line (MAX_LINE), left out. */
  | { type: "too-long"; dropped: number };

export interface EditResult {
  state: EditorState;
  effects: Effect[];
}

export function edit(state: EditorState, event: KeyEvent, ctx: EditContext): EditResult {
  switch (event.type) {
    case "text": {
      const effects: Effect[] = [];
      return { state: insert(state, event.text, effects), effects };
    }
    case "paste":
      return paste(state, event.text);
    case "unknown":
    case "position":
      return done(state);
    case "ctrl":
      return ctrl(state, event.key, ctx);
    case "key":
      return key(state, event.name, ctx);
  }
}

function done(state: EditorState, ...effects: Effect[]): EditResult {
  return { state, effects };
}

function insert(s: EditorState, more: string, effects: Effect[]): EditorState {
  let text = more;
  const room = MAX_LINE - s.text.length;
  if (text.length > room) {
    // Cut on a code point boundary: never half a surrogate pair.
    let fit = Math.max(0, room);
    if (fit > 0 && /[\ud800-\udbff]/.test(text[fit - 1]!)) fit--;
    effects.push({ type: "too-long", dropped: text.length - fit });
    text = text.slice(0, fit);
  }
  return {
    ...s,
    text: s.text.slice(0, s.cursor) + text + s.text.slice(s.cursor),
    cursor: s.cursor + text.length,
  };
}

/** Each line break in a paste submits the line so far; the last piece stays in the input. */
function paste(state: EditorState, text: string): EditResult {
  const pieces = text.split("\n");
  const effects: Effect[] = [];
  let s = state;
  for (let i = 0; i < pieces.length; i++) {
    s = insert(s, pieces[i]!, effects);
    if (i < pieces.length - 1) {
      effects.push({ type: "submit", line: s.text });
      s = { ...EMPTY, killed: s.killed };
    }
  }
  return { state: s, effects };
}

function ctrl(s: EditorState, k: string, ctx: EditContext): EditResult {
  switch (k) {
    case "a":
      return done({ ...s, cursor: 0 });
    case "e":
      return done({ ...s, cursor: s.text.length });
    case "b":
      return key(s, "left", ctx);
    case "f":
      return key(s, "right", ctx);
    case "p":
      return key(s, "up", ctx);
    case "n":
      return key(s, "down", ctx);
    case "u":
      return done(cut(s, 0, s.cursor));
    case "k":
      return done(cut(s, s.cursor, s.text.length));
    case "w":
      return key(s, "word-rubout", ctx);
    case "y": {
      const effects: Effect[] = [];
      return { state: insert(s, s.killed, effects), effects };
    }
    case "l":
      return done(s, { type: "clear-screen" });
    case "z":
      return done(s, { type: "suspend" });
    case "c":
      return done({ ...EMPTY, killed: s.killed }, { type: "interrupt", empty: s.text === "" });
    case "d":
      if (s.text === "") return done(s, { type: "eof" });
      return key(s, "delete", ctx);
    case "h":
      return key(s, "backspace", ctx);
    default:
      return done(s);
  }
}

function key(s: EditorState, name: string, ctx: EditContext): EditResult {
  switch (name) {
    case "enter":
      return done({ ...EMPTY, killed: s.killed }, { type: "submit", line: s.text });
    case "left":
      return done({ ...s, cursor: previousBoundary(s.text, s.cursor) });
    case "right":
      return done({ ...s, cursor: nextBoundary(s.text, s.cursor) });
    case "home":
      return done({ ...s, cursor: 0 });
    case "end":
      return done({ ...s, cursor: s.text.length });
    case "word-left":
      return done({ ...s, cursor: wordStart(s.text, s.cursor) });
    case "word-right":
      return done({ ...s, cursor: wordEnd(s.text, s.cursor) });
    case "backspace": {
      if (s.cursor === 0) return done(s, { type: "bell" });
      const from = previousBoundary(s.text, s.cursor);
      return done({ ...s, text: s.text.slice(0, from) + s.text.slice(s.cursor), cursor: from });
    }
    case "delete": {
      if (s.cursor === s.text.length) return done(s, { type: "bell" });
      const to = nextBoundary(s.text, s.cursor);
      return done({ ...s, text: s.text.slice(0, s.cursor) + s.text.slice(to) });
    }
    case "word-rubout":
      return done(cut(s, wordStart(s.text, s.cursor), s.cursor));
    case "up":
      return historyUp(s, ctx.history);
    case "down":
      return historyDown(s, ctx.history);
    case "tab": {
      if (!ctx.complete) return done(s, { type: "bell" });
      const c = ctx.complete(s.text, s.cursor);
      const next = { ...s, text: c.text, cursor: c.cursor };
      if (c.text !== s.text) return done(next);
      if (c.candidates.length > 1) return done(next, { type: "candidates", candidates: c.candidates });
      return done(next, { type: "bell" });
    }
    default:
      return done(s);
  }
}

function cut(s: EditorState, from: number, to: number): EditorState {
  if (from === to) return s;
  return {
    ...s,
    text: s.text.slice(0, from) + s.text.slice(to),
    cursor: from,
    killed: s.text.slice(from, to),
  };
}

function historyUp(s: EditorState, history: readonly string[]): EditResult {
  const index = s.browsing ? s.browsing.index - 1 : history.length - 1;
  if (index < 0) return done(s, { type: "bell" });
  const entry = history[index]!;
  return done({
    ...s,
    text: entry,
    cursor: entry.length,
    browsing: { index, draft: s.browsing?.draft ?? s.text },
  });
}

function historyDown(s: EditorState, history: readonly string[]): EditResult {
  if (!s.browsing) return done(s, { type: "bell" });
  const index = s.browsing.index + 1;
  if (index >= history.length) {
    const draft = s.browsing.draft;
    return done({ ...s, text: draft, cursor: draft.length, browsing: null });
  }
  const entry = history[index]!;
  return done({ ...s, text: entry, cursor: entry.length, browsing: { ...s.browsing, index } });
}

function previousBoundary(text: string, at: number): number {
  let prev = 0;
  for (const b of boundaries(text)) {
    if (b >= at) break;
    prev = b;
  }
  return prev;
}

function nextBoundary(text: string, at: number): number {
  for (const b of boundaries(text)) if (b > at) return b;
  return text.length;
}

const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);

/** Start of the word before the cursor (spaces before it skipped), as Ctrl+W and Alt+B see it. */
function wordStart(text: string, at: number): number {
  let i = at;
  while (i > 0 && isSpace(text[i - 1])) i--;
  while (i > 0 && !isSpace(text[i - 1])) i--;
  return i;
}

/** End of the word after the cursor, as Alt+F sees it. */
function wordEnd(text: string, at: number): number {
  let i = at;
  while (i < text.length && isSpace(text[i])) i++;
  while (i < text.length && !isSpace(text[i])) i++;
  return i;
}
