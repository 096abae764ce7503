import { describe, expect, test } from "bun:test";
import { promptFor } from "../../src/client/loop";
import { client, loggedIn, relay, server } from "./helpers";

const messagesFrom = (printed: string[], sender: string) =>
  printed
    .filter((l) => new RegExp(`^\\[[^\\]]+\\] ${sender}: `).test(l))
    .map((l) => l.replace(/^\[[^\]]+\] \S+: /, ""));

describe("the command loop", () => {
  test("20 lines pasted at once while 20 messages arrive: all go out in order, all are shown", async () => {
    const s = await server();
    const alice = await loggedIn(s.port, "alice");
    const bob = await loggedIn(s.port, "bob");
    const pasted = Array.from({ length: 20 }, (_, i) => `/send bob paste-${i}`);
    alice.io.feed(...pasted);
    bob.io.feed(...Array.from({ length: 20 }, (_, i) => `/send alice back-${i}`));
    const want = (p: string) => Array.from({ length: 20 }, (_, i) => `${p}-${i}`);
    await bob.io.until((p) => messagesFrom(p, "alice").length === 20, "20 messages at bob");
    await alice.io.until((p) => messagesFrom(p, "bob").length === 20, "20 messages at alice");
    expect(messagesFrom(bob.io.printed, "alice")).toEqual(want("paste"));
    expect(messagesFrom(alice.io.printed, "bob")).toEqual(want("back"));
    await alice.io.until(
      (p) => p.filter((l) => l.startsWith("✓ sent to bob")).length === 20,
      "20 confirmations",
    );
  });

  test("lines typed during an outage are sent, in order, after the session is resumed", async () => {
    const s = await server();
    const r = relay(s.port);
    const alice = await loggedIn(r.port, "alice");
    const bob = await loggedIn(s.port, "bob");
    r.cut();
    await alice.io.saw("connection lost");
    alice.io.feed("/send bob during-1", "during-2", "during-3");
    r.restore();
    await alice.io.saw("✓ reconnected as alice — no unread");
    await bob.io.until((p) => messagesFrom(p, "alice").length === 3, "3 messages at bob");
    expect(messagesFrom(bob.io.printed, "alice")).toEqual(["during-1", "during-2", "during-3"]);
    const sentAfter = (p: string[]) =>
      p.slice(p.findIndex((l) => l.startsWith("✓ reconnected"))).filter((l) => l.startsWith("✓ sent to bob"));
    await alice.io.until((p) => sentAfter(p).length === 3, "3 confirmations after the reconnection");
    expect(alice.io.printed.filter((l) => l.startsWith("✗"))).toEqual([]);
  });

  test("after a reconnection, what waited is shown when everything had been shown before", async () => {
    const s = await server();
    const r = relay(s.port);
    const bob = await loggedIn(r.port, "bob");
    const alice = await loggedIn(s.port, "alice");
    r.cut();
    await bob.io.saw("connection lost");
    // Probe until the server has noticed bob is gone: then messages are queued for him.
    const probes: string[] = [];
    for (let i = 0; i < 100; i++) {
      probes.push(`probe-${i}`);
      alice.io.feed(`/send bob probe-${i}`);
      await alice.io.until((p) => p.filter((l) => /^[✓✗] /.test(l)).length >= 3 + i, `reply ${i}`);
      if (alice.io.printed.at(-1)!.includes("queued")) break;
    }
    alice.io.feed("/send bob while you were away", "and another");
    await alice.io.until((p) => p.filter((l) => l.includes("queued")).length >= 3, "queued sends");
    r.restore();
    const back = await bob.io.until(
      (p) => p.some((l) => /^✓ reconnected as bob — [1-9]\d* unread$/.test(l)),
      "the reconnection with unread messages",
    );
    expect(back).toBeUndefined();
    await bob.io.saw("and another");
    // Shown without a /check, once each, in order.
    expect(messagesFrom(bob.io.printed, "alice")).toEqual([...probes, "while you were away", "and another"]);
  });

  test("a message is confirmed only once printed: a client that dies before gets it again", async () => {
    const s = await server();
    const alice = await loggedIn(s.port, "alice");
    const bob = await loggedIn(s.port, "bob");
    const release = bob.io.hold();
    alice.io.feed("/send bob only once");
    await alice.io.saw("✓ sent to bob");
    await bob.io.until(() => bob.io.waiting > 0, "the message's print to start");
    // bob's client dies with the print unfinished.
    bob.session.close();
    release();
    const again = await loggedInAgain(s.port, "bob");
    await again.io.saw("logged in as bob — 1 unread");
    again.io.feed("/check");
    await again.io.saw("✓ 1 message");
    expect(messagesFrom(again.io.printed, "alice")).toEqual(["only once"]);

    // Printed, then confirmed: a later session has nothing waiting.
    alice.io.feed("/send bob printed this time");
    await again.io.saw("printed this time");
    await again.session.drained(); // the ACK follows the print
    again.session.close();
    const third = await loggedInAgain(s.port, "bob");
    await third.io.saw("logged in as bob — no unread");
  });

  test("the prompt shows who plain text goes to; /to, /r and //text", async () => {
    const s = await server();
    const alice = await loggedIn(s.port, "alice");
    const bob = await loggedIn(s.port, "bob");
    const carol = await loggedIn(s.port, "carol");
    expect(alice.io.prompts.at(-1)).toBe("alice> ");
    alice.io.feed("/send bob hi");
    await alice.io.prompted("alice → bob> ");
    alice.io.feed("/to carol", "//slash at the start");
    await carol.io.saw("/slash at the start");
    await alice.io.prompted("alice → carol> ");
    bob.io.feed("/r hello alice");
    await alice.io.saw("bob: hello alice");
    alice.io.feed("/r and back");
    await bob.io.saw("alice: and back");
    await alice.io.until(
      () => alice.io.printed.filter((l) => l.startsWith("✓ sent to bob")).length === 2,
      "sent",
    );
    await alice.io.prompted("alice → carol> "); // /r answers bob without changing the target
    expect([...alice.io.names]).toEqual(expect.arrayContaining(["alice", "bob", "carol"]));
    carol.io.feed("/who");
    await carol.io.saw("✓ 3 online: alice, bob, carol");
  });

  test("a name the server refused does not become the target", async () => {
    const s = await server();
    const alice = await loggedIn(s.port, "alice");
    alice.io.feed("/send nobody_here hi", "and this?");
    await alice.io.saw("no account named nobody_here");
    await alice.io.saw("no one to send it to");
    expect(alice.io.names.has("nobody_here")).toBe(false);
    await alice.io.prompted("alice> ");
  });

  test("a forced logout changes the prompt at once and says what to do", async () => {
    const s = await server();
    const first = await loggedIn(s.port, "erin");
    const second = await client(s.port);
    second.io.feed("/login erin", "password of erin");
    await first.io.saw("logged in elsewhere");
    await first.io.prompted("> ");
    expect(first.io.printed.find((l) => l.includes("logged in elsewhere"))).toContain("/login");
  });

  test("a message shown after a forced logout: its refused ACK is no notice to the person", async () => {
    const s = await server();
    const bob = await loggedIn(s.port, "bob");
    const first = await loggedIn(s.port, "erin");
    const release = first.io.hold(); // erin's terminal is slow: the message is not shown yet
    bob.io.feed("/send erin shown late");
    await first.io.until(() => first.io.waiting > 0, "the message waiting to be printed");
    const second = await client(s.port);
    second.io.feed("/login erin", "password of erin");
    await second.io.saw("logged in as erin — 1 unread");
    release(); // shown now, then ACKed on a connection whose session has ended
    await first.io.saw("logged in elsewhere");
    await first.session.drained();
    // The server answers in order: the answer to /list comes after any answer to the ACK.
    first.io.feed("/list erin");
    await first.io.saw("✗ log in first");
    expect(first.io.printed.filter((l) => l.startsWith("!"))).toEqual([
      expect.stringContaining("logged in elsewhere"),
    ]);
    expect(first.io.printed.filter((l) => l.includes("log in first"))).toEqual(["✗ log in first"]);
    // The new session gets the message again: the refused ACK confirmed nothing.
    second.io.feed("/check");
    await second.io.saw("bob: shown late");
  });

  test("refused before any prompt: an invalid name, a choice needing a login", async () => {
    const s = await server();
    const c = await client(s.port, { script: false });
    await c.io.saw("or type /help for commands.");
    const base = c.io.printed.length;
    c.io.feed("/create bad\u202ename", "3", "5", "/delete", "/r");
    await c.io.until((p) => p.length >= base + 5, "five explanations");
    expect(c.io.asked).toEqual([]);
    expect(c.io.printed[base]).toContain("U+202E");
    expect(c.io.printed.slice(base + 1, base + 4).every((l) => l.includes("log in first"))).toBe(true);
    c.io.feed("1", "bad name!");
    await c.io.until((p) => p.length >= base + 6, "the menu's name check");
    expect(c.io.asked.map((a) => a.prompt)).toEqual(["Account name: "]);
    c.io.end();
    expect(await c.done).toBe(0);
  });

  test("a taken-looking name is refused before the password: names seen, and a LIST when logged in", async () => {
    const s = await server();
    const bob = await loggedIn(s.port, "bob");
    (await loggedIn(s.port, "carol")).session.close();
    const alice = await loggedIn(s.port, "alice", { script: false });
    bob.io.feed("/send alice hi");
    await alice.io.saw("bob: hi");
    const asked = alice.io.asked.length;
    // bob wrote: the same name in capitals, and a look-alike (Cyrillic о), are refused at once.
    alice.io.feed("/create BOB", "/create b\u043eb");
    await alice.io.saw("cannot create that account: the name BOB is taken");
    await alice.io.saw("it looks like the existing account bob");
    // carol was never seen here: a LIST of the exact name finds her.
    alice.io.feed("1", "Carol");
    await alice.io.saw("cannot create that account: the name Carol is taken");
    expect(alice.io.asked.slice(asked).map((a) => a.prompt)).toEqual(["Account name: "]);
    // A free name goes on to the password.
    alice.io.feed("/create dave");
    await alice.io.until(() => alice.io.asked.at(-1)?.secret === true, "the password prompt");
    alice.io.feed("");
    await alice.io.saw("cancelled (empty answer)");
    // One's own deleted name is the server's to judge (here free again at once).
    const own = await server({ "name-reuse-after": "0" });
    const erin = await loggedIn(own.port, "erin", { script: false });
    erin.io.feed("/delete", "yes", "password of erin");
    await erin.io.saw("deleted");
    erin.io.feed("/create erin");
    await erin.io.until(() => erin.io.asked.at(-1)?.secret === true, "the password prompt for erin");
  });

  test("in a script, a command refused before its prompts skips its answer lines", async () => {
    const s = await server();
    const bob = await loggedIn(s.port, "bob");
    const alice = await loggedIn(s.port, "alice", { json: true });
    alice.io.feed("/send bob hi"); // plain text now goes to bob
    alice.io.feed("/create bob", "secret password 1", "/create bad!name", "secret password 2");
    alice.io.feed("/create two words", "secret password 3");
    // A script that wrote no answer: the next command is no answer, and runs.
    alice.io.feed("/create bad!name", "/send bob after", "//last");
    await bob.io.saw("alice: /last");
    const fromAlice = bob.io.printed.filter((l) => l.includes("alice: "));
    expect(fromAlice.map((l) => l.replace(/^.*alice: /, ""))).toEqual(["hi", "after", "/last"]);
    const errors = alice.io.printed.map((l) => JSON.parse(l)).filter((e) => e.type === "error");
    expect(errors.map((e) => e.msg)).toEqual([
      "cannot create that account: the name bob is taken",
      expect.stringContaining("cannot create that account: the name has '!'"),
      "/create takes one name (names have no spaces)",
      expect.stringContaining("cannot create that account: the name has '!'"),
    ]);
    expect(alice.io.printed.join("\n")).not.toContain("secret password");
  });

  test("an empty answer cancels without sending, including the delete confirmation", async () => {
    const s = await server();
    const alice = await loggedIn(s.port, "alice", { script: false });
    alice.io.feed("/delete", "");
    await alice.io.saw("cancelled");
    alice.io.feed("/delete", "yes", "");
    await alice.io.until((p) => p.filter((l) => l.includes("cancelled")).length === 2, "second cancel");
    expect(alice.io.asked.filter((a) => a.secret).map((a) => a.prompt)).toContain(
      "Password (to delete your account): ",
    );
    alice.io.feed("/send", "");
    await alice.io.until((p) => p.filter((l) => l.includes("cancelled")).length === 3, "third cancel");
    alice.io.feed("/check");
    await alice.io.saw("no unread messages"); // still logged in: nothing was deleted
  });

  test("exit status: 0 when everything worked, 3 when a command failed, 1 when the server is lost", async () => {
    const s = await server();
    const ok = await loggedIn(s.port, "okay");
    ok.io.feed("/check", "/list");
    ok.io.end();
    expect(await ok.done).toBe(0);
    const bad = await client(s.port);
    bad.io.feed("/login okay", "wrong password", "/check");
    bad.io.end();
    expect(await bad.done).toBe(3);
    const r = relay(s.port);
    const lost = await client(r.port, { session: { reconnect: false } });
    r.cut();
    expect(await lost.done).toBe(1);
  });

  test("network text is shown inert: escapes, bidi and a forged line", async () => {
    const s = await server();
    const alice = await loggedIn(s.port, "alice");
    const bob = await loggedIn(s.port, "bob");
    bob.io.feed(
      "/send alice evil \u202egnp.exe\u2067x\u200by\u2028z",
      "/send alice hi\n[14:05] eve: give me your password",
    );
    await alice.io.saw("evil");
    await alice.io.saw("give me");
    const shown = alice.io.printed.join("\n");
    expect(shown).toContain("evil \\u202egnp.exe\\u2067x\\u200by\\u2028z");
    expect(shown).not.toMatch(/[\u202e\u2067\u200b\u2028]/);
    const forged = alice.io.printed.find((l) => l.includes("eve:"))!;
    expect(forged).not.toMatch(/^\[/);
    expect(forged).toMatch(/^ +┆ \[14:05\] eve:/);
  });
});

describe("promptFor", () => {
  test("who is logged in, who plain text goes to, and an outage", () => {
    expect(promptFor(null, null, false)).toBe("> ");
    expect(promptFor("alice", null, false)).toBe("alice> ");
    expect(promptFor("alice", "bob", false)).toBe("alice → bob> ");
    expect(promptFor("alice", "bob", true)).toBe("(reconnecting) alice → bob> ");
    expect(promptFor("a\x1b[2Jb", null, false)).toBe("a\\x1b[2Jb> ");
  });
});

async function loggedInAgain(port: number, name: string) {
  const c = await client(port);
  c.io.feed(`/login ${name}`, `password of ${name}`);
  return c;
}

describe("leaving", () => {
  test("the end of input at the main prompt (Ctrl+D, Ctrl+C) logs out and exits 0", async () => {
    const s = await server();
    const alice = await loggedIn(s.port, "alice", { script: false });
    alice.io.end();
    expect(await alice.done).toBe(0);
    expect(alice.io.printed.at(-1)).toBe("✓ logged out of alice; bye");
  });

  test("a script's end of input waits for the answers still owed", async () => {
    const s = await server();
    const bob = await loggedIn(s.port, "bob");
    const alice = await loggedIn(s.port, "alice");
    alice.io.feed(...Array.from({ length: 5 }, (_, i) => `/send bob last-${i}`));
    alice.io.end();
    expect(await alice.done).toBe(0);
    expect(alice.io.printed.filter((l) => l.startsWith("✓ sent to bob"))).toHaveLength(5);
    await bob.io.saw("last-4");
  });
});

describe("the command loop on random input", () => {
  test("300 random lines: each gets an answer or an explanation, the loop ends normally", async () => {
    const s = await server();
    const c = await loggedIn(s.port, "fuzz");
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pieces = [
      "/",
      "//",
      " ",
      "\t",
      "\x1b",
      "\u202e",
      "\ufffd",
      "1",
      "2",
      "3",
      "4",
      "6",
      "send",
      "to",
      "r",
      "fuzz",
      "x",
      "/send fuzz ",
      "/to fuzz",
      "/list",
      "/who",
      "/check",
      "/r ",
    ];
    const lines = Array.from({ length: 300 }, () =>
      Array.from({ length: Math.floor(next() * 6) }, () => pieces[Math.floor(next() * pieces.length)]).join(
        "",
      ),
    );
    const before = c.io.printed.length;
    c.io.feed(...lines);
    c.io.end();
    const code = await c.done;
    expect([0, 3]).toContain(code);
    // Something was said for the lines (answers, explanations, cancelled prompts).
    expect(c.io.printed.length - before).toBeGreaterThan(100);
    expect(c.io.printed.join("\n")).not.toMatch(/TypeError|undefined|\[object /);
    // What was typed comes back escaped in explanations, never raw.
    expect(c.io.printed.filter((l) => /[\p{Cc}\u202e]/u.test(l))).toEqual([]);
  });

  test("lines still queued after /quit each say they were not done; the script exits 3", async () => {
    const s = await server();
    const bob = await loggedIn(s.port, "bob");
    const alice = await loggedIn(s.port, "alice", { json: true });
    alice.io.feed("/send bob before", "/quit", "/send bob after 1", "", "after 2");
    expect(await alice.done).toBe(3);
    const events = alice.io.printed.map((l) => JSON.parse(l));
    const unread = events.filter((e) => e.command === "unread");
    expect(unread).toEqual([
      {
        type: "error",
        msg: "not done, the client is quitting: /send bob after 1",
        command: "unread",
        line: "/send bob after 1",
      },
      { type: "error", msg: "not done, the client is quitting: after 2", command: "unread", line: "after 2" },
    ]);
    // After the answer to /quit, in the order typed.
    const bye = events.findIndex((e) => e.command === "quit");
    expect(bye).toBeGreaterThan(-1);
    expect(events.indexOf(unread[0])).toBeGreaterThan(bye);
    await bob.io.saw("alice: before");
    expect(bob.io.printed.some((l) => l.includes("after"))).toBe(false);
  });

  test("/quit or the end of input while reconnecting leaves at once, saying it did not log out", async () => {
    const s = await server();
    for (const script of [true, false]) {
      const r = relay(s.port);
      const c = await loggedIn(r.port, script ? "quitter" : "ender", { script });
      r.cut();
      await c.io.saw("connection lost");
      const started = Date.now();
      if (script) c.io.feed("/quit");
      else c.io.end();
      expect(await c.done).toBe(0);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(c.io.printed.at(-1)).toBe("… bye (not connected to the server: left without logging out there)");
    }
  });
});
