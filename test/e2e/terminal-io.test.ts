// The terminal client as a person sees it (a real pseudo-terminal, the screen rendered by
// xterm.js): nothing typed or pasted is lost while messages arrive, a long wrapped input
// survives messages and resizes with the cursor in place, passwords appear nowhere, Ctrl+C
// cancels a sub-prompt and Ctrl+D leaves the terminal as it was.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { hostileServer } from "./client-hostile-server";
import { type ChatServer, type Event, loggedIn, startServer, tempDir } from "./harness";
import { onPty, type Pty } from "./pty";

let server: ChatServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

const PASSWORD = "correct horse";

function connect(cols: number, rows: number, stateDir = tempDir()) {
  return onPty(["connect", "127.0.0.1", String(server.port)], {
    cols,
    rows,
    env: { XDG_STATE_HOME: stateDir },
  });
}

async function logIn(t: Pty, name: string, password = PASSWORD) {
  await t.see("or type /help for commands.");
  t.type(`/login ${name}\r`);
  await t.see(/\nPassword:$/);
  t.type(`${password}\r`);
  await t.see(`✓ logged in as ${name}`);
  await t.see(new RegExp(`\\n${name}> $|\\n${name}>$`));
}

const count = (lines: string[], pattern: RegExp) => lines.filter((l) => pattern.test(l)).length;
const messagesTo = (c: { events: Event[] }) =>
  c.events.filter((e) => e.type === "message").map((e) => e.text);

/** Waits (polling, bounded) until the file has `text`: nothing on the pty says when it is written. */
async function fileSays(path: string, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const read = () => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  while (!read().includes(text)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${text} in ${path}:\n${read()}`);
    await Bun.sleep(20);
  }
}

/** The row of the screen where the last line (the input area) starts. */
function areaTop(t: Pty): number {
  return t.lineStart(t.cursor().row);
}

describe("terminal input and output", () => {
  test("20 lines pasted at once while 20 messages arrive: all 20 go out in order, all 20 are on screen", async () => {
    const bob = await loggedIn(server.port, "paste-bob");
    (await loggedIn(server.port, "paste-alice")).end();
    const t = connect(100, 40);
    await logIn(t, "paste-alice");
    const lines = Array.from({ length: 20 }, (_, i) => `/send paste-bob paste-${i + 1}`);
    t.type(`\x1b[200~${lines.join("\r")}\r\x1b[201~`);
    bob.say(...Array.from({ length: 20 }, (_, i) => `/send paste-alice from-bob-${i + 1}`));
    await bob.waitFor((e) => e.type === "message" && e.text === "paste-20", "the 20th pasted line");
    await t.see(/paste-bob: from-bob-20\n/);
    // The first line is read under the prompt without a target; once sent, text goes to paste-bob.
    const echo = (i: number) => `${i === 0 ? "paste-alice> " : "paste-alice → paste-bob> "}${lines[i]}`;
    await t.see(() => t.lines().filter((l) => l === echo(19)).length === 1);
    expect(messagesTo(bob)).toEqual(Array.from({ length: 20 }, (_, i) => `paste-${i + 1}`));
    const screen = t.lines();
    const shown = screen.filter((l) => / paste-bob: from-bob-\d+$/.test(l)).map((l) => l.replace(/.*: /, ""));
    expect(shown).toEqual(Array.from({ length: 20 }, (_, i) => `from-bob-${i + 1}`));
    for (let i = 0; i < lines.length; i++) expect(screen.filter((l) => l === echo(i)).length).toBe(1);
    const echoed = screen.filter((l) => l.includes("> /send paste-bob "));
    expect(echoed).toEqual(lines.map((_, i) => echo(i)));
    expect(screen[screen.length - 1]).toBe("paste-alice → paste-bob>");
    bob.end();
  });

  test("lines typed while a command waits for its answer wait their turn, say so, and all go out in order", async () => {
    const own = await startServer();
    const bob = await loggedIn(own.port, "wait-bob");
    (await loggedIn(own.port, "wait-alice")).end();
    const t = onPty(["connect", "127.0.0.1", String(own.port)], {
      cols: 80,
      rows: 24,
      env: { XDG_STATE_HOME: tempDir() },
    });
    await logIn(t, "wait-alice");
    own.proc.kill("SIGSTOP"); // the server stops answering
    try {
      t.type("/send wait-bob one\r");
      await t.see(/\nwait-alice> \/send wait-bob one\nwait-alice>$/);
      t.type("/send wait-bob two\r");
      t.type("/send wait-bob three\r");
      t.type("four");
      await t.see(/\n\(2 waiting\) wait-alice> four$/);
    } finally {
      own.proc.kill("SIGCONT");
    }
    t.type("\x15");
    await bob.waitFor((e) => e.type === "message" && e.text === "three", "the third line");
    expect(messagesTo(bob)).toEqual(["one", "two", "three"]);
    // Each answer, and (as bob's client shows each message) each receipt, then the prompt.
    const receipts = () => t.lines().filter((l) => /^✓ wait-bob got "(one|two|three)" at \d\d:\d\d$/.test(l));
    await t.see(() => receipts().length === 3 && t.lines().at(-1) === "wait-alice → wait-bob>");
    const screen = t.lines();
    expect(screen.filter((l) => l.startsWith("✓ sent to wait-bob")).length).toBe(3);
    expect(
      screen.filter((l) => /> \/send wait-bob (one|two|three)$/.test(l)).map((l) => l.split(" ").at(-1)),
    ).toEqual(["one", "two", "three"]);
    bob.end();
  });

  test("Ctrl+C while a command waits for a server that does not answer: it says so; again, it leaves at once", async () => {
    const own = await startServer();
    (await loggedIn(own.port, "stuck-alice")).end();
    const t = onPty(["connect", "127.0.0.1", String(own.port)], {
      cols: 80,
      rows: 24,
      env: { XDG_STATE_HOME: tempDir() },
    });
    await logIn(t, "stuck-alice");
    own.proc.kill("SIGSTOP");
    try {
      t.type("/send stuck-alice never answered\r");
      t.type("typed after it\r");
      await t.see(/\n\(1 waiting\) stuck-alice>$/);
      t.type("\x03");
      await t.see("… leaving once the command in progress is done (Ctrl+C again: leave now)");
      t.type("\x03");
      expect(await t.exit()).toBe(130);
    } finally {
      own.proc.kill("SIGCONT");
    }
    const screen = t.lines();
    expect(screen.slice(-2)).toEqual([
      "✗ not done, the client is quitting: typed after it",
      "… left without waiting for the answer to the command in progress",
    ]);
    expect(t.cursor().col).toBe(0);
    expect(t.emulator.modes.bracketedPasteMode).toBe(false);
    expect(t.proc.terminal!.localFlags & 0o12).toBe(0o12);
    await own.stop();
  });

  test("Ctrl+C on a typed line clears it; on the empty line it logs out and exits 0", async () => {
    (await loggedIn(server.port, "ctrlc-alice")).end();
    const t = connect(80, 24);
    await logIn(t, "ctrlc-alice");
    t.type("half typed");
    await t.see(/\nctrlc-alice> half typed$/);
    t.type("\x03");
    await t.see(/\nctrlc-alice>$/);
    t.type("\x03");
    await t.see("✓ logged out of ctrlc-alice; bye");
    expect(await t.exit()).toBe(0);
    expect(t.cursor().col).toBe(0);
    expect(t.lines().at(-1)).toBe("✓ logged out of ctrlc-alice; bye");
  });

  test("a 300-character input wrapped on 40 columns while messages arrive: every message shown, input and cursor restored", async () => {
    const bob = await loggedIn(server.port, "wrap-bob");
    (await loggedIn(server.port, "wrap-alice")).end();
    const t = connect(40, 30);
    await logIn(t, "wrap-alice");
    const body = Array.from({ length: 29 }, (_, i) => `w${String(i).padStart(2, "0")}-45678`).join("");
    const input = `/send wrap-bob ${body}`.slice(0, 300);
    for (let i = 0; i < input.length; i += 50) t.type(input.slice(i, i + 50));
    await t.see((() => t.lines().at(-1) === `wrap-alice> ${input}`) as () => boolean);
    const back = 37;
    t.type("\x1b[D".repeat(back));
    const prompt = "wrap-alice> ";
    const offset = prompt.length + input.length - back;
    const cursorAt = () =>
      t.cursor().row - areaTop(t) === Math.floor(offset / 40) && t.cursor().col === offset % 40;
    await t.see(cursorAt);
    for (let i = 1; i <= 3; i++) bob.say(`/send wrap-alice arriving ${i} while typing`);
    await t.see("wrap-bob: arriving 3 while typing");
    await t.see(() => t.lines().at(-1) === `${prompt}${input}` && cursorAt());
    const screen = t.lines();
    for (let i = 1; i <= 3; i++)
      expect(count(screen, new RegExp(`wrap-bob: arriving ${i} while typing$`))).toBe(1);
    expect(screen.slice(-4, -1).map((l) => l.replace(/^\[[^\]]+\] /, ""))).toEqual([
      "wrap-bob: arriving 1 while typing",
      "wrap-bob: arriving 2 while typing",
      "wrap-bob: arriving 3 while typing",
    ]);
    // The cursor is where the person left it: what is typed now goes there.
    t.type("[inserted]");
    const edited = `${input.slice(0, input.length - back)}[inserted]${input.slice(input.length - back)}`;
    const at = prompt.length + input.length - back + "[inserted]".length;
    await t.see(
      () =>
        t.lines().at(-1) === `${prompt}${edited}` &&
        t.cursor().row - areaTop(t) === Math.floor(at / 40) &&
        t.cursor().col === at % 40,
    );
    // Ctrl+A Ctrl+K empties the line; a short one goes out.
    t.type("\x01\x0b/send wrap-bob short one\r");
    await bob.waitFor((e) => e.type === "message" && e.text === "short one", "the short line");
    await t.see(
      /\nwrap-alice> \/send wrap-bob short one\n✓ sent to wrap-bob\n✓ wrap-bob got "short one" at \d\d:\d\d\nwrap-alice → wrap-bob>$/,
    );
    bob.end();
  });

  test("wide characters (CJK, emoji) in a wrapped input: a message arrives, the input and cursor stay", async () => {
    const bob = await loggedIn(server.port, "wide-bob");
    (await loggedIn(server.port, "wide-alice")).end();
    const t = connect(21, 30);
    await logIn(t, "wide-alice");
    const prompt = "wide-alice> ";
    const input = "世界🙂ab界🙂x世界世界🙂🙂cd世界🙂";
    t.type(input);
    await t.see(() => t.lines().at(-1) === `${prompt}${input}`);
    t.type("\x1b[D".repeat(5)); // five graphemes back: before "cd世界🙂"
    bob.say("/send wide-alice 你好 🙂 from bob");
    await t.see("wide-bob: 你好 🙂 from bob");
    t.type("|");
    const edited = `${[...input].slice(0, -5).join("")}|${[...input].slice(-5).join("")}`;
    await t.see(() => t.lines().at(-1) === `${prompt}${edited}`);
    // The area's rows: a wide character that does not fit at a row's end starts the next row.
    const rows = t.rowsText().slice(areaTop(t));
    for (const r of rows) expect(Bun.stringWidth(r)).toBeLessThanOrEqual(21);
    bob.end();
  });

  test("resizes while typing, then messages: the screen stays intact", async () => {
    const bob = await loggedIn(server.port, "resize-bob");
    (await loggedIn(server.port, "resize-alice")).end();
    const t = connect(50, 30);
    await logIn(t, "resize-alice");
    const prompt = "resize-alice> ";
    const input = `/send resize-bob ${"0123456789".repeat(9)}end`;
    t.type(input);
    t.type("\x1b[D".repeat(20));
    const offset = prompt.length + input.length - 20;
    // Drawn and the cursor moved back before the first resize (a redraw still on its way when
    // the size changes would be garbled on any terminal).
    await t.see(
      () =>
        t.lines().at(-1) === `${prompt}${input}` &&
        t.cursor().row - areaTop(t) === Math.floor(offset / 50) &&
        t.cursor().col === offset % 50,
    );
    let n = 0;
    for (const [cols, rows] of [
      [30, 30],
      [70, 25],
      [23, 30],
    ] as const) {
      t.resize(cols, rows);
      n++;
      // The client redraws for the new width (a message in the same instant would be drawn for
      // the old one: no program can know of a resize before the terminal tells it).
      const settled = () =>
        t.lines().at(-1) === `${prompt}${input}` &&
        t.cursor().row - areaTop(t) === Math.floor(offset / cols) &&
        t.cursor().col === offset % cols;
      await t.see(settled);
      bob.say(`/send resize-alice after resize ${n}`);
      await t.see(`resize-bob: after resize ${n}`);
      await t.see(settled);
      const screen = t.lines();
      const login = screen.findIndex((l) => l.startsWith("✓ logged in as resize-alice"));
      expect(login).toBeGreaterThan(0);
      const after = screen.slice(login + 1).map((l) => l.replace(/^\[[^\]]+\] /, ""));
      expect(after).toEqual([
        ...Array.from({ length: n }, (_, i) => `resize-bob: after resize ${i + 1}`),
        `${prompt}${input}`,
      ]);
    }
    t.type("\r");
    await bob.waitFor(
      (e) => e.type === "message" && e.text === input.slice("/send resize-bob ".length),
      "the line",
    );
    bob.end();
  });

  test("--json typed on a terminal: prompts on stderr, the password never echoed, JSON lines on stdout", async () => {
    const dir = tempDir();
    const out = join(dir, "out.jsonl");
    const password = "json never shown 678";
    const t = onPty(["connect", "--json", "127.0.0.1", String(server.port)], { stdoutTo: out });
    t.type("/create json-dave\r");
    await t.see(/Password \(at least \d+ characters\): ?$/);
    t.type(`${password}\r`);
    await t.see(/Repeat the password: ?$/);
    t.type(`${password}\r`);
    await fileSays(out, '"command":"login","ok":true');
    t.type("/quit\r");
    expect(await t.exit()).toBe(0);
    expect(t.text()).not.toContain(password);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(readFileSync(out, "utf8")).not.toContain(password);
  });

  test("a password is never on screen nor in the history file; history is kept across sessions", async () => {
    const state = tempDir();
    const password = "never shown 12345";
    const t = connect(80, 30, state);
    await t.see("or type /help for commands.");
    t.type("1\r");
    await t.see(/\nAccount name:$/);
    t.type("hist-carol\r");
    await t.see(/\nPassword \(at least \d+ characters\):$/);
    t.type(`${password}\r`);
    await t.see(/\nRepeat the password:$/);
    t.type(`${password}\r`);
    await t.see("✓ logged in as hist-carol");
    t.type("/check\r");
    await t.see(/\nhist-carol> \/check\n/);
    t.type("/quit\r");
    expect(await t.exit()).toBe(0);
    expect(t.text()).not.toContain(password);
    const file = join(state, "chat", "history");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe("1\n/check\n/quit\n");

    // The next session: Up brings the history back; typed ahead, the password stays hidden.
    const u = connect(80, 30, state);
    await u.see("or type /help for commands.");
    u.type("\x1b[A");
    await u.see(/\n> \/quit$/);
    u.type("\x1b[A\x1b[A");
    await u.see(/\n> 1$/);
    u.type("\x15"); // Ctrl+U: the line is empty again
    await u.see(/\n>$/);
    u.type(`/login hist-carol\r${password}\r`);
    await u.see("✓ logged in as hist-carol");
    u.type("\x1b[A");
    await u.see(/\nhist-carol> \/login hist-carol$/);
    u.type("\x15/quit\r");
    expect(await u.exit()).toBe(0);
    expect(u.text()).not.toContain(password);
    expect(readFileSync(file, "utf8")).not.toContain(password);
    expect(readFileSync(file, "utf8").split("\n").slice(-3)).toEqual(["/login hist-carol", "/quit", ""]);
  });

  test("Ctrl+C cancels a sub-prompt; Ctrl+D at the main prompt exits, the terminal restored and on a fresh line", async () => {
    const t = connect(80, 30);
    await t.see("or type /help for commands.");
    t.type("2\r");
    await t.see(/\nAccount name:$/);
    t.type("half-a-na");
    await t.see(/\nAccount name: half-a-na$/);
    t.type("\x03");
    // Only the prompt is cancelled, and it says so; nothing was sent.
    await t.see(/\nAccount name: \^C\n… cancelled\n>$/);
    // Ctrl+Z with no shell to stop to: nothing happens, the client goes on.
    t.type("\x1a/help\r");
    await t.see("/quit                   log out and exit");
    expect(t.emulator.modes.bracketedPasteMode).toBe(true);
    t.type("\x04");
    expect(await t.exit()).toBe(0);
    expect(t.cursor().col).toBe(0);
    expect(t.lines().at(-1)).not.toMatch(/^>/);
    expect(t.emulator.modes.bracketedPasteMode).toBe(false);
    // Canonical mode and echo are back on (ICANON 0o2, ECHO 0o10 in c_lflag).
    expect(t.proc.terminal!.localFlags & 0o12).toBe(0o12);
  });

  test("a 10,000-character paste: the input area keeps to the screen, the line gets an answer", async () => {
    const t = connect(80, 24);
    await t.see("or type /help for commands.");
    const long = "0123456789".repeat(1000);
    t.type(`\x1b[200~${long}\x1b[201~`);
    // The area shows the 23 rows up to the cursor; the row above it is the output before.
    // "> " and 10,000 characters: 125 full rows and 2 columns on the 126th.
    await t.see(() => t.rowsText().at(-1) === "89" && t.cursor().col === 2);
    const b = t.emulator.buffer.active;
    const row = (y: number) => b.getLine(b.baseY + y)!.translateToString(true);
    expect(row(0)).toBe("or type /help for commands.");
    expect(row(1)).toBe(`> ${long}`.slice(103 * 80, 104 * 80));
    expect(t.text()).toContain("or type /help for commands.");
    t.type("\r");
    await t.see(/\n✗ .+\n>$/);
    t.type("/help\r");
    await t.see("/quit                   log out and exit");
  });

  test("pasted control characters are shown escaped, never acted on by the terminal", async () => {
    const t = connect(80, 30);
    let title = "";
    t.emulator.onTitleChange((s) => {
      title = s;
    });
    await t.see("or type /help for commands.");
    t.type("\x1b[200~x\x1b]0;pwned\x07y\u202ez\x1b[2J\x1b[201~");
    await t.see(/\n> x\^\[\]0;pwned\^Gy\\u202ez\^\[\[2J$/);
    expect(title).toBe("");
    expect(t.text()).toContain("or type /help for commands.");
  });

  test("stdout to a file: the terminal echoes what is typed, except the password; the file has the transcript", async () => {
    (await loggedIn(server.port, "file-dave", "dave's password")).end();
    const out = join(tempDir(), "out.txt");
    const t = onPty(["connect", "127.0.0.1", String(server.port)], {
      cols: 80,
      rows: 24,
      env: { XDG_STATE_HOME: tempDir() },
      stdoutTo: out,
    });
    await t.see(() => t.proc.exitCode === null);
    t.type("/login file-dave\r");
    // The prompt is on the terminal (stderr), and echo is off while the password is typed.
    await t.see(/\/login file-dave\nPassword:$/);
    expect(t.proc.terminal!.localFlags & 0o10).toBe(0);
    t.type("dave's password\r");
    await t.see(() => (t.proc.terminal!.localFlags & 0o10) !== 0);
    t.type("/quit\r");
    await t.see(/\nPassword:\n\/quit$/);
    expect(await t.exit()).toBe(0);
    const transcript = readFileSync(out, "utf8");
    expect(transcript).toContain("> /login file-dave\nPassword: \n✓ logged in as file-dave");
    expect(transcript).not.toContain("\x1b[");
    expect(transcript).not.toContain("dave's password");
    expect(t.text()).not.toContain("dave's password");
  });

  test("stdout to a file: Ctrl+C (a signal there) cancels a prompt, then logs out and exits 0", async () => {
    (await loggedIn(server.port, "file-erin", "erin's password")).end();
    const out = join(tempDir(), "out.txt");
    const t = onPty(["connect", "127.0.0.1", String(server.port)], {
      cols: 80,
      rows: 24,
      env: { XDG_STATE_HOME: tempDir() },
      stdoutTo: out,
    });
    await t.see(() => t.proc.exitCode === null);
    t.type("/login file-erin\r");
    await t.see(/\/login file-erin\nPassword:$/);
    t.type("erin's password\r");
    await t.see(() => (t.proc.terminal!.localFlags & 0o10) !== 0);
    t.type("/send\r");
    await t.see(/\nTo:$/);
    t.type("\x03"); // the terminal sends SIGINT: the prompt is cancelled, the client goes on
    await fileSays(out, "… cancelled");
    t.type("/check\r");
    await fileSays(out, "no unread messages");
    t.type("\x03");
    expect(await t.exit()).toBe(0);
    const transcript = readFileSync(out, "utf8");
    expect(transcript).toContain("… cancelled");
    expect(transcript).toMatch(/✓ logged out of file-erin; bye\n$/);
  });

  test("Tab completes commands and the names seen; Ctrl+L redraws the screen with the input kept", async () => {
    const bob = await loggedIn(server.port, "tab-bob");
    (await loggedIn(server.port, "tab-alice")).end();
    const t = connect(80, 24);
    await logIn(t, "tab-alice");
    bob.say("/send tab-alice hi, this is bob");
    await t.see("tab-bob: hi, this is bob");
    // The line as shown, trailing space included (the cursor is after it).
    const input = (shown: string) => () =>
      t.lines().at(-1) === shown.trimEnd() && t.cursor().col === shown.length;
    t.type("/se\t");
    await t.see(input("tab-alice> /send "));
    t.type("tab-b\t");
    await t.see(input("tab-alice> /send tab-bob "));
    t.type("tab completed");
    await t.see(/\ntab-alice> \/send tab-bob tab completed$/);
    t.type("\x0c"); // Ctrl+L
    await t.see(
      () => t.rowsText()[t.emulator.buffer.active.baseY] === "tab-alice> /send tab-bob tab completed",
    );
    expect(t.cursor().col).toBe("tab-alice> /send tab-bob tab completed".length);
    t.type("\r");
    await bob.waitFor((e) => e.type === "message" && e.text === "tab completed", "the completed line");
    // In a sub-prompt, names only, and no space after the one-word answer.
    t.type("3\r");
    await t.see(/\nTo:$/);
    t.type("tab-b\t");
    await t.see(input("To: tab-bob"));
    t.type("\r");
    await t.see(/\nMessage to tab-bob:$/);
    t.type("via the menu\r");
    await bob.waitFor((e) => e.type === "message" && e.text === "via the menu", "the menu's message");
    bob.end();
  });

  test("Ctrl+Z stops the client with the terminal restored; fg brings it back as it was", async () => {
    const t = onPty(["connect", "127.0.0.1", String(server.port)], {
      cols: 80,
      rows: 24,
      env: { XDG_STATE_HOME: tempDir() },
      shell: true,
    });
    await t.see("or type /help for commands.");
    t.type("half typed");
    await t.see(/\n> half typed$/);
    t.type("\x1a");
    // The input area is taken away for the shell, and comes back with what was typed.
    await t.see(/or type \/help for commands\.\n\n?\[1\]\+ +Stopped .*\n\$$/);
    t.type("fg\r");
    await t.see(/\n\$ fg\n.*chat.*connect.*\n> half typed$/);
    t.type(" and resumed");
    await t.see(/\n> half typed and resumed$/);
    t.type("\x15/quit\r");
    await t.see(/\n\$$/);
    t.type("exit\r");
    expect(await t.exit()).toBe(0);
  });

  test("SIGTERM: the terminal is restored before the client exits", async () => {
    const t = connect(80, 30);
    await t.see("or type /help for commands.");
    t.type("typed but not entered");
    await t.see(/\n> typed but not entered$/);
    t.proc.kill("SIGTERM");
    expect(await t.exit()).toBe(143);
    expect(t.cursor().col).toBe(0);
    expect(t.emulator.modes.bracketedPasteMode).toBe(false);
    expect(t.proc.terminal!.localFlags & 0o12).toBe(0o12);
  });

  test("SIGTERM while lines wait their turn: each says it was not done", async () => {
    const own = await startServer();
    (await loggedIn(own.port, "term-alice")).end();
    const t = onPty(["connect", "127.0.0.1", String(own.port)], {
      cols: 80,
      rows: 24,
      env: { XDG_STATE_HOME: tempDir() },
    });
    await logIn(t, "term-alice");
    own.proc.kill("SIGSTOP");
    try {
      t.type("/send term-alice stuck\r/check\r");
      await t.see(/\n\(1 waiting\) term-alice>$/);
      t.proc.kill("SIGTERM");
      expect(await t.exit()).toBe(143);
    } finally {
      own.proc.kill("SIGCONT");
    }
    expect(t.lines().at(-1)).toBe("✗ not done, the client is quitting: /check");
    expect(t.cursor().col).toBe(0);
    await own.stop();
  });
});

describe("a hostile server on a terminal", () => {
  test("ESC, OSC (title, clipboard), bidi and a forged line in a message and names are shown inert", async () => {
    const fake = hostileServer();
    const t = onPty(["connect", "127.0.0.1", String(fake.port)], {
      cols: 100,
      rows: 30,
      env: { XDG_STATE_HOME: tempDir() },
    });
    let title = "";
    t.emulator.onTitleChange((s) => {
      title = s;
    });
    const osc52: string[] = [];
    t.emulator.parser.registerOscHandler(52, (data) => {
      osc52.push(data);
      return true;
    });
    try {
      await t.see("or type /help for commands.");
      t.type("/login bob\r");
      await t.see(/\nPassword:$/);
      t.type("a password\r");
      await t.see("bob: forged line");
      t.type("/list\r");
      await t.see(/\n {2}\\u202eevil\S* \(online\)\n/);
      const screen = t.lines();
      // Nothing cleared the screen: the first line is still there, above everything.
      expect(screen[0]).toStartWith("Connected to 127.0.0.1:");
      expect(screen[0]).toContain("6.6.6\\x1b]0;title\\x07");
      const shown = screen.findIndex((l) => l.includes("\\u202eevil\\x1b]0;pwned\\x07: hi "));
      expect(screen[shown]).toMatch(
        /^\[\d\d:\d\d\] \\u202eevil\\x1b\]0;pwned\\x07: hi \\x1b\]52;c;cGF5bG9hZA==\\x07 \\x1b\[2J \\u2067x\\u2069 zero\\u200bwidth \\x9b31m\\u2028sep$/,
      );
      // The forged line is indented and marked as the message's second line.
      expect(screen[shown + 1]).toMatch(/^ +┆ \[14:05\] bob: forged line$/);
      expect(title).toBe("");
      expect(osc52).toEqual([]);
      // The C1 CSI (\x9b31m) set no colour: the text after it is in the terminal's own colours.
      const b = t.emulator.buffer.active;
      const rows = t.rowsText();
      const y = rows.findIndex((r) => r.includes("\\u2028sep"));
      const cell = b.getLine(y)!.getCell(rows[y]!.indexOf("\\u2028sep") + "\\u2028".length)!;
      expect(cell.getChars()).toBe("s");
      expect(cell.isFgDefault()).toBe(true);
      expect(fake.acks).toContain(7);
    } finally {
      t.type("\x04");
      await t.exit().catch(() => {});
      fake.stop();
    }
  });
});
