// The interactive client on a real pseudo-terminal, the screen as a terminal emulator shows
// it: the numbered menu, prompts, a password that is not echoed, and a message that arrives
// while someone is typing, printed above the input line without garbling it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChatServer, loggedIn, startServer, tempDir } from "./harness";
import { onPty } from "./pty";

let server: ChatServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

const connect = (port: number, cols = 100, rows = 40) =>
  onPty(["connect", "127.0.0.1", String(port)], { cols, rows, env: { XDG_STATE_HOME: tempDir() } });

describe("chat connect on a terminal", () => {
  test("menu, prompts, a hidden password, and a message arriving mid-typing", async () => {
    const bob = await loggedIn(server.port, "bob");
    (await loggedIn(server.port, "alice", "alice's secret pw")).end();
    const t = connect(server.port);
    for (const item of ["(1) Create an account", "(4) Check unread messages", "(7) Quit"]) await t.see(item);
    t.type("2\r");
    await t.see(/\nAccount name:$/);
    t.type("alice\r");
    await t.see(/\nPassword:$/);
    t.type("alice's secret pw\r");
    await t.see("✓ logged in as alice — no unread");
    expect(t.text()).not.toContain("alice's secret pw");

    t.type("half a sen");
    await t.see(/\nalice> half a sen$/);
    bob.say("/send alice ping from bob");
    await t.see(/bob: ping from bob\nalice> half a sen$/);

    t.type("tence\r");
    // Nobody written to yet: plain text has no target, and says so rather than vanish.
    await t.see("✗ not a command, and no one to send it to: /to NAME first, or /send NAME TEXT (or /help)");
    expect(t.text()).toContain("alice> half a sentence\n");
    // /r answers whoever wrote last; /to sets where plain text goes, and the prompt shows it.
    t.type("/r pong\r");
    // bob's client shows the reply and confirms it: alice's shows the receipt.
    await t.see(/\nalice> \/r pong\n✓ sent to bob\n✓ bob got "pong" at \d\d:\d\d\nalice>$/);
    await bob.waitFor((e) => e.type === "message" && e.text === "pong", "the reply");
    t.type("/to bob\r");
    await t.see(/\nalice → bob>$/);
    t.type("and plain text\r");
    await bob.waitFor((e) => e.type === "message" && e.text === "and plain text", "plain text");
    await t.see(
      /\nalice → bob> and plain text\n✓ sent to bob\n✓ bob got "and plain text" at \d\d:\d\d\nalice → bob>$/,
    );
    // Pasted after /quit: it is not done, and says so.
    t.type("\x1b[200~/quit\r/send bob too late\r\x1b[201~");
    await t.see(/\n✓ logged out of alice; bye\n✗ not done, the client is quitting: \/send bob too late$/);
    expect(await t.exit()).toBe(0);
    bob.end();
  });
});
