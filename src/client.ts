// `chat connect`: the interactive client on a terminal, the scripted one otherwise.

import { COMMAND_WORDS } from "./client/commands";
import type { Io } from "./client/io";
import { CommandLoop, EXIT } from "./client/loop";
import { Output, useColor } from "./client/output";
import { ScriptIo } from "./client/script";
import { ChatSession, type SessionOptions } from "./client/session";
import { Terminal } from "./client/terminal";
import { defaultHistoryFile } from "./client/tty/history";

export interface ClientOptions extends SessionOptions {
  json: boolean;
  /** Script mode: after the end of input, keep printing messages until SIGINT or SIGTERM. */
  follow: boolean;
  color: "always" | "never" | "auto";
}

/**
 * Resolves with the exit code: 0 when everything worked, 3 (script mode) when a command
 * failed, 1 when the server could not be reached or was lost (2, usage errors, is main's).
 */
export async function runClient(o: ClientOptions): Promise<number> {
  const interactive = process.stdin.isTTY === true && !o.json && !o.follow;
  const scriptIo = interactive ? null : new ScriptIo();
  const io: Io = scriptIo ?? new Terminal({ commands: COMMAND_WORDS, historyFile: defaultHistoryFile() });
  const color = !o.json && useColor(o.color, process.stdout.isTTY === true);
  const out = new Output(o.json ? "json" : "text", (line) => io.print(line), color);
  const signals = o.follow ? stopSignals() : null;
  const loop = new CommandLoop({ io, out, script: !interactive, follow: o.follow, stop: signals?.stopped });
  const session = new ChatSession(o, loop.onEvent);
  loop.attach(session);
  scriptIo?.broken.then((why) => {
    process.stderr.write(`chat: ${why}\n`);
    loop.fail(EXIT.lost);
  });
  try {
    try {
      await session.connect();
    } catch (error) {
      await out.error((error as Error).message).catch(() => {});
      io.close();
      return EXIT.lost;
    }
    return await loop.run();
  } finally {
    signals?.remove();
  }
}

/** SIGINT/SIGTERM with --follow: stop following, log out, exit 0. */
function stopSignals(): { stopped: Promise<void>; remove(): void } {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let count = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal while logging out: leave at once.
    if (++count > 1) process.exit(signal === "SIGINT" ? 130 : 143);
    stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    stopped,
    remove() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
