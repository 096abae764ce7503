// The page's protocol session over one WebSocket at a time: requests as promises, pushes
// as actions, PING when quiet, ACK after showing, and when the connection drops,
// reconnection with backoff, RESUME with the token kept in sessionStorage, and resending
// of the SENDs not yet answered (same client_msg_id: the server stores each once).

import {
  Delivery,
  decodeReply,
  encodeRequest,
  type Info,
  Op,
  Push,
  type Reply,
  type RequestInit,
  Status,
  statusName,
} from "./protocol";
import type { Action } from "./state";

export interface SessionDeps {
  url: string;
  dispatch(a: Action): void;
  /** Where the session token lives across reloads of this tab (sessionStorage). */
  storage: {
    getItem(k: string): string | null;
    setItem(k: string, v: string): void;
    removeItem(k: string): void;
  };
  /** True while the person can see the page (new messages in the open conversation are read). */
  reading(): boolean;
  makeSocket?(url: string): WebSocket;
}

export const TOKEN_KEY = "chat.token";

/** Backoff before reconnection attempt n (0-based): doubling from 250 ms up to 5 s, with jitter. */
export function backoffMs(attempt: number, random = Math.random): number {
  const ceiling = Math.min(5000, 250 * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class RequestError extends Error {
  constructor(readonly reply: Reply) {
    super(reply.msg || statusName(reply.status));
  }
}

interface Pending {
  resolve(r: Reply): void;
  reject(e: Error): void;
}

interface Outgoing {
  key: string;
  init: RequestInit;
}

export class WebSession {
  info: Info | null = null;
  name: string | null = null;
  private ws: WebSocket | null = null;
  private open = false;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private outbox: Outgoing[] = [];
  private nextMsgId = Date.now() * 1024;
  private attempt = 0;
  private lastSent = 0;
  private lastHeard = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  /** Reconnect when the connection drops (off after QUIT or a forced logout). */
  private keepUp = true;
  private ready: Promise<void> | null = null;
  private readyResolve: (() => void) | null = null;

  constructor(private readonly d: SessionDeps) {}

  /** Opens the connection; with a stored token the session resumes. */
  start(): Promise<void> {
    this.keepUp = true;
    return this.connect();
  }

  private connect(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise((resolve) => {
      this.readyResolve = resolve;
    });
    this.d.dispatch(
      this.attempt === 0 ? { type: "connecting" } : { type: "reconnecting", reason: "reconnecting…" },
    );
    const ws = this.d.makeSocket ? this.d.makeSocket(this.d.url) : new WebSocket(this.d.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (e) => {
      if (this.ws !== ws || typeof e.data === "string") return;
      let r: Reply;
      try {
        r = decodeReply(new Uint8Array(e.data as ArrayBuffer));
      } catch {
        ws.close();
        return;
      }
      this.lastHeard = Date.now();
      this.onFrame(r);
    };
    ws.onclose = () => {
      if (this.ws === ws) this.onClosed();
    };
    return this.ready;
  }

  private onFrame(r: Reply): void {
    if (r.opcode === Push.HELLO) {
      this.info = r.info;
      this.open = true;
      this.attempt = 0;
      this.startTimers();
      void this.afterHello();
      return;
    }
    if (r.opcode >= 100) {
      this.onPush(r);
      return;
    }
    const p = this.pending.get(r.requestId);
    if (!p) return;
    this.pending.delete(r.requestId);
    p.resolve(r);
  }

  /** Connected: resume the session if there is a token, then resend what was not answered. */
  private async afterHello(): Promise<void> {
    const token = this.d.storage.getItem(TOKEN_KEY);
    if (token && this.keepUp) {
      const r = await this.raw({ opcode: Op.RESUME, token }).catch(() => null);
      // Gone meanwhile, or logged out by a push that overtook the answer.
      if (!r || !this.keepUp) return;
      if (r.status === Status.OK) {
        this.name = r.name;
        this.d.dispatch({ type: "logged_in", name: r.name, unread: r.unread, resumed: true });
        this.d.dispatch({ type: "online" });
        this.readyResolve?.();
        for (const o of this.outbox) void this.transmit(o);
        void this.fetchUnread();
        return;
      }
      this.d.storage.removeItem(TOKEN_KEY);
      this.name = null;
      this.d.dispatch({
        type: "logged_out",
        reason: `your session could not be resumed (${r.msg}); log in again`,
      });
      this.failOutbox("not sent: the session ended before the server answered");
    }
    this.d.dispatch({ type: "online" });
    this.readyResolve?.();
  }

  private onPush(r: Reply): void {
    if (r.opcode === Push.DELIVER) {
      this.d.dispatch({ type: "received", messages: r.messages, reading: this.d.reading() });
      // Shown (the dispatch renders at once): confirm them all, repeats included.
      this.ack(r.messages.map((m) => m.id));
      return;
    }
    if (r.opcode === Push.RECEIPT) {
      this.d.dispatch({ type: "receipts", receipts: r.receipts ?? [] });
      // Shown (the dispatch renders at once): confirmed, so the server forgets them.
      this.ackReceipts((r.receipts ?? []).map((x) => x.messageId));
      return;
    }
    if (r.opcode === Push.LOGGED_OUT) {
      if (r.status === Status.LOGGED_IN_ELSEWHERE) {
        // Never log back in on our own: two tabs would push each other out forever.
        this.keepUp = false;
        this.d.storage.removeItem(TOKEN_KEY);
        this.name = null;
        this.failOutbox("not sent: you were logged out");
        this.d.dispatch({
          type: "logged_out",
          reason: `You were logged out because this account logged in somewhere else (${r.msg.replace(/^logged out: /, "")}). Log in again to continue here.`,
        });
        return;
      }
      if (r.status === Status.TOO_MANY_CONNECTIONS)
        this.d.dispatch({ type: "notice", kind: "error", text: r.msg });
      // Timeouts close the connection; the close handler reconnects and resumes.
      return;
    }
    // SHUTDOWN: the connection closes next and is reopened with backoff; HEARTBEAT: nothing.
  }

  private onClosed(): void {
    this.open = false;
    this.ws = null;
    this.stopTimers();
    for (const p of this.pending.values()) p.reject(new Error("the connection was lost"));
    this.pending.clear();
    const again = this.keepUp && (this.name !== null || this.outbox.length > 0 || this.attempt === 0);
    if (!again) {
      this.ready = null;
      this.d.dispatch({ type: "offline", reason: "not connected; the next action reconnects" });
      return;
    }
    this.ready = null;
    const delay = backoffMs(this.attempt++);
    this.d.dispatch({ type: "reconnecting", reason: "reconnecting…" });
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, delay);
  }

  private startTimers(): void {
    this.stopTimers();
    const hb = Math.max(1000, Math.min(15_000, this.info?.heartbeatMs || 15_000));
    this.lastSent = Date.now();
    this.lastHeard = Date.now();
    this.timer = setInterval(
      () => {
        const now = Date.now();
        if (now - this.lastHeard > hb * 3) {
          this.ws?.close();
          return;
        }
        if (now - this.lastSent >= hb / 2) void this.raw({ opcode: Op.PING }).catch(() => {});
      },
      Math.max(250, hb / 4),
    );
  }

  private stopTimers(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sends a request on the open connection and waits for its answer. */
  private raw(init: RequestInit): Promise<Reply> {
    const ws = this.ws;
    if (!ws || !this.open) return Promise.reject(new Error("not connected"));
    const requestId = this.nextId++;
    ws.send(encodeRequest({ ...init, requestId }) as Uint8Array<ArrayBuffer>);
    this.lastSent = Date.now();
    return new Promise((resolve, reject) => this.pending.set(requestId, { resolve, reject }));
  }

  /** A request, reconnecting first if the connection was let go. */
  async request(init: RequestInit): Promise<Reply> {
    if (!this.open) {
      if (this.retry) {
        clearTimeout(this.retry);
        this.retry = null;
      }
      this.keepUp = true;
      await this.connect();
    }
    return this.raw(init);
  }

  private ack(ids: number[]): void {
    if (!ids.length || !this.ws || !this.open) return;
    this.ws.send(encodeRequest({ opcode: Op.ACK, ackIds: ids }) as Uint8Array<ArrayBuffer>);
    this.lastSent = Date.now();
  }

  private ackReceipts(ids: number[]): void {
    if (!ids.length || !this.ws || !this.open) return;
    this.ws.send(encodeRequest({ opcode: Op.ACK, receiptIds: ids }) as Uint8Array<ArrayBuffer>);
    this.lastSent = Date.now();
  }

  // --- what the page does ---

  async createAccount(name: string, password: string): Promise<Reply> {
    return this.request({ opcode: Op.CREATE_ACCOUNT, sender: name, password });
  }

  async logIn(name: string, password: string): Promise<Reply> {
    const r = await this.request({ opcode: Op.LOG_IN, sender: name, password });
    if (r.status !== Status.OK) return r;
    this.name = r.name;
    this.keepUp = true;
    this.d.storage.setItem(TOKEN_KEY, r.token);
    this.d.dispatch({ type: "logged_in", name: r.name, unread: r.unread, resumed: false });
    void this.fetchUnread();
    return r;
  }

  /** Fetches every waiting message, page by page, confirming each page once shown. */
  async fetchUnread(): Promise<void> {
    for (let pages = 0; pages < 1000; pages++) {
      let r: Reply;
      try {
        r = await this.raw({ opcode: Op.CHECK_MESSAGES, pageSize: 100 });
      } catch {
        return;
      }
      if (r.status !== Status.OK) return;
      this.d.dispatch({ type: "received", messages: r.messages, reading: this.d.reading() });
      this.ack(r.messages.map((m) => m.id));
      this.d.dispatch({ type: "fetched", unread: r.more ? r.unread : 0 });
      if (!r.more) return;
    }
  }

  /** Sends a message; its line is updated when the server answers (resent after a reconnection). */
  send(to: string, text: string): string {
    const clientMsgId = this.nextMsgId++;
    const key = `out:${clientMsgId}`;
    const o: Outgoing = { key, init: { opcode: Op.SEND_MESSAGE, receiver: to, msg: text, clientMsgId } };
    this.outbox.push(o);
    this.d.dispatch({ type: "send_started", key, to, text, at: Date.now() });
    if (this.open && this.name) void this.transmit(o);
    else if (!this.open && !this.retry) void this.connect();
    return key;
  }

  private async transmit(o: Outgoing): Promise<void> {
    let r: Reply;
    try {
      r = await this.raw(o.init);
    } catch {
      return; // connection lost: resent once the session is resumed
    }
    if (r.status === Status.NOT_LOGGED_IN && this.d.storage.getItem(TOKEN_KEY)) return; // resent after RESUME
    this.outbox = this.outbox.filter((x) => x !== o);
    this.d.dispatch({
      type: "send_answered",
      key: o.key,
      ok: r.status === Status.OK,
      queued: r.delivery === Delivery.QUEUED,
      ...(r.status === Status.OK ? { messageId: r.messageId } : { error: r.msg || statusName(r.status) }),
    });
  }

  private failOutbox(why: string): void {
    for (const o of this.outbox)
      this.d.dispatch({ type: "send_answered", key: o.key, ok: false, error: why, queued: false });
    this.outbox = [];
  }

  async listAccounts(pattern: string, cursor = ""): Promise<Reply> {
    return this.request({ opcode: Op.LIST_ACCOUNTS, msg: pattern, cursor, pageSize: 50 });
  }

  /** Deletes the account: the server first hands over every unread message (shown and ACKed). */
  async deleteAccount(password: string): Promise<Reply> {
    const r = await this.request({ opcode: Op.DELETE_ACCOUNT, password });
    if (r.status === Status.OK) {
      this.d.storage.removeItem(TOKEN_KEY);
      this.name = null;
      this.d.dispatch({ type: "deleted", text: r.msg });
    }
    return r;
  }

  /** Logs out (every token of the account is revoked); the server closes the connection. */
  async logOut(): Promise<void> {
    this.keepUp = false;
    this.d.storage.removeItem(TOKEN_KEY);
    this.failOutbox("not sent: you logged out");
    try {
      await this.raw({ opcode: Op.QUIT });
    } catch {
      // closed already: the token is revoked by the next password login anyway
    }
    this.name = null;
    this.d.dispatch({ type: "logged_out", reason: null });
  }
}
