// The command loop shared by the terminal and script mode: every line is executed once, in
// order, each command finishing (its answer printed) before the next starts; lines typed
// meanwhile wait in the Io's queue. Events from the session (messages, connection changes)
// are printed as they come, and a message is confirmed only once its print has resolved.

import { type ActionState, execute, knownAccount } from "./actions";
import { MENU, parseCommand } from "./commands";
import type { Io } from "./io";
import type { Output } from "./output";
import { safeInline } from "./sanitize";
import type { ChatSession, ClientEvent } from "./session";

/** Exit statuses of `chat connect` (also in the README and connect --help). */
export const EXIT = { ok: 0, lost: 1, usage: 2, failed: 3 } as const;

export interface LoopOptions {
  io: Io;
  out: Output;
  /** Script mode: the exit status counts failed commands; the end of input does not log out. */
  script: boolean;
  /** Script mode: after the end of input, keep printing messages until `stop` resolves. */
  follow?: boolean;
  /** SIGINT or SIGTERM while following. */
  stop?: Promise<void>;
}

/** The prompt: who is logged in and who plain text goes to, e.g. "alice → bob> ". */
export function promptFor(name: string | null, target: string | null, offline: boolean): string {
  const who = name ? `${safeInline(name)}${target ? ` → ${safeInline(target)}` : ""}` : "";
  return `${offline ? "(reconnecting) " : ""}${who}> `;
}

export class CommandLoop {
  readonly state: ActionState = { target: null, lastFrom: null, known: new Map() };
  private session: ChatSession | null = null;
  private failures = 0;
  private offline = false;
  private fatalCode: number | null = null;
  private giveUp: () => void = () => {};
  private readonly fatal = new Promise<void>((resolve) => {
    this.giveUp = resolve;
  });

  constructor(private readonly o: LoopOptions) {}

  attach(session: ChatSession): void {
    this.session = session;
  }

  /** Ends the loop with this exit status (the server is gone, the output is broken). */
  fail(code: number): void {
    if (this.fatalCode !== null) return;
    this.fatalCode = code;
    this.giveUp();
  }

  /** The session's event handler: resolves once what the event shows has been written. */
  onEvent = async (e: ClientEvent): Promise<void> => {
    const { out, io } = this.o;
    switch (e.type) {
      case "message":
        this.state.lastFrom = e.message.sender;
        knownAccount(this.state, io, e.message.sender);
        await out.message(e.message);
        return;
      case "receipt":
        // Hidden ones are confirmed all the same: nobody asked to see them again.
        if (this.state.receiptsHidden) return;
        break;
      case "lost":
        this.offline = e.reconnecting;
        this.updatePrompt();
        if (!e.reconnecting) this.fail(EXIT.lost);
        break;
      case "gave_up":
        this.fail(EXIT.lost);
        break;
      case "reconnected":
        this.offline = false;
        this.updatePrompt();
        break;
      case "session_ended":
        this.updatePrompt();
        break;
    }
    await out.event(e);
  };

  /** Runs until /quit, the end of input (and, when following, a stop), or a lost server. */
  async run(): Promise<number> {
    const { io, out } = this.o;
    const session = this.session!;
    if (!this.o.script) {
      const about = session.info ? ` (chat server ${safeInline(session.info.serverVersion)})` : "";
      out.plain(`Connected to ${session.address}${about}.`);
      for (const l of MENU) out.plain(l);
      out.plain("or type /help for commands.");
    }
    this.updatePrompt();
    let quit = false;
    const stop = this.o.stop?.then(() => null) ?? new Promise<null>(() => {});
    for (;;) {
      const line = await this.orFatal(Promise.race([io.nextLine(), stop]));
      if (this.fatalCode !== null) return this.finish();
      if (line === null || line === undefined) break;
      const outcome = await this.orFatal(
        execute(parseCommand(line), { session, io, out, state: this.state }),
      );
      if (this.fatalCode !== null) return this.finish();
      this.updatePrompt();
      if (outcome === "failed") this.failures++;
      if (outcome === "quit") {
        quit = true;
        this.refuseUnread("the client is quitting");
        break;
      }
    }
    if (!quit) await this.endOfInput();
    return this.finish();
  }

  private async endOfInput(): Promise<void> {
    const session = this.session!;
    if (!this.o.script) {
      if (!session.connected) {
        await this.o.out.info("bye (not connected to the server: left without logging out there)");
        return;
      }
      // Ctrl+D or Ctrl+C at the main prompt: log out politely if the server answers soon.
      await Promise.race([
        session
          .settled()
          .then(() => session.quit())
          .then((r) => this.o.out.reply("quit", r))
          .catch(() => {}),
        Bun.sleep(2000),
        this.fatal,
      ]);
      return;
    }
    await this.orFatal(session.settled());
    if (this.o.follow && this.fatalCode === null) {
      await this.orFatal(this.o.stop ?? new Promise<void>(() => {}));
      if (this.fatalCode !== null) return;
      await Promise.race([session.quit().catch(() => {}), Bun.sleep(2000)]);
    }
  }

  /**
   * Lines typed ahead that will not run: each one says so (and counts as a failure). Not
   * awaited: finish() waits, bounded, for the output to be written.
   */
  private refuseUnread(why: string): void {
    for (const line of this.o.io.takeUnread()) {
      if (line.trim() === "") continue;
      this.failures++;
      void this.o.out.error(`not done, ${why}: ${clipLine(line)}`, { command: "unread", line });
    }
  }

  private async finish(): Promise<number> {
    const session = this.session!;
    if (this.fatalCode !== null) this.refuseUnread("the server is lost");
    // What was received is written before leaving (unless the output itself is broken),
    // and a loss reported meanwhile still decides the exit status.
    await Promise.race([session.drained(), Bun.sleep(2000)]);
    await Promise.race([this.o.out.flushed().catch(() => {}), Bun.sleep(2000)]);
    const code = this.fatalCode ?? (this.o.script && this.failures > 0 ? EXIT.failed : EXIT.ok);
    session.close();
    this.o.io.close();
    return code;
  }

  private updatePrompt(): void {
    this.o.io.setPrompt(promptFor(this.session?.name ?? null, this.state.target, this.offline));
  }

  private orFatal<T>(p: Promise<T>): Promise<T | undefined> {
    return Promise.race([p, this.fatal.then(() => undefined)]);
  }
}

/** A typed line, cut short for a one-line report. */
function clipLine(line: string): string {
  const chars = [...line.trim()];
  return chars.length > 60 ? `${chars.slice(0, 60).join("")}…` : chars.join("");
}
