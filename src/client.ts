// `chat connect`: the interactive client on a terminal, the scripted one otherwise.

import { Output } from "./client/output";
import { runScript } from "./client/script";
import { ChatSession, type SessionOptions } from "./client/session";
import { COMMAND_WORDS, runTerminal, Terminal } from "./client/terminal";
import { defaultHistoryFile } from "./client/tty/history";

export interface ClientOptions extends SessionOptions {
  json: boolean;
}

/** Resolves with the exit code: 0 after quit or end of input, 1 when the connection fails or is lost. */
export async function runClient(o: ClientOptions): Promise<number> {
  const interactive = process.stdin.isTTY === true && !o.json;
  const term = interactive
    ? new Terminal({ commands: COMMAND_WORDS, historyFile: defaultHistoryFile() })
    : null;
  const out = new Output(
    o.json ? "json" : interactive && process.stdout.isTTY ? "tty" : "plain",
    term ? term.print : (line) => process.stdout.write(`${line}\n`),
  );
  let giveUp: (code: number) => void = () => {};
  const fatal = new Promise<number>((resolve) => {
    giveUp = resolve;
  });
  const session = new ChatSession(o, (e) => {
    out.event(e);
    if (e.type === "message") term?.rememberName(e.message.sender);
    if ((e.type === "lost" && !e.reconnecting) || e.type === "gave_up") giveUp(1);
  });
  try {
    await session.connect();
  } catch (error) {
    out.error((error as Error).message);
    term?.close();
    return 1;
  }
  return term ? runTerminal(session, term, out, fatal) : runScript(session, out, fatal);
}
