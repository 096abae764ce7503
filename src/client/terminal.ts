// Interactive mode on a terminal: stdin in raw mode, read continuously into one queue of
// lines (nothing typed or pasted is lost, whatever is running), a line editor with history
// and Tab completion, and output printed above the input area, which is then redrawn
// exactly as it was, however many rows it wraps over.
//
// The parts are pure and tested without a terminal: tty/keys.ts (bytes → keys),
// tty/editor.ts (keys → line), tty/render.ts (area → bytes), tty/queue.ts, tty/history.ts.

import { writeSync } from "node:fs";
import type { AskOptions, Io } from "./io";
import { complete } from "./tty/completion";
import { type EditorState, type Effect, EMPTY, edit, MAX_LINE } from "./tty/editor";
import { HistoryFile, withEntry } from "./tty/history";
import { KeyDecoder, type KeyEvent } from "./tty/keys";
import { LineQueue, type Take } from "./tty/queue";
import { afterResize, erase, type Frame, printAbove, redraw, type View } from "./tty/render";
import { cells } from "./tty/visible";

export interface TerminalOptions {
  /** Slash-command words offered by Tab at the start of a line, e.g. "/send". */
  commands: readonly string[];
  /** Where history is kept across sessions; null for none. */
  historyFile: string | null;
}

type Reader = { kind: "line" } | { kind: "ask"; prompt: string; secret: boolean };

const BRACKETED_PASTE_ON = "\x1b[?2004h";
const BRACKETED_PASTE_OFF = "\x1b[?2004l";
/**
 * How long a lone ESC waits for the rest of an escape sequence before it is the Escape key
 * (which does nothing here, so waiting long costs nothing and spares slow links).
 */
const ESCAPE_WAIT_MS = 500;
/** How long to wait for the terminal to report the cursor after a resize. */
const REPORT_WAIT_MS = 600; // a round trip over a slow ssh link
/** How long to wait after SIGWINCH for stdout's new size. */
const SIZE_WAIT_MS = 200;
/** Tab shows at most this many possible completions. */
const MAX_CANDIDATES = 40;
/** Names offered by Tab: the most recent ones are kept. */
const MAX_NAMES = 1000;

/** Typed text as the screen shows it (controls escaped). */
function shown(text: string): string {
  return cells(text)
    .map((c) => c.text)
    .join("");
}

export class Terminal implements Io {
  readonly confirmSecrets = true;
  readonly scripted = false;
  private readonly queue = new LineQueue<Reader>();
  private readonly decoder = new KeyDecoder();
  private readonly commands: readonly string[];
  private readonly historyFile: HistoryFile | null;
  private history: string[] = [];
  private historyError = false;
  private readonly names = new Set<string>();
  private editor: EditorState = EMPTY;
  private prompt = "> ";
  /** The area as it is on the screen (null: not drawn), and what it shows. */
  private frame: Frame | null = null;
  private drawn: View | null = null;
  private width: number;
  private height: number;
  /** Lines waiting to be printed and the promises to resolve once they are written. */
  private lines: string[] = [];
  private written: (() => void)[] = [];
  private flushQueued = false;
  private escapeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Open reads, to cancel the sub-prompt shown on Ctrl+C. */
  private readonly reads = new Set<Take<Reader>>();
  private closed = false;
  /**
   * After a resize: the area as it was drawn, until the terminal has reported where the cursor
   * went (drawing waits meanwhile, as the area's place is not known).
   */
  private sizeTimer: ReturnType<typeof setTimeout> | null = null;
  private resizing: {
    before: Frame;
    drawn: View;
    narrowest: number;
    asked: number;
    answered: number;
    timer: ReturnType<typeof setTimeout>;
  } | null = null;
  /**
   * False when stdout is not a terminal (a log file): output is lines only, with no input area,
   * and the terminal itself echoes and edits what is typed (raw mode only for passwords).
   */
  private readonly visual: boolean;
  private raw = false;
  /** Between Ctrl+Z and the stop: nothing is drawn. */
  private suspending = false;
  /** Ctrl+C or Ctrl+D ended the input (the next one, while a command runs, leaves at once). */
  private ending = false;
  /** The sub-prompt last shown on stderr (without an input area). */
  private prompted: Reader | null = null;

  constructor(options: TerminalOptions) {
    this.commands = options.commands;
    this.historyFile = options.historyFile ? new HistoryFile(options.historyFile) : null;
    this.visual = process.stdout.isTTY === true;
    this.width = process.stdout.columns || 80;
    this.height = process.stdout.rows || 24;
    if (this.historyFile) {
      try {
        this.history = this.historyFile.load();
      } catch (error) {
        this.historyError = true;
        void this.print(`… history not loaded from ${this.historyFile.path}: ${(error as Error).message}`);
      }
    }
    this.setRaw(this.visual);
    process.stdin.on("data", this.onData);
    process.stdin.on("end", this.onEnd);
    process.stdin.on("error", this.onEnd);
    process.stdin.resume();
    // SIGWINCH comes first, stdout's new size (its "resize" event) may come much later.
    process.on("SIGWINCH", this.onWinch);
    process.stdout.on("resize", this.onResize);
    process.on("SIGTERM", this.onSignal);
    process.on("SIGINT", this.onInterrupt);
    process.on("SIGHUP", this.onSignal);
    process.on("exit", this.onExit);
    if (this.visual) process.stdout.write(BRACKETED_PASTE_ON);
    this.schedule();
  }

  nextLine(): Promise<string | null> {
    return this.read({ kind: "line" }).then((line) => {
      if (line !== null) {
        this.remember(line);
        void this.print(`${this.prompt}${shown(line)}`);
      }
      return line;
    });
  }

  ask(prompt: string, options: AskOptions = {}): Promise<string | null> {
    const secret = options.secret === true;
    return this.read({ kind: "ask", prompt, secret }).then((line) => {
      if (line !== null) void this.print(`${prompt}${secret ? "" : shown(line)}`);
      // Without an input area the terminal echoes lines itself, but not a password's Enter.
      if (!this.visual && secret) {
        this.setRaw(false);
        if (process.stderr.isTTY) process.stderr.write("\r\n");
      }
      return line;
    });
  }

  private read(reader: Reader): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    const take = this.queue.take(reader);
    this.reads.add(take);
    this.schedule();
    return take.promise.then((line) => {
      this.reads.delete(take);
      this.schedule();
      return line;
    });
  }

  /** Resolves once the line has been handed to the operating system. */
  print = (line: string): Promise<void> => {
    return new Promise((resolve) => {
      if (this.closed) {
        process.stdout.write(`${line}\n`, () => resolve());
        return;
      }
      this.lines.push(line);
      this.written.push(resolve);
      this.schedule();
    });
  };

  setPrompt(prompt: string): void {
    this.prompt = prompt;
    this.schedule();
  }

  rememberName(name: string): void {
    this.names.delete(name);
    this.names.add(name);
    if (this.names.size > MAX_NAMES) this.names.delete(this.names.values().next().value!);
  }

  takeUnread(): string[] {
    return this.closed ? [] : this.queue.drain();
  }

  close(): void {
    if (this.closed) return;
    if (this.resizing) this.resized(null);
    this.flush(true);
    this.closed = true;
    this.queue.close();
    this.detach();
  }

  /** The reader the next line goes to, and what the input area shows for it. */
  private view(): View {
    const head = this.queue.head;
    const ask = head?.kind === "ask" ? head : null;
    // Lines entered while a command runs wait their turn; say so, as they are shown when read.
    const waiting = this.queue.pending;
    return {
      prompt: ask ? ask.prompt : waiting ? `(${waiting} waiting) ${this.prompt}` : this.prompt,
      text: this.editor.text,
      cursor: this.editor.cursor,
      secret: ask?.secret ?? false,
    };
  }

  /** Coalesces everything that happens in one turn (keys, lines) into one write. */
  private schedule(): void {
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      if (!this.closed && !this.resizing && !this.suspending) this.flush(false);
    });
  }

  /** Writes pending lines above the area and redraws it; at the end, leaves a fresh line. */
  private flush(last: boolean): void {
    const lines = this.lines.splice(0);
    const done = this.written.splice(0);
    let bytes: string;
    if (!this.visual) {
      const head = this.queue.head;
      if (!last) this.setRaw(head?.kind === "ask" && head.secret);
      // The person still needs to see what a prompt asks: on the terminal, if stderr is one.
      if (!last && head?.kind === "ask" && head !== this.prompted) {
        this.prompted = head;
        if (process.stderr.isTTY) process.stderr.write(head.prompt);
      }
      bytes = lines.map((l) => `${l}\n`).join("");
    } else if (last) {
      // What is typed but not entered stays visible; an empty area goes away.
      const view = this.view();
      const keep = view.text !== "" && !view.secret ? { ...view, cursor: view.text.length } : null;
      const r = printAbove(this.frame, lines, keep, this.width);
      bytes = `${r.bytes}${keep ? "\r\n" : ""}${BRACKETED_PASTE_OFF}`;
      this.frame = null;
    } else if (lines.length) {
      const view = this.view();
      const r = printAbove(this.frame, lines, view, this.width, this.areaHeight());
      bytes = r.bytes;
      this.frame = r.frame;
      this.drawn = view;
    } else {
      const view = this.view();
      const r = redraw(this.frame, view, this.width, this.areaHeight());
      bytes = r.bytes;
      this.frame = r.frame;
      this.drawn = view;
    }
    if (!bytes) {
      for (const d of done) d();
      return;
    }
    process.stdout.write(bytes, () => {
      for (const d of done) d();
    });
  }

  /**
   * Ctrl+Z: the terminal as it was, then stopped (SIGTSTP); when continued (or when the stop
   * was not possible, with no shell to come back to), raw mode again and the area redrawn.
   */
  private suspend(): void {
    if (!this.visual || this.suspending) return;
    if (!this.resizing) this.flush(false); // lines waiting to be printed go out first
    const area = this.frame ? erase(this.frame) : "";
    this.frame = null;
    this.suspending = true;
    process.stdout.write(`${area}${BRACKETED_PASTE_OFF}`, () => {
      this.setRaw(false);
      process.kill(process.pid, "SIGTSTP");
      // Here the process has been stopped and continued, or the stop was discarded.
      this.suspending = false;
      if (this.closed) return;
      this.setRaw(true);
      process.stdout.write(BRACKETED_PASTE_ON);
      this.schedule();
    });
  }

  private setRaw(on: boolean): void {
    if (on === this.raw) return;
    this.raw = on;
    process.stdin.setRawMode?.(on);
  }

  private onData = (chunk: Uint8Array | string): void => {
    if (this.escapeTimer) clearTimeout(this.escapeTimer);
    this.escapeTimer = null;
    for (const e of this.decoder.feed(chunk)) this.key(e);
    if (this.decoder.waiting) {
      this.escapeTimer = setTimeout(() => {
        this.escapeTimer = null;
        for (const e of this.decoder.flush()) this.key(e);
      }, ESCAPE_WAIT_MS);
    }
  };

  private key(e: KeyEvent): void {
    if (this.closed) return;
    if (e.type === "position") {
      const r = this.resizing;
      if (r && r.asked > 0 && ++r.answered >= r.asked) this.resized(e.col - 1);
      return;
    }
    const head = this.queue.head;
    const ask = head?.kind === "ask" ? head : null;
    // In a sub-prompt ("To: ") Tab offers names only, and nothing at all for a password.
    const commands = ask ? [] : this.commands;
    const r = edit(this.editor, e, {
      history: ask ? [] : this.history,
      complete: ask?.secret ? null : (text, cursor) => complete(text, cursor, commands, this.names, !ask),
    });
    this.editor = r.state;
    for (const effect of r.effects) this.effect(effect);
    this.schedule();
  }

  private effect(e: Effect): void {
    switch (e.type) {
      case "submit":
        // After the loop stopped taking lines (quitting), a line entered is refused visibly.
        if (!this.queue.push(e.line)) void this.print(`✗ not done, the client is quitting: ${shown(e.line)}`);
        return;
      case "eof":
      case "interrupt": {
        const head = this.queue.head;
        if (head?.kind === "ask") {
          // Ctrl+C (or Ctrl+D) in a sub-prompt cancels it, and only it.
          void this.print(`${head.prompt}^${e.type === "eof" ? "D" : "C"}`);
          for (const take of this.reads) if (take.tag === head) take.cancel();
          return;
        }
        // Ctrl+C on a half-typed line only clears it (the editor did); on an empty line, as
        // Ctrl+D, it ends the input: the loop logs out and exits once it is free.
        if (e.type === "interrupt" && !e.empty) return;
        if (!head) {
          // The loop is busy (a command waits for the server, which may never answer).
          if (this.ending) {
            this.leaveNow();
            return;
          }
          void this.print(
            `… leaving once the command in progress is done (Ctrl+${e.type === "eof" ? "D" : "C"} again: leave now)`,
          );
        }
        this.ending = true;
        this.queue.end();
        return;
      }
      case "suspend":
        this.suspend();
        return;
      case "clear-screen":
        if (this.visual) process.stdout.write("\x1b[H\x1b[2J");
        this.frame = null;
        return;
      case "candidates": {
        const shown = e.candidates.slice(0, MAX_CANDIDATES).join("  ");
        const more = e.candidates.length - MAX_CANDIDATES;
        void this.print(more > 0 ? `${shown}  … and ${more} more` : shown);
        return;
      }
      case "bell":
        return;
      case "too-long":
        void this.print(
          `… the line is limited to ${MAX_LINE.toLocaleString("en-US")} characters; ${e.dropped.toLocaleString("en-US")} left out`,
        );
        return;
    }
  }

  /** The input area never takes the whole screen: one row of output stays in sight. */
  private areaHeight(): number {
    return Math.max(1, this.height - 1);
  }

  /**
   * The window changed size: until its new size is known, nothing is drawn (a line printed
   * for the old width would be garbled at the new one).
   */
  private onWinch = (): void => {
    if (!this.visual || this.closed) return;
    if (!this.resizing && this.frame && this.drawn) {
      this.resizing = {
        before: this.frame,
        drawn: this.drawn,
        narrowest: this.width,
        asked: 0,
        answered: 0,
        timer: setTimeout(() => this.resized(null), SIZE_WAIT_MS + REPORT_WAIT_MS),
      };
    }
    this.sizeTimer ??= setTimeout(this.onResize, SIZE_WAIT_MS);
  };

  private onResize = (): void => {
    if (this.sizeTimer) clearTimeout(this.sizeTimer);
    this.sizeTimer = null;
    const width = process.stdout.columns || this.width;
    this.height = process.stdout.rows || this.height;
    if (!this.visual || !this.frame || !this.drawn || this.closed) {
      this.width = width;
      this.schedule();
      return;
    }
    // Where the area went depends on the terminal: ask it where the cursor is now.
    const r = this.resizing;
    if (r) clearTimeout(r.timer);
    this.resizing = {
      before: r?.before ?? this.frame,
      drawn: r?.drawn ?? this.drawn,
      narrowest: Math.min(r?.narrowest ?? this.width, width),
      asked: (r?.asked ?? 0) + 1,
      answered: r?.answered ?? 0,
      timer: setTimeout(() => this.resized(null), REPORT_WAIT_MS),
    };
    this.width = width;
    process.stdout.write("\x1b[6n");
  };

  /** The terminal reported the cursor's column after a resize (null: it did not). */
  private resized(col: number | null): void {
    const r = this.resizing;
    if (!r) return;
    clearTimeout(r.timer);
    this.resizing = null;
    this.frame = afterResize(r.drawn, r.before, r.narrowest, this.width, col);
    this.schedule();
  }

  private onEnd = (): void => {
    this.queue.end();
  };

  /** A line read by the command loop enters the history (never a sub-prompt's answer). */
  private remember(line: string): void {
    if (!this.historyFile || this.historyError) {
      this.history = withEntry(this.history, line);
      return;
    }
    try {
      this.history = this.historyFile.add(line);
    } catch (error) {
      this.historyError = true;
      this.history = withEntry(this.history, line);
      void this.print(`… history not saved to ${this.historyFile.path}: ${(error as Error).message}`);
    }
  }

  private detach(): void {
    if (this.escapeTimer) clearTimeout(this.escapeTimer);
    if (this.sizeTimer) clearTimeout(this.sizeTimer);
    process.stdin.off("data", this.onData);
    process.stdin.off("end", this.onEnd);
    process.stdin.off("error", this.onEnd);
    process.off("SIGWINCH", this.onWinch);
    process.stdout.off("resize", this.onResize);
    process.off("SIGTERM", this.onSignal);
    process.off("SIGINT", this.onInterrupt);
    process.off("SIGHUP", this.onSignal);
    process.off("exit", this.onExit);
    try {
      process.stdin.setRawMode?.(false);
    } catch {
      // stdin already gone (hang-up): nothing to restore
    }
    process.stdin.pause();
  }

  /**
   * Leaves the terminal as it was, synchronously: the process is about to end. Lines typed
   * and not yet carried out each say so, then `last`, if given.
   */
  private restoreNow(last?: string): void {
    if (this.closed) return;
    for (const line of this.queue.drain())
      if (line.trim() !== "") this.lines.push(`✗ not done, the client is quitting: ${shown(line)}`);
    if (last) this.lines.push(last);
    this.closed = true;
    const area = this.frame ? erase(this.frame) : "";
    const keep = this.editor.text && this.visual ? `${shown(this.editor.text)}\r\n` : "";
    try {
      if (this.visual)
        writeSync(1, `${area}${this.lines.map((l) => `${l}\r\n`).join("")}${keep}${BRACKETED_PASTE_OFF}`);
      else if (this.lines.length) writeSync(1, this.lines.map((l) => `${l}\n`).join(""));
    } catch {
      // the terminal is gone
    }
    this.detach();
  }

  /**
   * A second Ctrl+C (or Ctrl+D) while a command still waits: leave without its answer, saying
   * which typed lines were not done; exit 130, as for an interrupted program.
   */
  private leaveNow(): void {
    this.restoreNow("… left without waiting for the answer to the command in progress");
    process.exit(130);
  }

  private onExit = (): void => {
    this.restoreNow();
  };

  /**
   * SIGINT is Ctrl+C where the terminal sends it as a signal (stdout not a terminal, so not
   * in raw mode) or from kill -INT: the same as the key, never an exit without logging out.
   */
  private onInterrupt = (): void => {
    if (this.closed) return;
    this.effect({ type: "interrupt", empty: true });
    this.schedule();
  };

  private onSignal = (signal: NodeJS.Signals): void => {
    this.restoreNow();
    process.exit(128 + (signal === "SIGHUP" ? 1 : 15));
  };
}
