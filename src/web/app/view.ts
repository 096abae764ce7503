/// <reference lib="dom" />
// Draws the state into the page. Every text from the server or another person goes in
// through textContent (never as HTML), inside elements with dir="auto" or <bdi>, so
// markup shows as text and right-to-left text cannot reorder what surrounds it.

import type { ChatLine, State } from "./state";
import { totalUnread } from "./state";

const $ = <T extends HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; dir?: string } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.className) e.className = props.className;
  if (props.text !== undefined) e.textContent = props.text;
  if (props.dir) e.dir = props.dir;
  for (const c of children) e.append(c);
  return e;
}

const bdi = (text: string) => el("bdi", { text });

function time(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** Each state of my messages: a mark for the eye (hidden from screen readers) and a text label. */
const STATE_TEXT = {
  sending: "sending…",
  sent: "sent live",
  queued: "queued (offline)",
  delivered: "delivered",
  failed: "not sent",
} as const;
const STATE_MARK = { sending: "○", sent: "✓", queued: "○", delivered: "✓✓", failed: "✗" } as const;

export class View {
  private shownPeer: string | null = null;
  private lineEls = new Map<string, HTMLLIElement>();
  private announced = new Set<string>();

  render(s: State): void {
    const conn = $("connection");
    conn.dataset.state = s.connection;
    conn.textContent =
      s.connection === "online"
        ? "connected"
        : s.connection === "connecting"
          ? "connecting…"
          : s.connection === "reconnecting"
            ? "reconnecting…"
            : s.connectionNote || "offline";

    const me = $("me");
    me.hidden = !s.me;
    me.replaceChildren(document.createTextNode("logged in as "), bdi(s.me ?? ""));
    $("actions").hidden = !s.me;
    $("login").hidden = !!s.me;
    $("chat").hidden = !s.me && s.conversations.length === 0;

    const why = $("logged-out-because");
    why.hidden = !s.loggedOutBecause;
    why.textContent = s.loggedOutBecause ?? "";

    const notice = $("notice");
    notice.dataset.kind = s.notice?.kind ?? "info";
    notice.textContent = s.notice?.text ?? "";

    const unread = totalUnread(s);
    document.title = unread ? `(${unread}) chat` : "chat";

    this.renderConversations(s);
    this.renderThread(s);
    this.renderAccounts(s);
  }

  private renderConversations(s: State): void {
    const list = $("conversation-list");
    const items = s.conversations.map((c) => {
      const label = c.unread ? `${c.peer}, ${c.unread} unread` : c.peer;
      const b = el("button", {}, el("span", { dir: "auto", text: c.peer }));
      b.type = "button";
      b.dataset.peer = c.peer;
      b.setAttribute("aria-label", label);
      if (c.peer === s.active) b.setAttribute("aria-current", "true");
      if (c.unread) b.append(el("span", { className: "badge", text: String(c.unread) }));
      return el("li", {}, b);
    });
    list.replaceChildren(...items);
    $("no-conversations").hidden = s.conversations.length > 0;
    $("chat").dataset.view = s.active ? "thread" : "list";
  }

  private renderThread(s: State): void {
    const title = $("thread-title");
    const lines = $("lines");
    const conv = s.conversations.find((c) => c.peer === s.active);
    if (s.active !== this.shownPeer) {
      this.shownPeer = s.active;
      this.lineEls.clear();
      lines.replaceChildren();
      title.replaceChildren(
        ...(s.active
          ? [document.createTextNode("Conversation with "), bdi(s.active)]
          : [document.createTextNode("Pick a conversation")]),
      );
      lines.setAttribute("aria-label", s.active ? `Messages with ${s.active}` : "Messages");
    }
    const text = $<HTMLInputElement>("text");
    const send = $<HTMLButtonElement>("send");
    text.disabled = send.disabled = !s.active || !s.me;

    const wanted = new Set<string>();
    const nearBottom = lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40;
    for (const line of conv?.lines ?? []) {
      wanted.add(line.key);
      let li = this.lineEls.get(line.key);
      if (!li) {
        li = this.lineElement(line);
        this.lineEls.set(line.key, li);
        lines.append(li);
      }
      this.updateMeta(li, line);
    }
    for (const [key, li] of this.lineEls)
      if (!wanted.has(key)) {
        li.remove();
        this.lineEls.delete(key);
      }
    if (nearBottom) lines.scrollTop = lines.scrollHeight;

    // Messages arriving in another conversation are announced on their own.
    for (const c of s.conversations) {
      if (c.peer === s.active) continue;
      const last = c.lines[c.lines.length - 1];
      if (last && !last.mine && c.unread > 0 && !this.announced.has(last.key)) {
        this.announced.add(last.key);
        $("announce").textContent = `New message from ${c.peer}`;
      }
    }
  }

  private lineElement(line: ChatLine): HTMLLIElement {
    const li = el("li", { className: line.mine ? "mine" : "theirs" });
    li.dataset.key = line.key;
    const who = el("span", { className: "visually-hidden" }, document.createTextNode(line.mine ? "You" : ""));
    if (!line.mine) who.replaceChildren(bdi(line.peer));
    who.append(document.createTextNode(": "));
    li.append(
      who,
      el("span", { className: "text", dir: "auto", text: line.text }),
      el("span", { className: "meta" }),
    );
    return li;
  }

  private updateMeta(li: HTMLLIElement, line: ChatLine): void {
    const meta = li.querySelector<HTMLElement>(".meta")!;
    const st = line.mine ? line.state : undefined;
    const label = st
      ? `${STATE_TEXT[st]}${st === "delivered" && line.deliveredAt ? ` ${time(line.deliveredAt)}` : ""}${line.error ? `: ${line.error}` : ""}`
      : "";
    const key = `${time(line.at)}|${st ?? ""}|${label}`;
    if (meta.dataset.shown !== key) {
      meta.dataset.shown = key;
      const parts: Node[] = [document.createTextNode(time(line.at))];
      if (st) {
        const mark = el("span", { className: "state-mark", text: ` ${STATE_MARK[st]}` });
        mark.setAttribute("aria-hidden", "true");
        parts.push(
          document.createTextNode(" ·"),
          mark,
          el("span", { className: "state-label", text: ` ${label}` }),
        );
      }
      meta.replaceChildren(...parts);
    }
    if (line.state) li.dataset.state = line.state;
  }

  private renderAccounts(s: State): void {
    const list = $("accounts-list");
    const a = s.accounts;
    $("accounts-more").hidden = !a?.more;
    if (!a) {
      list.replaceChildren();
      return;
    }
    if (a.list.length === 0) {
      list.replaceChildren(
        el("li", { className: "hint", text: a.more ? "none so far; More searches on" : "no accounts match" }),
      );
      return;
    }
    list.replaceChildren(
      ...a.list.map((acc) => {
        const mark = el("span", {
          className: acc.online ? "online-mark" : "offline-mark",
          text: acc.online ? "● " : "○ ",
        });
        mark.setAttribute("aria-hidden", "true");
        const b = el(
          "button",
          {},
          mark,
          el("span", { dir: "auto", text: acc.name }),
          el("span", { className: "visually-hidden", text: acc.online ? ", online" : ", offline" }),
        );
        b.type = "button";
        b.dataset.peer = acc.name;
        return el("li", {}, b);
      }),
    );
  }
}
