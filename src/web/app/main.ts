/// <reference lib="dom" />
// The web client's wiring: state, session, view and the page's controls.

import { LINES_KEY, restore, snapshot } from "./persist";
import { Status } from "./protocol";
import { RequestError, TOKEN_KEY, WebSession } from "./session";
import { type Action, initialState, lastSent, reduce, type State } from "./state";
import { View } from "./view";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let state: State = initialState;
const view = new View();
const dispatch = (a: Action) => {
  const before = state;
  state = reduce(state, a);
  view.render(state);
  if (state.conversations !== before.conversations || state.owner !== before.owner) keep();
};

let keeping = false;
/** The conversations survive a reload of this tab (persist.ts); a logout forgets them. */
function keep(): void {
  // Once per burst (a page of messages, a RECEIPT push): the snapshot is written after it.
  if (keeping) return;
  keeping = true;
  setTimeout(() => {
    keeping = false;
    save();
  }, 0);
}

function save(): void {
  try {
    const text = snapshot(state);
    if (text === null) sessionStorage.removeItem(LINES_KEY);
    else sessionStorage.setItem(LINES_KEY, text);
  } catch {
    // Storage full or refused: the page works on, a reload just starts empty.
  }
}

// A reload within the burst still keeps its last change.
addEventListener("pagehide", save);

// Only a tab that can resume its session gets its conversations back.
const saved = sessionStorage.getItem(TOKEN_KEY) ? restore(sessionStorage.getItem(LINES_KEY)) : null;
if (saved) dispatch({ type: "restored", ...saved });

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const session = new WebSession({
  url: wsUrl,
  dispatch,
  storage: sessionStorage,
  reading: () => document.visibilityState === "visible",
});

const say = (kind: "info" | "error", text: string) => dispatch({ type: "notice", kind, text });
const failed = (what: string, e: unknown) =>
  say(
    "error",
    `${what}: ${e instanceof RequestError ? e.message : e instanceof Error ? e.message : String(e)}`,
  );

// --- log in / create ---

const loginName = $<HTMLInputElement>("login-name");
const loginPassword = $<HTMLInputElement>("login-password");

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await session.logIn(loginName.value.trim(), loginPassword.value);
    if (r.status !== Status.OK) return say("error", r.msg);
    loginPassword.value = "";
    $("to-name").focus();
  } catch (error) {
    failed("could not log in", error);
  }
});

$("create-submit").addEventListener("click", async () => {
  const form = $<HTMLFormElement>("login-form");
  if (!form.reportValidity()) return;
  try {
    const name = loginName.value.trim();
    const password = loginPassword.value;
    const r = await session.createAccount(name, password);
    if (r.status !== Status.OK) return say("error", r.msg);
    say("info", `created account ${r.name}`);
    const l = await session.logIn(r.name, password);
    if (l.status !== Status.OK) return say("error", l.msg);
    loginPassword.value = "";
    $("to-name").focus();
  } catch (error) {
    failed("could not create the account", error);
  }
});

// --- conversations ---

const open = (peer: string) => {
  dispatch({ type: "open", peer });
  $("text").focus();
};

$("to-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>("to-name");
  const peer = input.value.trim();
  if (!peer) return;
  input.value = "";
  open(peer);
});

$("conversation-list").addEventListener("click", (e) => {
  const b = (e.target as HTMLElement).closest("button");
  if (b?.dataset.peer) open(b.dataset.peer);
});

$("back").addEventListener("click", () => {
  dispatch({ type: "close_conversation" });
  $("to-name").focus();
});

const text = $<HTMLInputElement>("text");
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const body = text.value;
  if (!body.trim() || !state.active) return;
  text.value = "";
  session.send(state.active, body);
});
text.addEventListener("keydown", (e) => {
  // Up in an empty composer brings back the last message sent here, to edit and send again.
  if (e.key === "ArrowUp" && text.value === "" && state.active) {
    const last = lastSent(state, state.active);
    if (last !== null) {
      e.preventDefault();
      text.value = last;
      text.setSelectionRange(last.length, last.length);
    }
  }
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.active) dispatch({ type: "open", peer: state.active });
});

// --- accounts ---

const accountsDialog = $<HTMLDialogElement>("accounts-dialog");
const pattern = $<HTMLInputElement>("accounts-pattern");

async function listAccounts(append: boolean) {
  const p = append ? (state.accounts?.pattern ?? "") : pattern.value.trim();
  try {
    const r = await session.listAccounts(p, append ? (state.accounts?.cursor ?? "") : "");
    if (r.status !== Status.OK) return say("error", r.msg);
    dispatch({ type: "accounts", pattern: p, list: r.accounts, more: r.more, cursor: r.nextCursor, append });
  } catch (error) {
    failed("could not list accounts", error);
  }
}

$("open-accounts").addEventListener("click", () => {
  accountsDialog.showModal();
  pattern.focus();
  void listAccounts(false);
});
$("accounts-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void listAccounts(false);
});
$("accounts-more").addEventListener("click", () => void listAccounts(true));
$("accounts-list").addEventListener("click", (e) => {
  const b = (e.target as HTMLElement).closest("button");
  if (!b?.dataset.peer) return;
  accountsDialog.close();
  open(b.dataset.peer);
});
accountsDialog.addEventListener("close", () => dispatch({ type: "accounts_closed" }));

// --- delete account, log out ---

const deleteDialog = $<HTMLDialogElement>("delete-dialog");
$("open-delete").addEventListener("click", () => {
  deleteDialog.showModal();
  $("delete-password").focus();
});
$("delete-cancel").addEventListener("click", () => deleteDialog.close());
$("delete-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const pw = $<HTMLInputElement>("delete-password");
  try {
    const r = await session.deleteAccount(pw.value);
    pw.value = "";
    if (r.status !== Status.OK) return say("error", r.msg);
    deleteDialog.close();
  } catch (error) {
    failed("could not delete the account", error);
  }
});

$("logout").addEventListener("click", () => void session.logOut());

view.render(state);
void session.start();
