// The input area (prompt + input, wrapped over as many rows as it needs) as bytes for the
// terminal. Pure: given the width, what is shown and where the cursor is, the exact bytes, and
// where that leaves the cursor, so the next erase goes back exactly to the area's first row.
//
// The area is written as one run of text that the terminal wraps by itself (auto-wrap), so a
// terminal that reflows on resize keeps it one logical line and we can tell where it went.

import { type Cell, cells, promptCells } from "./visible";

/** What the input area shows. */
export interface View {
  prompt: string;
  text: string;
  /** UTF-16 index into text, on a grapheme boundary. */
  cursor: number;
  /** Typed text is not shown (passwords). */
  secret: boolean;
}

/** Where a drawn area is: how many rows it takes and which of them has the cursor. */
export interface Frame {
  rows: number;
  cursorRow: number;
  cursorCol: number;
}

export interface Layout extends Frame {
  /** Row and column just after the last cell (where the terminal's cursor ends up). */
  endRow: number;
  endCol: number;
  /** The last cell ends on the last column (the terminal then waits to wrap). */
  fullRow: boolean;
  /** Cells to write, in order, and the row each is on. */
  cells: Cell[];
  rowOf: number[];
}

/** Lays the area out at `width` columns the way a terminal's auto-wrap does. */
export function layout(view: View, width: number): Layout {
  const cols = Math.max(1, width);
  const input = view.secret ? [] : cells(view.text);
  const prompt = promptCells(view.prompt);
  // Typed text in the terminal's own colours, whatever colour the prompt ends in.
  if (prompt.some((c) => c.width === 0 && c.text.startsWith("\x1b["))) {
    prompt.push({ text: "\x1b[0m", width: 0, start: view.prompt.length });
  }
  const all = [...prompt, ...input];
  const promptCount = all.length - input.length;
  let row = 0;
  let col = 0;
  let cursorRow = -1;
  let cursorCol = 0;
  const rowOf: number[] = [];
  const cursor = view.secret ? 0 : view.cursor;
  for (let i = 0; i < all.length; i++) {
    const c = all[i]!;
    // A cell that does not fit on this row starts the next one (a wide character leaves the
    // last column of the row blank, as terminals do).
    if (c.width > 0 && col + c.width > cols && col > 0) {
      row++;
      col = 0;
    }
    if (cursorRow < 0 && i >= promptCount && c.start >= cursor) {
      cursorRow = row;
      cursorCol = col;
    }
    rowOf.push(row);
    col += c.width;
  }
  // After the last column the terminal's cursor waits to wrap; we make it wrap (see draw).
  const fullRow = col >= cols;
  if (fullRow) {
    row++;
    col = 0;
  }
  if (cursorRow < 0) {
    cursorRow = row;
    cursorCol = col;
  }
  return { rows: row + 1, cursorRow, cursorCol, endRow: row, endCol: col, fullRow, cells: all, rowOf };
}

/**
 * Draws the area from the first column of its first row; the cursor ends where it belongs.
 * An area taller than `height` rows is shown as the `height` rows around the cursor.
 */
export function draw(
  view: View,
  width: number,
  height = Number.POSITIVE_INFINITY,
): { bytes: string; frame: Frame } {
  const l = layout(view, width);
  if (l.rows > Math.max(1, height)) return drawWindow(l, Math.max(1, height));
  let bytes = "";
  for (const c of l.cells) bytes += c.text;
  // Ending on the last column leaves the terminal waiting to wrap: a space and CR make it
  // go to the next row now, so the cursor is where layout() says.
  if (l.fullRow) bytes += " \r";
  if (l.endRow > l.cursorRow) bytes += `\x1b[${l.endRow - l.cursorRow}A`;
  if (l.endRow !== l.cursorRow || l.endCol !== l.cursorCol) {
    bytes += "\r";
    if (l.cursorCol > 0) bytes += `\x1b[${l.cursorCol}C`;
  }
  return { bytes, frame: { rows: l.rows, cursorRow: l.cursorRow, cursorCol: l.cursorCol } };
}

/** The rows first..first+height-1 of a tall area: those up to the cursor's, or the last ones. */
function drawWindow(l: Layout, height: number): { bytes: string; frame: Frame } {
  const first = Math.min(Math.max(0, l.cursorRow - height + 1), l.rows - height);
  const last = first + height - 1;
  let bytes = "";
  for (let i = 0; i < l.cells.length; i++) {
    const c = l.cells[i]!;
    // Colour codes are written wherever they are, so the colours after them stay right.
    if (c.width === 0 || (l.rowOf[i]! >= first && l.rowOf[i]! <= last)) bytes += c.text;
  }
  const atEnd = last === l.rows - 1;
  if (atEnd && l.fullRow) bytes += " \r";
  // Where the terminal's cursor is now: after the last cell written (maybe waiting to wrap).
  const endRow = atEnd ? l.endRow - first : last - first;
  const cursorRow = l.cursorRow - first;
  if (endRow > cursorRow) bytes += `\x1b[${endRow - cursorRow}A`;
  bytes += "\r";
  if (l.cursorCol > 0) bytes += `\x1b[${l.cursorCol}C`;
  return { bytes, frame: { rows: height, cursorRow, cursorCol: l.cursorCol } };
}

/** From the cursor in a drawn area: back to its first row, first column, and erase to the end of the screen. */
export function erase(frame: Frame): string {
  return `${frame.cursorRow > 0 ? `\x1b[${frame.cursorRow}A` : ""}\r\x1b[J`;
}

/** Output lines written above the area: erase it, write them, draw it again below. */
export function printAbove(
  frame: Frame | null,
  lines: readonly string[],
  view: View | null,
  width: number,
  height = Number.POSITIVE_INFINITY,
): { bytes: string; frame: Frame | null } {
  let bytes = frame ? erase(frame) : "";
  for (const line of lines) {
    // A colour left on at the end of a line would spill into the prompt.
    const reset = line.includes("\x1b[") ? "\x1b[0m" : "";
    bytes += `${line.replace(/\r?\n/g, "\r\n")}${reset}\r\n`;
  }
  if (!view) return { bytes, frame: null };
  const d = draw(view, width, height);
  return { bytes: bytes + d.bytes, frame: d.frame };
}

/** Redraws the area in place (after an edit). */
export function redraw(
  frame: Frame | null,
  view: View,
  width: number,
  height = Number.POSITIVE_INFINITY,
): { bytes: string; frame: Frame } {
  const d = draw(view, width, height);
  return { bytes: (frame ? erase(frame) : "") + d.bytes, frame: d.frame };
}

/**
 * Where a drawn area is after the terminal changed to `width` columns. Terminals differ:
 * most (VTE, kitty, iTerm2, tmux) rewrap the area as the one line it is and move the cursor
 * with it; others (xterm, the Linux console, xterm.js on the cursor's line) leave its rows
 * where they were, the cursor's column clipped to the narrowest width it went through. The
 * cursor's column as the terminal reports it (ESC [ 6 n) tells which; when it cannot, the
 * smaller guess is taken, as erasing too little leaves a stray row but erasing too much
 * would wipe output above the area.
 */
export function afterResize(
  drawn: View,
  before: Frame,
  narrowest: number,
  width: number,
  reportedCol: number | null,
): Frame {
  const l = layout(drawn, width);
  const moved: Frame = { rows: l.rows, cursorRow: l.cursorRow, cursorCol: l.cursorCol };
  const stayedCol = Math.min(before.cursorCol, Math.max(1, narrowest) - 1);
  if (reportedCol === moved.cursorCol && reportedCol !== stayedCol) return moved;
  const cursorRow =
    reportedCol === stayedCol && reportedCol !== moved.cursorCol
      ? before.cursorRow
      : Math.min(moved.cursorRow, before.cursorRow);
  return { rows: Math.max(before.rows, moved.rows), cursorRow, cursorCol: reportedCol ?? stayedCol };
}
