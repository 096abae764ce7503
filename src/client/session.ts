// The protocol session a person uses: operations as promises, delivered messages as
// events (each shown once, and confirmed with ACK only once the handler has shown it),
// and, when the connection drops,
// reconnection with backoff, RESUME with the session token and resending of messages the
// server had not confirmed (same client_msg_id, so the server stores them once).
// The terminal UI imports this; this never imports the UI.

import {
  Op,
  Push,
  type Reply,
  type RequestInit,
  type ServerInfo,
  Status,
  type WireMessage,
  type WireReceipt,
} from "../wire";
import { type ClientConnection, ConnectionClosedError } from "./connection";
import { DialError, type DialOptions, dialRound, serversOf } from "./dial";
import { backoffMs, FIRST_CONNECT_ROUNDS, firstConnectBackoffMs, formatAddress } from "./servers";

export interface SessionOptions extends DialOptions {
  /** Reconnect after a lost connection (false: report the loss and stop). */
  reconnect: boolean;
  /** Stop reconnecting after this long without success. */
  giveUpAfterMs: number;
}

export type ClientEvent =
  | { type: "connected"; address: string; info: ServerInfo | null }
  | { type: "message"; message: WireMessage }
  /** A message this account sent was confirmed by its recipient; text if this client sent it. */
  | { type: "receipt"; receipt: WireReceipt; text: string | null }
  | { type: "notice"; status: number; text: string }
  | { type: "lost"; reason: string; reconnecting: boolean }
  | { type: "reconnecting"; attempt: number; delayMs: number; reason: string }
  | {
      type: "reconnected";
      resumed: string | null;
      unread: number;
      resent: number;
      showing: boolean;
      /** The server now connected to, when it is another one than before. */
      address?: string;
    }
  | { type: "session_ended"; text: string }
  | { type: "gave_up"; reason: string };

/** A SEND the server has not answered yet; resent after a reconnection. */
interface Outgoing {
  init: RequestInit;
  promise: Promise<Reply>;
  resolve(r: Reply): void;
  reject(e: Error): void;
}

export class ChatSession {
  /** The account logged in as, or null. */
  name: string | null = null;
  info: ServerInfo | null = null;
  private token: string | null = null;
  private conn: ClientConnection | null = null;
  /** The server (index in the list) connected to last, and how it is written. */
  private server: number | null = null;
  private where: string | null = null;
  private readonly outbox: Outgoing[] = [];
  private maxSeenId = 0;
  /** Connected (and resumed, if there was a session): requests may go out. */
  private ready: Promise<void> = Promise.resolve();
  private reconnecting = false;
  private closing = false;
  /** The server closed an idle, logged-out connection: reconnect on the next request. */
  private idle = false;
  private stopped: string | null = null;
  /**
   * Every message handed over so far has been shown (logged in with none waiting, or
   * /check emptied the queue): after a reconnection the waiting ones are fetched and shown
   * too, as they would have arrived live. Otherwise only their number is reported.
   */
  private caughtUp = true;
  /** Texts of messages sent from here, by client_msg_id, for their receipts (the newest SENT_TEXTS). */
  private readonly sentTexts = new Map<number, string>();
  /** Receipts shown in this login, so one pushed again (a new connection) is not shown twice. */
  private readonly shownReceipts = new Set<number>();
  /** Events are handled one after the other, in order; a message's ACK follows its handling. */
  private handled: Promise<void> = Promise.resolve();

  /**
   * emit may return a promise: the next event waits for it, and a delivered message is
   * confirmed to the server only once it has resolved (the message has been written). If it
   * rejects, the message stays unconfirmed and the server hands it over again later.
   */
  constructor(
    private readonly o: SessionOptions,
    private readonly emit: (e: ClientEvent) => void | Promise<void>,
  ) {}

  /** A connection is open (false while reconnecting, or after the server closed an idle one). */
  get connected(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  /** Resolves once every event so far (messages included) has been handled. */
  drained(): Promise<void> {
    return this.handled;
  }

  /** The server connected to (or last connected to), host:port as given. */
  get address(): string {
    return this.where ?? serversOf(this.o).map(formatAddress).join(", ");
  }

  /**
   * The first connection: a few quick rounds over the servers while they all refuse (one
   * may be starting); rejects (with a sentence for people) when none can be reached.
   */
  async connect(): Promise<void> {
    for (let round = 0; ; round++) {
      try {
        await this.open();
        return;
      } catch (error) {
        if (!(error instanceof DialError && error.transient) || round + 1 >= FIRST_CONNECT_ROUNDS)
          throw error;
        await Bun.sleep(firstConnectBackoffMs(round));
      }
    }
  }

  create(name: string, password: string): Promise<Reply> {
    return this.call({ opcode: Op.CREATE_ACCOUNT, sender: name, password });
  }

  async login(name: string, password: string): Promise<Reply> {
    const r = await this.call({ opcode: Op.LOG_IN, sender: name, password });
    if (r.status === Status.OK) this.loggedIn(r);
    return r;
  }

  /** Sends a message; it is resent after a reconnection until the server answers. */
  async send(to: string, text: string): Promise<Reply> {
    await this.whenReady();
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    const entry: Outgoing = {
      init: { opcode: Op.SEND_MESSAGE, receiver: to, msg: text, clientMsgId: randomId() },
      promise,
      resolve,
      reject,
    };
    this.outbox.push(entry);
    this.remember(entry.init.clientMsgId!, text);
    this.transmit(entry);
    return promise;
  }

  /**
   * One page of waiting messages. Like pushed ones, they arrive as "message" events (each
   * once, in arrival order) before this resolves.
   */
  async check(pageSize = 0): Promise<Reply> {
    const r = await this.call({ opcode: Op.CHECK_MESSAGES, pageSize });
    if (r.status === Status.OK) this.caughtUp = !r.more;
    return r;
  }

  async deleteAccount(password: string): Promise<Reply> {
    const r = await this.call({ opcode: Op.DELETE_ACCOUNT, password });
    if (r.status === Status.OK) this.loggedOut();
    return r;
  }

  list(pattern: string, cursor = "", pageSize = 0): Promise<Reply> {
    return this.call({ opcode: Op.LIST_ACCOUNTS, msg: pattern, cursor, pageSize });
  }

  /** Logs out and closes. Without a session the server says there was none. */
  async quit(): Promise<Reply> {
    const r = await this.call({ opcode: Op.QUIT });
    this.loggedOut();
    this.close();
    return r;
  }

  /** Resolves once every message sent so far has been answered (or failed). */
  async settled(): Promise<void> {
    while (this.outbox.length) await Promise.allSettled(this.outbox.map((e) => e.promise));
  }

  close(): void {
    this.closing = true;
    this.conn?.close();
    this.conn = null;
    this.failOutbox("not sent: the client is closing");
  }

  // --- internal ---

  private async call(init: RequestInit): Promise<Reply> {
    await this.whenReady();
    const r = await this.conn!.request(init);
    // Messages the answer carried (CHECK, DELETE) are handled before the caller hears of it.
    await this.handled;
    return r;
  }

  private async whenReady(): Promise<void> {
    if (this.stopped) throw new ConnectionClosedError(this.stopped);
    if (this.idle && !this.reconnecting) {
      this.idle = false;
      this.ready = this.open().catch((error) => {
        this.idle = true;
        throw error;
      });
    }
    await this.ready;
    if (!this.conn || this.conn.closed) throw new ConnectionClosedError(this.stopped ?? "not connected");
  }

  private transmit(entry: Outgoing): void {
    const conn = this.conn;
    if (!conn || conn.closed) return; // resent after the reconnection
    conn.request(entry.init).then(
      (reply) => {
        const i = this.outbox.indexOf(entry);
        if (i >= 0) this.outbox.splice(i, 1);
        entry.resolve(reply);
      },
      (error) => {
        // Lost connection: the entry stays in the outbox for the resend, unless we stop.
        if (!(error instanceof ConnectionClosedError)) {
          this.outbox.splice(this.outbox.indexOf(entry), 1);
          entry.reject(error);
        }
      },
    );
  }

  private async open(): Promise<void> {
    const { conn, server, where } = await dialRound(this.o, this.server, {
      onPush: (r) => this.onPush(r),
      // Messages in answers (CHECK) are taken as they arrive, in order with pushes:
      // de-duplication by id and the order people see rely on it.
      onAnswer: (r) => this.take(r.messages),
      onLost: (reason) => this.onLost(conn, reason),
    });
    this.server = server;
    this.where = where;
    this.conn = conn;
    this.info = conn.info;
    this.handle({ type: "connected", address: this.address, info: this.info });
  }

  private onPush(r: Reply): void {
    switch (r.opcode) {
      case Push.DELIVER:
        this.take(r.messages);
        return;
      case Push.HEARTBEAT:
        return;
      case Push.RECEIPT:
        this.takeReceipts(r.receipts ?? []);
        return;
      case Push.LOGGED_OUT:
        if (r.status === Status.LOGIN_TIMEOUT && !this.name) {
          this.idle = true; // reconnect quietly on the next request
          return;
        }
        if (r.status === Status.LOGGED_IN_ELSEWHERE || r.status === Status.KICKED) {
          // Ended on purpose: never resume it (two clients must not kick each other in a loop).
          this.loggedOut();
          this.handle({ type: "session_ended", text: r.msg });
          return;
        }
        this.handle({ type: "notice", status: r.status, text: r.msg });
        return;
      default:
        this.handle({ type: "notice", status: r.status, text: r.msg });
    }
  }

  /**
   * Confirms handed-over messages and shows each one not seen before. A recipient's ids
   * only grow, in the order the server sends them, so anything not above the highest id
   * seen is a redelivery.
   */
  private take(messages: WireMessage[]): void {
    for (const m of messages) {
      const fresh = m.id > this.maxSeenId;
      if (fresh) this.maxSeenId = m.id;
      // A redelivery is confirmed too, but only after the first copy has been shown.
      this.handle(fresh ? { type: "message", message: m } : null, () => this.conn?.ack(m.id));
    }
  }

  /** Shows each receipt not shown before, then confirms it (shown or a repeat). */
  private takeReceipts(receipts: WireReceipt[]): void {
    for (const x of receipts) {
      const fresh = !this.shownReceipts.has(x.messageId);
      let e: ClientEvent | null = null;
      if (fresh) {
        bounded(this.shownReceipts, SENT_TEXTS);
        this.shownReceipts.add(x.messageId);
        const text = x.clientMsgId ? (this.sentTexts.get(x.clientMsgId) ?? null) : null;
        if (x.clientMsgId) this.sentTexts.delete(x.clientMsgId);
        e = { type: "receipt", receipt: x, text };
      }
      this.handle(e, () => this.conn?.ackReceipt(x.messageId));
    }
  }

  private remember(clientMsgId: number, text: string): void {
    bounded(this.sentTexts, SENT_TEXTS);
    this.sentTexts.set(clientMsgId, text);
  }

  /** Queues e behind the events before it; then (if e was handled) runs after. */
  private handle(e: ClientEvent | null, after?: () => void): void {
    this.handled = this.handled.then(async () => {
      try {
        if (e) await this.emit(e);
      } catch {
        return; // not shown, so not confirmed
      }
      after?.();
    });
  }

  private onLost(conn: ClientConnection, reason: string): void {
    if (conn !== this.conn || this.closing) return;
    this.conn = null;
    if (this.idle && !this.name) return;
    if (!this.o.reconnect) {
      this.stop(reason);
      this.handle({ type: "lost", reason, reconnecting: false });
      return;
    }
    this.handle({ type: "lost", reason, reconnecting: true });
    this.ready = this.reconnect(reason);
    this.ready.catch(() => {});
  }

  private async reconnect(reason: string): Promise<void> {
    this.reconnecting = true;
    const before = this.where;
    const started = Date.now();
    let lastError = reason;
    try {
      for (let attempt = 0; ; attempt++) {
        const delayMs = backoffMs(attempt);
        if (Date.now() + delayMs - started > this.o.giveUpAfterMs) {
          const why = `gave up reconnecting to ${serversOf(this.o).map(formatAddress).join(", ")} after ${Math.round((Date.now() - started) / 1000)} s (${lastError})`;
          this.stop(why);
          this.handle({ type: "gave_up", reason: why });
          throw new ConnectionClosedError(why);
        }
        this.handle({ type: "reconnecting", attempt: attempt + 1, delayMs, reason: lastError });
        await Bun.sleep(delayMs);
        if (this.closing) throw new ConnectionClosedError("the client is closing");
        try {
          await this.open();
          break;
        } catch (error) {
          lastError = (error as Error).message;
        }
      }
      await this.resume(this.where !== before ? (this.where ?? undefined) : undefined);
    } finally {
      this.reconnecting = false;
    }
  }

  /** After reconnecting: log back in with the token, then resend unanswered messages in order. */
  private async resume(movedTo?: string): Promise<void> {
    const conn = this.conn!;
    let resumed: string | null = null;
    let unread = 0;
    if (this.token) {
      const r = await conn.request({ opcode: Op.RESUME, token: this.token });
      if (r.status === Status.OK) {
        resumed = r.name;
        unread = r.unread;
      } else {
        this.loggedOut();
        this.handle({ type: "session_ended", text: r.msg });
        this.failOutbox("may not have been sent: the session ended before the server confirmed it");
      }
    }
    for (const entry of this.outbox) this.transmit(entry);
    const showing = resumed !== null && unread > 0 && this.caughtUp;
    this.handle({
      type: "reconnected",
      resumed,
      unread,
      resent: this.outbox.length,
      showing,
      ...(movedTo ? { address: movedTo } : {}),
    });
    if (showing) await this.catchUp(conn);
  }

  /** Fetches what waited during the outage (bounded pages); the messages come as events. */
  private async catchUp(conn: ClientConnection): Promise<void> {
    for (let page = 0; page < 20; page++) {
      const r = await conn.request({ opcode: Op.CHECK_MESSAGES, pageSize: 0 }).catch(() => null);
      if (!r || r.status !== Status.OK) return;
      this.caughtUp = !r.more;
      if (!r.more) return;
    }
  }

  private loggedIn(r: Reply): void {
    // Message ids are server-wide: another account's older messages have lower ids.
    if (r.name !== this.name) {
      this.maxSeenId = 0;
      this.sentTexts.clear();
      this.shownReceipts.clear();
    }
    this.caughtUp = r.unread === 0;
    this.name = r.name;
    this.token = r.token || this.token;
  }

  private loggedOut(): void {
    this.name = null;
    this.token = null;
    this.maxSeenId = 0;
    this.caughtUp = true;
  }

  private stop(reason: string): void {
    this.stopped = reason;
    this.failOutbox(`not confirmed by the server: ${reason}`);
  }

  private failOutbox(why: string): void {
    const entries = this.outbox.splice(0);
    for (const e of entries) e.reject(new ConnectionClosedError(why));
  }
}

/** Sent texts and shown receipt ids remembered at most (the oldest are forgotten). */
const SENT_TEXTS = 1000;

/** Makes room for one more entry in a bounded Map or Set (insertion order: the oldest goes). */
function bounded(c: Map<number, unknown> | Set<number>, max: number): void {
  while (c.size >= max) c.delete(c.keys().next().value!);
}

/** A random 53-bit id for client_msg_id: unique per sender without coordination. */
function randomId(): number {
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  return (a! & 0x1fffff) * 2 ** 32 + b! || 1;
}
