// The binary on a real pseudo-terminal (Bun.spawn's `terminal`), its output fed to a real
// terminal emulator (@xterm/headless), so tests read the screen a person would see: wrapped
// rows, erased lines and the cursor where the emulator put it. Resizing is real: the pty's
// size changes (TIOCSWINSZ) and the client gets SIGWINCH.

import { newEmulator, screenLines } from "../emulator";
import { track } from "../processes";
import { BIN } from "./harness";

export interface PtyOptions {
  cols?: number;
  rows?: number;
  env?: Record<string, string>;
  /** Standard output to this file instead of the terminal (stdin and stderr stay on it). */
  stdoutTo?: string;
  /** Run it from an interactive bash (job control: Ctrl+Z, fg), which is left running after. */
  shell?: boolean;
}

export type Pty = ReturnType<typeof onPty>;

function argv(args: string[], options: PtyOptions): string[] {
  if (options.shell) return ["bash", "--norc", "--noprofile", "-i"];
  if (options.stdoutTo) return ["sh", "-c", 'exec "$0" "$@" > "$OUT"', BIN, ...args];
  return [BIN, ...args];
}

/** `chat ...args` on a pseudo-terminal of cols × rows. */
export function onPty(args: string[], options: PtyOptions = {}) {
  const cols = options.cols ?? 80;
  const rows = options.rows ?? 24;
  const emulator = newEmulator(cols, rows);
  let parsing = 0;
  let waiters: (() => void)[] = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const proc = track(
    Bun.spawn(argv(args, options), {
      env: {
        ...process.env,
        TERM: "xterm-256color",
        ...options.env,
        ...(options.stdoutTo ? { OUT: options.stdoutTo } : {}),
        ...(options.shell ? { PS1: "$ " } : {}),
      },
      terminal: {
        cols,
        rows,
        name: "xterm-256color",
        data(_t, bytes) {
          parsing++;
          emulator.write(new Uint8Array(bytes), () => {
            parsing--;
            wake();
          });
        },
      },
    }),
  );
  void proc.exited.then(wake);
  if (options.shell) proc.terminal!.write(`'${BIN}' ${args.map((a) => `'${a}'`).join(" ")}\r`);
  // What the terminal answers (the cursor position report) goes back to the program.
  emulator.onData((answer) => {
    if (proc.exitCode === null && !proc.terminal!.closed) proc.terminal!.write(answer);
  });
  const buffer = () => emulator.buffer.active;

  /** Every row, scrollback included, as text. */
  const rowsText = (): string[] => {
    const b = buffer();
    const out: string[] = [];
    for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? "");
    return out;
  };

  /** The screen as lines the way they were written: rows the terminal wrapped are joined. */
  const lines = () => screenLines(emulator);

  const text = () => lines().join("\n");

  const pty = {
    proc,
    emulator,
    rowsText,
    lines,
    text,
    /** The cursor: column, and row counted from the top of the scrollback. */
    cursor() {
      const b = buffer();
      return { col: b.cursorX, row: b.baseY + b.cursorY };
    },
    /** The row (from the top of the scrollback) where the logical line containing `row` starts. */
    lineStart(row: number): number {
      const b = buffer();
      let r = row;
      while (r > 0 && b.getLine(r)?.isWrapped) r--;
      return r;
    },
    type(keys: string) {
      proc.terminal!.write(keys);
    },
    resize(c: number, r: number) {
      emulator.resize(c, r);
      proc.terminal!.resize(c, r);
    },
    /** Waits until the screen satisfies pred (a string or pattern on text(), or a function). */
    async see(what: string | RegExp | (() => boolean), timeoutMs = 10_000): Promise<void> {
      const hit =
        typeof what === "function"
          ? what
          : typeof what === "string"
            ? () => text().includes(what)
            : () => what.test(text());
      const deadline = Date.now() + timeoutMs;
      while (parsing > 0 || !hit()) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${what}; the screen:\n${text()}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    /** Waits for the process to end and the emulator to take in all it wrote. */
    async exit(timeoutMs = 10_000): Promise<number> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const code = await Promise.race([
        proc.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`still running after ${timeoutMs} ms; the screen:\n${text()}`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      await pty.see(() => parsing === 0, timeoutMs);
      return code;
    },
  };
  return pty;
}
