// The interactive client on a real terminal (a pseudo-terminal from util-linux `script`):
// the numbered menu, prompts, a password that is not echoed, and a message that arrives
// while someone is typing, printed above the input line without garbling it.

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

/** `chat connect` on a pseudo-terminal; screen is everything it wrote, escape codes removed. */
function onTerminal(port: number) {
  const proc = track(
    Bun.spawn(["script", "-qfec", `${BIN} connect 127.0.0.1 ${port}`, "/dev/null"], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, TERM: "xterm", COLUMNS: "100", LINES: "40" },
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

describe("chat connect on a terminal", () => {
  test("menu, prompts, a hidden password, and a message arriving mid-typing", async () => {
    const bob = await loggedIn(server.port, "bob");
    (await loggedIn(server.port, "alice", "alice's secret pw")).end();
    const t = onTerminal(server.port);
    for (const item of ["(1) Create an account", "(4) Check unread messages", "(7) Quit"]) await t.see(item);
    t.type("2\r");
    await t.see("Account name: ");
    t.type("alice\r");
    await t.see("Password: ");
    t.type("alice's secret pw\r");
    await t.see("✓ logged in as alice — no unread");
    expect(t.screen()).not.toContain("alice's secret pw");

    t.type("half a sen");
    await t.see("alice> half a sen");
    bob.say("/send alice ping from bob");
    await t.see(/bob: ping from bob\n(.*\n)*alice> half a sen/);

    t.type("tence\r");
    await t.see("✗ not a command, and no one to send it to: /to NAME first, or /send NAME TEXT (or /help)");
    t.type("/quit\r");
    await t.see("✓ logged out of alice; bye");
    expect(await t.proc.exited).toBe(0);
    bob.end();
  });
});
