// The command loop on a real pseudo-terminal (util-linux `script`): the prompt that says
// where text goes, Ctrl+C in a prompt, Ctrl+D at the main prompt, colour and NO_COLOR.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { track } from "../processes";
import { BIN, type ChatServer, loggedIn, startServer } from "./harness";

let server: ChatServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

/** `chat connect` on a pseudo-terminal; raw is every byte it wrote, screen without escapes. */
function onTerminal(port: number, env: Record<string, string> = {}) {
  const proc = track(
    Bun.spawn(["script", "-qfec", `${BIN} connect 127.0.0.1 ${port}`, "/dev/null"], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, TERM: "xterm", COLUMNS: "100", LINES: "40", ...env },
    }),
  );
  let raw = "";
  const waiters: (() => void)[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      raw += decoder.decode(chunk, { stream: true });
      for (const w of waiters.splice(0)) w();
    }
  })();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are what is removed.
  const screen = () => raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
  return {
    proc,
    screen,
    raw: () => raw,
    type(text: string) {
      proc.stdin.write(text);
      proc.stdin.flush();
    },
    async see(pattern: string | RegExp, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      const hit = () => (typeof pattern === "string" ? screen().includes(pattern) : pattern.test(screen()));
      while (!hit()) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${pattern}; the screen:\n${screen()}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
  };
}

describe("the client on a terminal", () => {
  test("the prompt shows where text goes; Ctrl+C cancels a prompt; Ctrl+D logs out and exits 0", async () => {
    (await loggedIn(server.port, "tty_alice")).end();
    const bob = await loggedIn(server.port, "tty_bob");
    const t = onTerminal(server.port);
    await t.see("or type /help for commands.");
    t.type("/login tty_alice\r");
    await t.see("Password: ");
    t.type("correct horse\r");
    await t.see("tty_alice> ");
    t.type("/to tty_bob\r");
    await t.see("tty_alice → tty_bob> ");
    t.type("plain text for bob\r");
    await bob.waitFor((e) => e.type === "message" && e.text === "plain text for bob", "the plain text");
    t.type("/send\r");
    await t.see("To: ");
    t.type("\x03"); // Ctrl+C
    await t.see("… cancelled");
    t.type("\x04"); // Ctrl+D at the main prompt
    await t.see("✓ logged out of tty_alice; bye");
    expect(await t.proc.exited).toBe(0);
    expect(t.screen()).not.toContain("correct horse");
    bob.end();
  });

  test("a message arriving during a password prompt is shown at once; Ctrl+C cancels the delete", async () => {
    (await loggedIn(server.port, "tty_carol")).end();
    const dave = await loggedIn(server.port, "tty_dave");
    const t = onTerminal(server.port);
    await t.see("or type /help for commands.");
    t.type("/login tty_carol\r");
    await t.see("Password: ");
    t.type("correct horse\r");
    await t.see("tty_carol> ");
    t.type("/delete\r");
    await t.see("Type yes to confirm: ");
    t.type("yes\r");
    await t.see("Password (to delete your account): ");
    t.type("half a secr");
    dave.say("/send tty_carol while you type");
    await t.see("tty_dave: while you type");
    t.type("\x03");
    await t.see("… cancelled");
    expect(t.screen()).not.toContain("half a secr");
    t.type("/check\r");
    await t.see("no unread messages"); // still there, still logged in
    t.type("\x04");
    expect(await t.proc.exited).toBe(0);
    dave.end();
  });

  test("colour on a terminal, none with NO_COLOR", async () => {
    const coloured = onTerminal(server.port);
    await coloured.see("or type /help for commands.");
    coloured.type("/frobnicate\r");
    await coloured.see("unknown command /frobnicate");
    expect(coloured.raw()).toContain("\x1b[31m✗ unknown command");
    coloured.type("\x04");
    expect(await coloured.proc.exited).toBe(0);

    const plain = onTerminal(server.port, { NO_COLOR: "1" });
    await plain.see("or type /help for commands.");
    plain.type("/frobnicate\r");
    await plain.see("unknown command /frobnicate");
    expect(plain.raw()).not.toContain("\x1b[31m");
    plain.type("\x04");
    expect(await plain.proc.exited).toBe(0);
  });
});
