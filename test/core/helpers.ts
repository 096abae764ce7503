// A socket-free harness for ChatCore: fake connections that record every frame (after a
// round trip through the wire codec), the memory store, an instant password hasher and a
// clock that moves only when a test says so.

import { expect } from "bun:test";
import type { PasswordHasher } from "../../src/core/auth";
import { ChatCore, localThrottles } from "../../src/core/chat";
import type { Throttles } from "../../src/core/context";
import type { ServerEvent } from "../../src/core/events";
import { Metrics } from "../../src/core/metrics";
import { type CoreOptions, DEFAULT_OPTIONS } from "../../src/core/options";
import { LocalPresence, type Presence } from "../../src/core/presence";
import type { Conn, Session } from "../../src/core/session";
import { LocalSignals, type Signals } from "../../src/core/signals";
import { MemoryStore } from "../../src/store/memory";
import type { NewMessage, Store } from "../../src/store/store";
import {
  decodeReply,
  encodeReply,
  encodeRequest,
  FIRST_PUSH_OPCODE,
  Op,
  Push,
  type Reply,
  type ReplyInit,
  type RequestInit,
  Status,
  type WireMessage,
} from "../../src/wire";
import { scrambled } from "./scrambled-store";

export const SERVER_VERSION = "9.8.7-test";
/** The fake clock's starting time (ms since the epoch). */
export const START = Date.UTC(2030, 0, 1);
/** Each test account's password unless a test picks another. */
export const pw = (name: string): string => `secret-${name}-pw`;

/** Instant "hashing"; hold() makes later calls wait until released, like a slow argon2. */
export class FakeHasher implements PasswordHasher {
  private gate: Promise<void> | null = null;

  async hash(password: string): Promise<string> {
    await this.gate;
    return `h:${password}`;
  }

  async verify(password: string, hash: string): Promise<boolean> {
    await this.gate;
    return hash === `h:${password}`;
  }

  hold(): () => void {
    const g = gate();
    this.gate = g.wait;
    return () => {
      this.gate = null;
      g.open();
    };
  }
}

/** The memory store, with calls a test can hold back to make them slow. */
export class SlowStore extends MemoryStore {
  private gates = new Map<string, Promise<void>>();

  hold(method: "pending" | "countPending" | "enqueue"): () => void {
    const g = gate();
    this.gates.set(method, g.wait);
    return () => {
      this.gates.delete(method);
      g.open();
    };
  }

  override async pending(recipientId: number, afterId: number, limit: number) {
    await this.gates.get("pending");
    return super.pending(recipientId, afterId, limit);
  }

  override async countPending(recipientId: number) {
    await this.gates.get("countPending");
    return super.countPending(recipientId);
  }

  override async enqueue(m: NewMessage) {
    await this.gates.get("enqueue");
    return super.enqueue(m);
  }
}

/** A connection as the core sees it, plus the client's side of the conversation. */
export class Client implements Conn {
  /** Every frame the core sent, decoded from its wire bytes. */
  readonly frames: Reply[] = [];
  closed = false;
  paused = false;
  session!: Session;
  private nextRequestId = 1;

  constructor(
    private readonly h: Harness<Store>,
    readonly address: string,
  ) {}

  // --- Conn ---

  send(frame: ReplyInit): void {
    this.frames.push(plain(decodeReply(encodeReply({ ...frame }))));
    this.h.activity++;
  }

  /** Like the network shell: the socket closes a moment later and the core hears of it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.h.activity++;
    queueMicrotask(() => this.h.core.disconnected(this.session, "closed by server"));
  }

  pause(): void {
    this.paused = true;
  }

  abort(): void {
    this.close();
  }

  resume(): void {
    this.paused = false;
  }

  // --- the client's side ---

  /** Sends one request without waiting for anything; returns its request id. */
  post(fields: RequestInit): number {
    const requestId = fields.requestId ?? this.nextRequestId++;
    this.postRaw(encodeRequest({ ...fields, requestId }));
    return requestId;
  }

  postRaw(body: Uint8Array): void {
    this.h.core.receive(this.session, body);
  }

  /** Sends a request, lets the core finish, and returns the response to it. */
  async request(fields: RequestInit): Promise<Reply> {
    const id = this.post(fields);
    await this.h.settle();
    return this.reply(id);
  }

  /** The one response carrying requestId. */
  reply(requestId: number): Reply {
    const found = this.responses().filter((r) => r.requestId === requestId);
    if (found.length !== 1) throw new Error(`${found.length} responses to request ${requestId}, not 1`);
    return found[0]!;
  }

  responses(): Reply[] {
    return this.frames.filter((f) => f.opcode < FIRST_PUSH_OPCODE);
  }

  pushes(opcode?: number): Reply[] {
    return this.frames.filter(
      (f) => f.opcode >= FIRST_PUSH_OPCODE && (opcode === undefined || f.opcode === opcode),
    );
  }

  /** Every message pushed with DELIVER, in arrival order. */
  delivered(): WireMessage[] {
    return this.pushes(Push.DELIVER).flatMap((p) => p.messages);
  }

  texts(): string[] {
    return this.delivered().map((m) => m.text);
  }

  last(): Reply {
    return this.frames[this.frames.length - 1]!;
  }

  /** The peer went away. */
  hangUp(): void {
    this.closed = true;
    this.h.core.disconnected(this.session, "peer closed");
  }

  create(name: string, password = pw(name)): Promise<Reply> {
    return this.request({ opcode: Op.CREATE_ACCOUNT, sender: name, password });
  }

  login(name: string, password = pw(name)): Promise<Reply> {
    return this.request({ opcode: Op.LOG_IN, sender: name, password });
  }

  resumeWith(token: string): Promise<Reply> {
    return this.request({ opcode: Op.RESUME, token });
  }

  sendTo(receiver: string, msg: string, extra: Partial<RequestInit> = {}): Promise<Reply> {
    return this.request({ opcode: Op.SEND_MESSAGE, receiver, msg, ...extra });
  }

  check(pageSize = 0): Promise<Reply> {
    return this.request({ opcode: Op.CHECK_MESSAGES, pageSize });
  }

  list(pattern: string, extra: Partial<RequestInit> = {}): Promise<Reply> {
    return this.request({ opcode: Op.LIST_ACCOUNTS, msg: pattern, ...extra });
  }

  ping(): Promise<Reply> {
    return this.request({ opcode: Op.PING });
  }

  async ack(ids: number[]): Promise<void> {
    this.post({ opcode: Op.ACK, ackIds: ids });
    await this.h.settle();
  }

  /** ACKs every delivered message not yet acked by this helper. */
  async ackAll(): Promise<void> {
    await this.ack(this.delivered().map((m) => m.id));
  }
}

/**
 * CHAT_CORE_SCRAMBLE=<seed> runs every harness on a store whose promises settle out of
 * order (scrambled-store.ts); test/core/out-of-order.test.ts runs this folder that way.
 */
const SCRAMBLE = process.env.CHAT_CORE_SCRAMBLE;

/** What the cores of one test share when several stand for the nodes of one service. */
export interface Shared<S extends Store = SlowStore> {
  store: S;
  presence: Presence;
  signals: Signals;
  throttles: Throttles;
  clock: { now: number };
  /** Results held back by the scrambling wrapper (0 without one). */
  holding: () => number;
  /** The store the cores use: store itself, or store scrambled. */
  coreStore: Store;
}

export function sharedBackend(options: CoreOptions, seed = SCRAMBLE ? Number(SCRAMBLE) : null): Shared {
  const store = new SlowStore({
    maxQueuedPerAccount: options.maxQueuedPerAccount,
    maxQueuedPerSender: options.maxQueuedPerSender,
    dedupPerSender: options.maxUnansweredSends,
  });
  const mixed = seed === null ? null : scrambled(store, seed);
  return {
    store,
    presence: new LocalPresence(),
    signals: new LocalSignals(),
    throttles: localThrottles(options),
    clock: { now: START },
    holding: mixed ? mixed.holding : () => 0,
    coreStore: mixed ? mixed.store : store,
  };
}

export class Harness<S extends Store = SlowStore> {
  readonly clock: { now: number };
  readonly events: ServerEvent[] = [];
  readonly metrics = new Metrics();
  readonly passwords = new FakeHasher();
  readonly options: CoreOptions;
  readonly store: S;
  readonly core: ChatCore;
  readonly shared: Shared<S>;
  /** Bumped by every frame and close, so settle() knows when the core has gone quiet. */
  activity = 0;
  private nextAddress = 1;

  /** shared: the backend of other harnesses, whose cores are then nodes of one service. */
  constructor(overrides: Partial<CoreOptions> = {}, shared?: Shared<S>, node?: string) {
    this.options = { ...DEFAULT_OPTIONS, ...overrides };
    // Without a shared backend the harness has its own memory store (S is SlowStore then).
    this.shared = shared ?? (sharedBackend(this.options) as unknown as Shared<S>);
    this.store = this.shared.store;
    this.clock = this.shared.clock;
    this.core = new ChatCore({
      store: this.shared.coreStore,
      options: this.options,
      events: (e) => this.events.push(e),
      metrics: this.metrics,
      passwords: this.passwords,
      serverVersion: SERVER_VERSION,
      now: () => this.clock.now,
      ...(shared
        ? { presence: shared.presence, signals: shared.signals, throttles: shared.throttles, node }
        : {}),
    });
  }

  /** A new connection; each gets its own address unless one is given. */
  connect(address = `192.0.2.${this.nextAddress++}`): Client {
    const c = new Client(this, address);
    c.session = this.core.connect(c);
    return c;
  }

  /** A connection logged in to a new account. */
  async user(name: string, address?: string): Promise<Client> {
    const c = this.connect(address);
    expect(await c.create(name)).toMatchObject({ status: Status.OK });
    expect(await c.login(name)).toMatchObject({ status: Status.OK });
    return c;
  }

  /** An account with nobody logged in. */
  async offline(name: string): Promise<void> {
    const c = this.connect();
    expect(await c.create(name)).toMatchObject({ status: Status.OK });
    c.hangUp();
  }

  /** Waits until store calls and everything they set off have finished (no frame for a few turns). */
  async settle(): Promise<void> {
    let seen = -1;
    const started = Date.now();
    for (let quiet = 0, turns = 0; quiet < 3; turns++) {
      if (turns > 10_000) throw new Error("the core never went quiet");
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Work held elsewhere (a network backend's round trips) is waited for by time, not turns.
      if (this.shared.holding() > 0) {
        if (Date.now() - started > 10_000) throw new Error("the backend never went quiet");
        turns--;
      }
      if (this.activity === seen && this.shared.holding() === 0) quiet++;
      else [seen, quiet] = [this.activity, 0];
    }
  }

  /** Moves the clock and runs the timers. */
  async advance(ms: number): Promise<void> {
    this.clock.now += ms;
    this.core.tick();
    await this.settle();
  }

  /** Messages waiting in the store for the account named name. */
  async pending(name: string): Promise<number> {
    const account = await this.store.findAccount(name);
    if (!account) throw new Error(`no account ${name}`);
    return this.store.countPending(account.id);
  }

  eventsOf<T extends ServerEvent["type"]>(type: T): Extract<ServerEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<ServerEvent, { type: T }> => e.type === type);
  }
}

/** Asserts that c received nothing since the frame count `before`. */
export function expectNoFrame(c: Client, before: number): void {
  expect(c.frames.slice(before)).toEqual([]);
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** The decoded message as a plain object (protobufjs keeps defaults on the prototype). */
function plain(r: Reply): Reply {
  return {
    version: r.version,
    opcode: r.opcode,
    msg: r.msg,
    status: r.status,
    requestId: r.requestId,
    messages: r.messages.map((m) => ({ id: m.id, sender: m.sender, text: m.text, sentAt: m.sentAt })),
    accounts: r.accounts.map((a) => ({ name: a.name, online: a.online })),
    unread: r.unread,
    more: r.more,
    messageId: r.messageId,
    sentAt: r.sentAt,
    delivery: r.delivery,
    retryAfterMs: r.retryAfterMs,
    name: r.name,
    token: r.token,
    duplicate: r.duplicate,
    nextCursor: r.nextCursor,
    info: r.info
      ? {
          serverVersion: r.info.serverVersion,
          heartbeatMs: r.info.heartbeatMs,
          maxFrameBytes: r.info.maxFrameBytes,
          maxNameChars: r.info.maxNameChars,
          maxTextChars: r.info.maxTextChars,
          minPasswordChars: r.info.minPasswordChars,
          maxPageSize: r.info.maxPageSize,
          ackTimeoutMs: r.info.ackTimeoutMs,
          loginTimeoutMs: r.info.loginTimeoutMs,
          heartbeatMisses: r.info.heartbeatMisses,
          deliveryWindow: r.info.deliveryWindow,
          maxBacklogBytes: r.info.maxBacklogBytes,
          maxAckIds: r.info.maxAckIds,
          requestRate: r.info.requestRate,
          requestBurst: r.info.requestBurst,
          ackIdsPerToken: r.info.ackIdsPerToken,
          maxSlowDowns: r.info.maxSlowDowns,
          maxPasswordBytes: r.info.maxPasswordBytes,
          maxQueuedPerAccount: r.info.maxQueuedPerAccount,
          sessionTtlMs: r.info.sessionTtlMs,
          maxPatternChars: r.info.maxPatternChars,
          maxUnansweredSends: r.info.maxUnansweredSends,
        }
      : null,
    // Only RECEIPT pushes carry receipts: other frames compare as they always did.
    ...(r.receipts?.length
      ? {
          receipts: r.receipts.map((x) => ({
            messageId: x.messageId,
            recipient: x.recipient,
            confirmedAt: x.confirmedAt,
            clientMsgId: x.clientMsgId,
          })),
        }
      : {}),
  };
}
