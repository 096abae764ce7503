// The web client in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against the compiled binary. Two pages and a terminal client chat with each other;
// offline queue, forced logout, a server restart with the page reconnecting and resending,
// hostile text rendered inert, the accounts search, deleting an account. Screenshots of the
// main states go to dist/screenshots/ (each taken after DOM assertions on that state).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type ChatClient, type ChatServer, freePort, loggedIn, startServer, tempDir } from "./harness";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = resolve(import.meta.dir, "../../dist/screenshots");
const PASSWORD = "correct horse";
const WAIT = 10_000;

/** The flags that keep Chromium off the network and quiet on this kind of machine. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let browser: Browser;
let server: ChatServer;
let tcpPort: number;
let webPort: number;
let dataFile: string;
const contexts: BrowserContext[] = [];
const problems: string[] = [];

async function start(): Promise<ChatServer> {
  const s = await startServer(
    [
      "--port",
      String(tcpPort),
      "--web-port",
      String(webPort),
      "--argon2-memory-kib",
      "1024",
      "--argon2-time",
      "1",
    ],
    dataFile,
  );
  await s.out.find((l) => /web client on port \d+/.test(l), "the web port line");
  return s;
}

async function newPage(viewport = { width: 1100, height: 720 }): Promise<Page> {
  const ctx = await browser.newContext({ viewport, colorScheme: "light" });
  contexts.push(ctx);
  const page = await ctx.newPage();
  // A page that breaks its own CSP, throws, or asks for anything but this server fails the run.
  page.on("console", (m) => {
    if (m.type() === "error" && !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text()))
      problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`);
  });
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.hostname !== "127.0.0.1" || Number(u.port) !== webPort) problems.push(`request to ${r.url()}`);
  });
  await page.goto(`http://127.0.0.1:${webPort}/`);
  await page.locator("#connection[data-state=online]").waitFor({ timeout: WAIT });
  return page;
}

async function create(page: Page, name: string): Promise<void> {
  await page.fill("#login-name", name);
  await page.fill("#login-password", PASSWORD);
  await page.click("#create-submit");
  await page.locator("#me", { hasText: name }).waitFor({ timeout: WAIT });
}

async function logIn(page: Page, name: string): Promise<void> {
  await page.fill("#login-name", name);
  await page.fill("#login-password", PASSWORD);
  await page.press("#login-password", "Enter");
  await page.locator("#me", { hasText: name }).waitFor({ timeout: WAIT });
}

async function openConversation(page: Page, peer: string): Promise<void> {
  // Narrow screens show the list or a conversation: back to the list first.
  if (await page.locator("#back").isVisible()) await page.click("#back");
  await page.fill("#to-name", peer);
  await page.press("#to-name", "Enter");
  await page.locator("#thread-title", { hasText: peer }).waitFor({ timeout: WAIT });
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

/** The line showing exactly this text, in the open conversation. */
const line = (page: Page, text: string) =>
  page.locator("#lines li", { has: page.locator(".text", { hasText: text }) });

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: scripts/test.sh installs Debian's chromium`);
  mkdirSync(SHOTS, { recursive: true });
  tcpPort = freePort();
  webPort = freePort();
  dataFile = join(tempDir(), "chat.db");
  server = await start();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  if (process.env.DEBUG_WEB) console.log([...server.out.all, ...server.err.all].join("\n"));
  await server?.stop().catch(() => {});
});

describe("web client in Chromium", () => {
  let alice: Page;
  let bob: Page;
  let carol: ChatClient;

  test("create accounts on two pages, chat live both ways and with a terminal client", async () => {
    alice = await newPage();
    bob = await newPage({ width: 360, height: 740 });
    await shot(alice, "web-login");
    await create(alice, "alice");
    await create(bob, "bob");
    carol = await loggedIn(tcpPort, "carol");

    await openConversation(alice, "bob");
    await say(alice, "hello bob");
    // Handed to bob's open page ("sent live"), whose confirmation soon makes it "delivered".
    await line(alice, "hello bob")
      .locator(".meta", { hasText: /sent live|delivered/ })
      .waitFor({ timeout: WAIT });
    // bob's page lists the conversation with one unread, then shows the message.
    const conv = bob.locator("#conversation-list button[data-peer=alice]");
    await conv.locator(".badge", { hasText: "1" }).waitFor({ timeout: WAIT });
    expect(await conv.getAttribute("aria-label")).toBe("alice, 1 unread");
    await conv.click();
    await line(bob, "hello bob").waitFor({ timeout: WAIT });
    expect(await conv.locator(".badge").count()).toBe(0);
    await say(bob, "hi alice");
    await line(alice, "hi alice").waitFor({ timeout: WAIT });
    await shot(bob, "web-chat-360px");

    // The terminal client and the page, both ways.
    carol.say("/send alice from the terminal");
    expect(await carol.reply("send")).toMatchObject({ ok: true });
    await alice.locator("#conversation-list button[data-peer=carol]").click();
    await line(alice, "from the terminal").waitFor({ timeout: WAIT });
    await say(alice, "hi carol, from the browser");
    await carol.waitFor(
      (e) => e.type === "message" && e.text === "hi carol, from the browser",
      "alice's message",
    );

    // Keyboard: Up in the empty composer recalls the last message sent here.
    await alice.press("#text", "ArrowUp");
    expect(await alice.inputValue("#text")).toBe("hi carol, from the browser");
    await alice.fill("#text", "");
    await shot(alice, "web-chat");
  }, 60_000);

  test("a message to someone logged out is queued, shown on their next login, then marked delivered", async () => {
    await bob.click("#logout");
    await bob.locator("#login:not([hidden])").waitFor({ timeout: WAIT });
    await alice.locator("#conversation-list button[data-peer=bob]").click();
    await say(alice, "while you were away");
    const mine = () => line(alice, "while you were away");
    await mine().locator(".meta", { hasText: "queued" }).waitFor({ timeout: WAIT });
    expect(await mine().getAttribute("data-state")).toBe("queued");
    // A reload keeps the tab's conversations: the queued line is still there, still queued.
    await alice.reload();
    await alice.locator("#me", { hasText: "alice" }).waitFor({ timeout: WAIT });
    await alice.locator("#conversation-list button[data-peer=bob]").click();
    await mine().locator(".meta", { hasText: "queued" }).waitFor({ timeout: WAIT });
    await logIn(bob, "bob");
    expect(await bob.locator("#notice").textContent()).toContain("1 unread");
    const conv = bob.locator("#conversation-list button[data-peer=alice]");
    await conv.locator(".badge", { hasText: "1" }).waitFor({ timeout: WAIT });
    await conv.click();
    await line(bob, "while you were away").waitFor({ timeout: WAIT });
    // bob's page showed it and confirmed it: the receipt marks alice's (reloaded) line delivered.
    await alice
      .locator("#lines li[data-state=delivered]", {
        has: alice.locator(".text", { hasText: "while you were away" }),
      })
      .waitFor({ timeout: WAIT });
    expect(await mine().locator(".state-label").textContent()).toMatch(/^ delivered \d\d:\d\d$/);
    expect(await mine().locator(".state-mark").getAttribute("aria-hidden")).toBe("true");
    await shot(alice, "web-delivered");
    // A reload resumes with the token kept in sessionStorage: no password asked, no cookie,
    // and the password is kept nowhere in the page.
    await bob.reload();
    await bob.locator("#me", { hasText: "bob" }).waitFor({ timeout: WAIT });
    expect(await bob.locator("#login").isVisible()).toBe(false);
    expect(await bob.context().cookies()).toEqual([]);
    const stored = await bob.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }));
    expect(stored).toContain("chat.token");
    expect(stored).not.toContain(PASSWORD);
  }, 60_000);

  test("logging in on another page logs the first out, and it says why", async () => {
    const bob2 = await newPage();
    await logIn(bob2, "bob");
    const why = bob.locator("#logged-out-because");
    await why.waitFor({ state: "visible", timeout: WAIT });
    expect(await why.textContent()).toContain("logged in somewhere else");
    expect(await bob.locator("#login").isVisible()).toBe(true);
    await shot(bob, "web-forced-logout");
    // The first page does not log back in on its own: the new page keeps the session.
    await alice.locator("#conversation-list button[data-peer=bob]").click();
    await say(alice, "to the new page");
    await bob2.locator("#conversation-list button[data-peer=alice]").click();
    await line(bob2, "to the new page").waitFor({ timeout: WAIT });
    expect(await bob.locator("#me").isVisible()).toBe(false);
    bob = bob2;
  }, 60_000);

  test("markup and bidi controls from others are shown as text, never run", async () => {
    carol = await loggedIn(tcpPort, "carol");
    const hostile = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2> \u202Eevil\u202C שלום";
    carol.say(`/send alice ${hostile}`);
    expect(await carol.reply("send")).toMatchObject({ ok: true });
    await alice.locator("#conversation-list button[data-peer=carol]").click();
    const text = alice.locator("#lines li .text").last();
    await alice.waitForFunction(
      (want) => [...document.querySelectorAll("#lines li .text")].some((e) => e.textContent === want),
      hostile,
      { timeout: WAIT },
    );
    expect(await text.textContent()).toBe(hostile);
    expect(await text.getAttribute("dir")).toBe("auto");
    expect(await alice.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await alice.locator("#lines script, #lines img").count()).toBe(0);
    await shot(alice, "web-hostile-text");
  }, 60_000);

  test("accounts: a wildcard search lists who is online; Esc closes the dialog", async () => {
    await alice.click("#open-accounts");
    await alice.fill("#accounts-pattern", "*o*");
    await alice.press("#accounts-pattern", "Enter");
    // Opening the dialog lists everyone first; wait for the answer to this search.
    await alice.waitForFunction(
      () => {
        const peers = [...document.querySelectorAll("#accounts-list button")].map(
          (b) => (b as HTMLElement).dataset.peer,
        );
        return peers.join(",") === "bob,carol";
      },
      undefined,
      { timeout: WAIT },
    );
    const names = await alice
      .locator("#accounts-list button")
      .evaluateAll((bs) =>
        bs.map(
          (b) =>
            `${(b as HTMLElement).dataset.peer}:${b.querySelector(".online-mark") ? "online" : "offline"}`,
        ),
      );
    // carol's terminal client ended with the last test: offline now.
    expect(names).toEqual(["bob:online", "carol:offline"]);
    await shot(alice, "web-accounts");
    await alice.keyboard.press("Escape");
    await alice.locator("#accounts-dialog").waitFor({ state: "hidden", timeout: WAIT });
  }, 60_000);

  test("deleting an account shows what was waiting first, then logs out", async () => {
    const dave = await newPage();
    await create(dave, "dave");
    await dave.click("#logout");
    await dave.locator("#login:not([hidden])").waitFor({ timeout: WAIT });
    await alice.fill("#to-name", "dave");
    await alice.press("#to-name", "Enter");
    await say(alice, "before you go");
    await line(alice, "before you go").locator(".meta", { hasText: "queued" }).waitFor({ timeout: WAIT });
    await logIn(dave, "dave");
    await dave.locator("#conversation-list button[data-peer=alice]").click();
    await line(dave, "before you go").waitFor({ timeout: WAIT });
    await dave.click("#open-delete");
    await dave.fill("#delete-password", PASSWORD);
    await dave.press("#delete-password", "Enter");
    await dave.locator("#login:not([hidden])").waitFor({ timeout: WAIT });
    expect(await dave.locator("#notice").textContent()).toContain("deleted account dave");
    // What was read stays on the page; the account is gone.
    expect(await line(dave, "before you go").count()).toBe(1);
    await say(alice, "still there?");
    await line(alice, "still there?").locator(".meta", { hasText: "not sent" }).waitFor({ timeout: WAIT });
  }, 60_000);

  test("dark theme from the system; 360 px wide without sideways scrolling; labelled live regions", async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 640 }, colorScheme: "dark" });
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${webPort}/`);
    await page.locator("#connection[data-state=online]").waitFor({ timeout: WAIT });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(
      "rgb(21, 22, 26)",
    );
    await logIn(page, "alice"); // forces alice's desktop page out: it is not used after this
    await openConversation(page, "carol");
    await say(page, "a longer line from a narrow dark page, to see it wrap instead of overflowing");
    await line(page, "from a narrow dark page").waitFor({ timeout: WAIT });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    expect(await page.locator("#lines").getAttribute("role")).toBe("log");
    expect(await page.locator("#lines").getAttribute("aria-label")).toBe("Messages with carol");
    expect(await page.locator("#notice").getAttribute("aria-live")).toBe("polite");
    expect(await page.locator("label[for=text]").textContent()).toBe("Message");
    await shot(page, "web-dark-360px");
    alice = page;
  }, 60_000);

  test("a server restart: the page shows reconnecting…, resumes, and resends what was not answered", async () => {
    await openConversation(alice, "bob");
    expect(await server.stop()).toBe(0);
    await alice.locator("#connection[data-state=reconnecting]").waitFor({ timeout: WAIT });
    expect(await alice.locator("#connection").textContent()).toBe("reconnecting…");
    await say(alice, "sent while the server was down");
    await line(alice, "sent while the server was down")
      .locator(".meta", { hasText: "sending" })
      .waitFor({ timeout: WAIT });
    await shot(alice, "web-reconnecting");
    server = await start();
    await alice.locator("#connection[data-state=online]").waitFor({ timeout: 15_000 });
    await line(alice, "sent while the server was down")
      .locator(".meta", { hasText: /sent live|queued|delivered/ })
      .waitFor({ timeout: WAIT });
    expect(await alice.locator("#me").textContent()).toContain("alice"); // resumed, no password asked
    // bob's page resumed too and gets the message exactly once.
    await bob.locator("#connection[data-state=online]").waitFor({ timeout: 15_000 });
    const conv = bob.locator("#conversation-list button[data-peer=alice]");
    await conv.click();
    await line(bob, "sent while the server was down").waitFor({ timeout: WAIT });
    expect(await line(bob, "sent while the server was down").count()).toBe(1);
    expect(problems).toEqual([]);
  }, 60_000);
});
