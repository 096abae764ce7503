// Interactive mode on a terminal, on node:readline: lines are read continuously into a
// queue (none is lost while a command runs), passwords are neither echoed nor kept in the
// history, and lines printed meanwhile appear above the input line.

import { clearLine, createInterface, cursorTo, type Interface } from "node:readline";
import { Writable } from "node:stream";
import type { AskOptions, Io } from "./io";

export interface TerminalOptions {
  /** Command words for Tab completion. */
  commands: readonly string[];
  /** Where the command history is kept across sessions (not used by this front end). */
  historyFile?: string;
}

export class Terminal implements Io {
  readonly confirmSecrets = true;
  private readonly rl: Interface;
  private readonly queue: string[] = [];
  private waiter: { resolve: (line: string | null) => void; sub: boolean } | null = null;
  private ended = false;
  /** While a password is typed nothing is echoed; its prompt is redrawn below printed lines. */
  private secret = false;
  private secretPrompt = "";
  private mainPrompt = "> ";
  private readonly names = new Set<string>();

  constructor(o: TerminalOptions) {
    const stdout = process.stdout;
    const muted = new Writable({
      write: (chunk, _enc, done) => {
        if (!this.secret) stdout.write(chunk);
        done();
      },
    });
    (muted as unknown as { columns: number }).columns = stdout.columns;
    this.rl = createInterface({
      input: process.stdin,
      output: muted,
      terminal: true,
      historySize: 200,
      completer: (line: string) => this.complete(line, o.commands),
    });
    this.rl.on("line", (line) => {
      if (this.secret) {
        // readline put it in the history before telling us: take it out again.
        const history = (this.rl as unknown as { history: string[] }).history;
        if (history[0] === line) history.shift();
      }
      this.push(line);
    });
    this.rl.on("SIGINT", () => {
      // Ctrl+C cancels a sub-prompt; at the main prompt it ends the input (log out, exit).
      if (this.waiter?.sub) {
        this.rl.write(null, { ctrl: true, name: "u" });
        this.wake(null);
      } else this.rl.close();
    });
    this.rl.on("close", () => {
      this.ended = true;
      if (!this.secret) stdout.write("\n");
      this.wake(null);
    });
  }

  nextLine(): Promise<string | null> {
    return this.take(this.mainPrompt, false, false);
  }

  ask(prompt: string, options?: AskOptions): Promise<string | null> {
    return this.take(prompt, true, options?.secret === true);
  }

  print(line: string): Promise<void> {
    // Never held back, not even during a password: the server drops a client that does not
    // confirm a delivered message within its ACK timeout, and confirming waits for this.
    return new Promise((resolve) => {
      const prompting = this.waiter !== null && !this.ended;
      if (prompting) {
        cursorTo(process.stdout, 0);
        clearLine(process.stdout, 0);
      }
      process.stdout.write(`${line}\n`, () => resolve());
      if (prompting && this.secret) process.stdout.write(this.secretPrompt);
      else if (prompting) this.rl.prompt(true);
    });
  }

  setPrompt(prompt: string): void {
    this.mainPrompt = prompt;
    if (this.waiter && !this.waiter.sub && !this.ended) {
      this.rl.setPrompt(prompt);
      this.rl.prompt(true);
    }
  }

  rememberName(name: string): void {
    this.names.add(name);
  }

  close(): void {
    this.rl.close();
  }

  private take(prompt: string, sub: boolean, secret: boolean): Promise<string | null> {
    if (this.queue.length) return Promise.resolve(this.queue.shift()!);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = { resolve, sub };
      if (secret) {
        process.stdout.write(prompt);
        this.secret = true;
        this.secretPrompt = prompt;
        this.rl.setPrompt("");
      } else this.rl.setPrompt(prompt);
      this.rl.prompt();
    });
  }

  private push(line: string): void {
    if (this.waiter) this.wake(line);
    else this.queue.push(line);
  }

  private wake(line: string | null): void {
    const w = this.waiter;
    this.waiter = null;
    if (this.secret) {
      this.secret = false;
      process.stdout.write("\n");
    }
    w?.resolve(line);
  }

  private complete(line: string, commands: readonly string[]): [string[], string] {
    const word = line.slice(line.lastIndexOf(" ") + 1);
    const pool = word.startsWith("/") && !line.includes(" ") ? commands : [...this.names];
    const hits = pool.filter((c) => c.toLowerCase().startsWith(word.toLowerCase()));
    return [hits, word];
  }
}
