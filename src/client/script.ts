// Scripted mode (stdin is not a terminal): the same commands, one per line; answers to
// prompts (names, passwords, text) are the following lines. Exits at end of input.

import { createInterface } from "node:readline";
import { type ActionState, execute, type Io } from "./actions";
import { parseCommand } from "./commands";
import type { Output } from "./output";
import type { ChatSession } from "./session";

/** Resolves with the exit code: 0 after /quit or end of input, 1 when the connection is gone for good. */
export async function runScript(session: ChatSession, out: Output, fatal: Promise<number>): Promise<number> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  let failed: number | null = null;
  fatal.then((code) => {
    failed = code;
  });
  const next = async (): Promise<string | null> => {
    const r = await Promise.race([lines.next(), fatal.then(() => ({ done: true, value: undefined }))]);
    return r.done ? null : (r.value as string);
  };
  const io: Io = { ask: () => next(), confirmSecrets: false, out };
  const state: ActionState = { lastTo: null };
  try {
    for (;;) {
      const line = await next();
      if (failed !== null) return failed;
      if (line === null) break;
      if ((await execute(parseCommand(line), session, io, state)) === "quit") return failed ?? 0;
      if (failed !== null) return failed;
    }
    // End of input: wait for the answers still owed, then leave.
    await Promise.race([session.settled(), fatal]);
    if (failed !== null) return failed;
    session.close();
    return 0;
  } finally {
    rl.close();
  }
}
