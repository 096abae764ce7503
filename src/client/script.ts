// Script mode (stdin is not a terminal, or --json, or --follow): the same commands, one per
// line; answers to prompts (names, passwords, texts) are the following lines. Lines are
// read ahead into a queue as they come; output goes to stdout, a line at a time. When the
// input is a terminal (a person using --json), sub-prompts go to stderr and passwords are
// typed without echo, so the JSON on stdout stays clean and no password shows.

import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import type { AskOptions, Io } from "./io";
import { echoOff, echoOn } from "./tty-echo";

/** Lines read ahead of the command loop before reading pauses (a bound on memory). */
const MAX_QUEUED_LINES = 1000;

export class ScriptIo implements Io {
  /** A person typing is asked twice for a new password, and nothing is read ahead for a refused command. */
  readonly confirmSecrets: boolean;
  readonly scripted: boolean;
  private readonly queue: string[] = [];
  private waiter: ((line: string | null) => void) | null = null;
  private ended = false;
  private paused = false;
  private readonly rl: Interface;
  private brokenResolve: (why: string) => void = () => {};
  /** Resolves (with a reason) when the output can no longer be written (e.g. a closed pipe). */
  readonly broken = new Promise<string>((resolve) => {
    this.brokenResolve = resolve;
  });

  constructor(
    input: Readable = process.stdin,
    private readonly output: Writable = process.stdout,
    /** Where sub-prompts go when a person types (null: nowhere, the input is a script). */
    private readonly prompts: Writable | null = promptsTo(input),
  ) {
    this.confirmSecrets = prompts !== null;
    this.scripted = prompts === null;
    this.rl = createInterface({ input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
    this.rl.on("line", (line) => this.push(line));
    this.rl.on("close", () => {
      this.ended = true;
      this.wake(null);
    });
    output.on("error", (error: Error) => this.brokenResolve(`cannot write the output: ${error.message}`));
  }

  nextLine(): Promise<string | null> {
    return this.take();
  }

  async ask(prompt: string, options: AskOptions = {}): Promise<string | null> {
    // Typed ahead (or a script): the line is already here, and was echoed when it was typed.
    if (this.queue.length > 0 || this.ended || !this.prompts) return this.take();
    const quiet = options.secret === true && echoOff();
    this.prompts.write(prompt);
    try {
      return await this.take();
    } finally {
      if (quiet) {
        echoOn();
        // The Enter that ended the password was not echoed either.
        this.prompts.write("\n");
      }
    }
  }

  print(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.output.write(`${line}\n`, (error) => {
        if (error) {
          this.brokenResolve(`cannot write the output: ${error.message}`);
          reject(error);
        } else resolve();
      });
    });
  }

  setPrompt(): void {}

  rememberName(): void {}

  putBack(line: string): void {
    this.queue.unshift(line);
  }

  takeUnread(): string[] {
    this.ended = true;
    return this.queue.splice(0);
  }

  close(): void {
    echoOn();
    this.rl.close();
  }

  private push(line: string): void {
    if (this.waiter) {
      this.wake(line);
      return;
    }
    this.queue.push(line);
    if (this.queue.length >= MAX_QUEUED_LINES && !this.paused) {
      this.paused = true;
      this.rl.pause();
    }
  }

  private take(): Promise<string | null> {
    const line = this.queue.shift();
    if (this.paused && !this.ended && this.queue.length < MAX_QUEUED_LINES / 2) {
      this.paused = false;
      this.rl.resume();
    }
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private wake(line: string | null): void {
    const w = this.waiter;
    this.waiter = null;
    w?.(line);
  }
}

/** stderr, when both it and the input are a terminal: a person is typing and reading. */
function promptsTo(input: Readable): Writable | null {
  const tty = (s: unknown) => (s as { isTTY?: boolean }).isTTY === true;
  return tty(input) && tty(process.stderr) ? process.stderr : null;
}
