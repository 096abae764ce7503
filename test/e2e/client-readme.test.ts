// The README's walkthrough, run for real: alice's and bob's console blocks are what the
// binary shows on a terminal (the address and the clock aside).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ChatServer, loggedIn, startServer, tempDir } from "./harness";
import { onPty, type Pty } from "./pty";

let server: ChatServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

/** The README's `console` blocks that start with `$ ./dist/chat connect`, without that line. */
function readmeSessions(): string[][] {
  const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
  const blocks = [...readme.matchAll(/```console\n([\s\S]*?)```/g)].map((m) => m[1]!.trimEnd().split("\n"));
  return blocks.filter((b) => b[0]!.startsWith("$ ./dist/chat connect ")).map((b) => b.slice(1));
}

const normal = (lines: string[], port: number) =>
  lines.map((l) =>
    l
      .replaceAll(`127.0.0.1:${port}`, "192.168.1.20:8080")
      .replace(/^\[\d\d:\d\d\] /, "[hh:mm] ")
      .replace(/^(✓ .* got ".*") at \d\d:\d\d$/, "$1 at hh:mm"),
  );

function connect(): Pty {
  return onPty(["connect", "127.0.0.1", String(server.port)], {
    cols: 100,
    rows: 40,
    env: { XDG_STATE_HOME: tempDir(), NO_COLOR: "1" },
  });
}

describe("the README", () => {
  test("the walkthrough's console blocks are what the client shows", async () => {
    const [alicesBlock, bobsBlock] = readmeSessions();
    expect(alicesBlock).toBeDefined();
    expect(bobsBlock).toBeDefined();
    (await loggedIn(server.port, "bob", "bob's password")).end();

    const alice = connect();
    await alice.see("or type /help for commands.");
    alice.type("/create alice\r");
    await alice.see(/\nPassword \(at least 8 characters\):$/);
    alice.type("alice's password\r");
    await alice.see(/\nRepeat the password:$/);
    alice.type("alice's password\r");
    await alice.see(/\nalice>$/);
    alice.type("/send bob are you there?\r");
    await alice.see(/\nalice → bob>$/);
    expect(normal(alice.lines(), server.port)).toEqual(normal(alicesBlock!, server.port));

    const bob = connect();
    await bob.see("or type /help for commands.");
    bob.type("/login bob\r");
    await bob.see(/\nPassword:$/);
    bob.type("bob's password\r");
    await bob.see(/\nbob>$/);
    for (const [line, after] of [
      ["/check", /\nbob>$/],
      // alice's client shows each message, then confirms it: bob gets the receipt.
      ["/r yes!", /\n✓ sent to alice\n✓ alice got "yes!" at \d\d:\d\d\nbob>$/],
      ["/to alice", /\nbob → alice>$/],
      ["now I'm here", /\n✓ sent to alice\n✓ alice got "now I'm here" at \d\d:\d\d\nbob → alice>$/],
    ] as const) {
      bob.type(`${line}\r`);
      await bob.see(after);
    }
    // The block ends on the last answer; the screen also has the prompt after it.
    expect(normal(bob.lines(), server.port)).toEqual([...normal(bobsBlock!, server.port), "bob → alice>"]);
    // And alice sees bob's answer above her prompt.
    await alice.see(
      /\n✓ bob got "are you there\?" at \d\d:\d\d\n\[\d\d:\d\d\] bob: yes!\n\[\d\d:\d\d\] bob: now I'm here\nalice → bob>$/,
    );
    for (const t of [alice, bob]) {
      t.type("/quit\r");
      expect(await t.exit()).toBe(0);
    }
  });
});
