// A headless xterm.js as the terminal a person looks at, with today's character widths
// (Unicode 11: emoji are two columns, as in the terminals people use).

import { Unicode11Addon } from "@xterm/addon-unicode11";
import { Terminal as Emulator, type ITerminalOptions } from "@xterm/headless";

export type { Emulator };

export function newEmulator(cols: number, rows: number, options: ITerminalOptions = {}): Emulator {
  const e = new Emulator({ cols, rows, scrollback: 5000, allowProposedApi: true, ...options });
  e.loadAddon(new Unicode11Addon());
  e.unicode.activeVersion = "11";
  return e;
}

/** Writes bytes to the emulator and waits until it has taken them in. */
export function feed(e: Emulator, bytes: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => e.write(bytes, resolve));
}

/** The screen's lines as written: rows the terminal wrapped are joined, cells never written left out. */
export function screenLines(e: Emulator): string[] {
  const b = e.buffer.active;
  const out: string[] = [];
  for (let i = 0; i < b.length; i++) {
    const line = b.getLine(i)!;
    let text = "";
    for (let x = 0; x < line.length; x++) {
      const cell = line.getCell(x)!;
      if (cell.getWidth() === 0) continue; // the second half of a wide character
      text += cell.getChars() || "\0";
    }
    text = text.replace(/\0+$/, "");
    if (line.isWrapped && out.length) out[out.length - 1] += text;
    else out.push(text);
  }
  while (out.length && out[out.length - 1]!.trim() === "") out.pop();
  return out.map((l) => l.replaceAll("\0", " ").trimEnd());
}
