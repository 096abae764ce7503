// Interactive mode on a terminal: the numbered menu and /commands, passwords without
// echo, and messages that arrive printed above the input line without garbling it.

import { clearLine, createInterface, cursorTo, type Interface } from "node:readline";
import { Writable } from "node:stream";
import { type ActionState, execute, type Io } from "./actions";
import { MENU, parseCommand } from "./commands";
import type { Output } from "./output";
import type { ChatSession } from "./session";

const PROMPT = "> ";

export class Terminal {
  private rl: Interface;
  /** While a password is typed nothing is echoed, and arriving lines wait. */
  private secret = false;
  private held: string[] = [];
  private prompting = false;
  private closed = false;
  private readonly closedPromise: Promise<void>;

  constructor() {
    const stdout = process.stdout;
    const muted = new Writable({
      write: (chunk, _enc, done) => {
        if (!this.secret) stdout.write(chunk);
        done();
      },
    });
    this.rl = createInterface({ input: process.stdin, output: muted, terminal: true, historySize: 200 });
    (muted as unknown as { columns: number }).columns = stdout.columns;
    this.closedPromise = new Promise((resolve) =>
      this.rl.once("close", () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  /** Prints a whole line above whatever is being typed. */
  print = (line: string): void => {
    if (this.secret) {
      this.held.push(line);
      return;
    }
    if (this.prompting) {
      cursorTo(process.stdout, 0);
      clearLine(process.stdout, 0);
    }
    process.stdout.write(`${line}\n`);
    if (this.prompting) this.rl.prompt(true);
  };

  ask(prompt: string, secret = false): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const onClose = () => resolve(null);
      this.rl.once("close", onClose);
      this.prompting = true;
      if (secret) {
        process.stdout.write(prompt);
        this.secret = true;
      }
      this.rl.question(secret ? "" : prompt, (answer) => {
        this.rl.off("close", onClose);
        this.prompting = false;
        if (secret) {
          this.secret = false;
          process.stdout.write("\n");
          for (const line of this.held.splice(0)) this.print(line);
        }
        resolve(answer);
      });
    });
  }

  onInterrupt(fn: () => void): void {
    this.rl.on("SIGINT", fn);
  }

  get done(): Promise<void> {
    return this.closedPromise;
  }

  close(): void {
    this.rl.close();
  }
}

export async function runTerminal(
  session: ChatSession,
  term: Terminal,
  out: Output,
  fatal: Promise<number>,
): Promise<number> {
  let failed: number | null = null;
  fatal.then((code) => {
    failed = code;
    term.close();
  });
  let interrupted = false;
  term.onInterrupt(() => {
    interrupted = true;
    term.close();
  });
  out.plain(
    `Connected to ${session.address}${session.info ? ` (chat server ${session.info.serverVersion})` : ""}.`,
  );
  for (const l of MENU) out.plain(l);
  out.plain("or type /help for commands.");
  const io: Io = { ask: (p, s) => term.ask(p, s), confirmSecrets: true, out };
  const state: ActionState = { lastTo: null };
  for (;;) {
    const prompt = session.name ? `${session.name}${PROMPT}` : PROMPT;
    const line = await term.ask(prompt);
    if (failed !== null) return failed;
    if (line === null) break; // Ctrl+D or Ctrl+C
    if ((await execute(parseCommand(line), session, io, state)) === "quit") {
      term.close();
      return 0;
    }
    if (failed !== null) return failed;
  }
  if (interrupted || !failed) {
    // Leaving without /quit: log out politely if we can.
    await Promise.race([
      session
        .settled()
        .then(() => session.quit())
        .catch(() => {}),
      Bun.sleep(2000),
    ]);
  }
  session.close();
  return failed ?? 0;
}
