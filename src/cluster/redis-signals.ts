// The bus between nodes on Redis pub/sub: a channel per node (deliver, force_logout) and
// one for broadcasts (deleting, account_deleted). Publishing goes through the store's
// connection; receiving needs a connection of its own (a subscribed connection takes no
// other commands), Bun's RedisClient, the same client as the store's.
//
// Pub/sub forgets what it could not deliver. A node whose subscription dropped may have
// missed signals: once subscribed again it hands its core a "resync", and every session
// there re-reads its queue and checks its claim, so no message waits unseen. Signals from
// several nodes arrive in no particular order: a deliver from another node never carries the
// message, and its holder reads the queue. A deliver this node sends itself keeps its copy
// (inOrder: the holder pushes it as it is) only when the store says every message before it
// to that recipient was this node's (RedisStore.takeInOrder): those were signalled before
// it, in commit order. After another node's message, the holder reads the queue.

import { RedisClient } from "bun";
import type { Signal, SignalHandler, Signals } from "../core/signals";
import type { RedisTarget } from "../store/redis-url";
import type { RedisCommands } from "./commands";
import { BROADCAST_CHANNEL, nodeChannel } from "./keys";
import { decodeSignals, encodeSignals } from "./signal-codec";

const CONNECT_TIMEOUT_MS = 3000;
/** Between attempts to subscribe again once the client gave up reconnecting by itself. */
const RESUBSCRIBE_MS = 500;
/**
 * A subscribed connection only receives, so a dead network path would go unnoticed: it
 * is pinged this often, and one unanswered for CHECK_TIMEOUT_MS is dropped and made anew.
 */
const CHECK_EVERY_MS = 1000;
const CHECK_TIMEOUT_MS = 3000;
/** Signals for one channel in one PUBLISH at most (a deliver is about 100 bytes without its copy). */
const MAX_BATCH = 256;

export class RedisSignals implements Signals {
  /** Deliver signals that carry their message are in order (the others: read the queue). */
  readonly inOrder = true;
  private handler: SignalHandler | null = null;
  private closed = false;
  /** The subscription is known to be lost (or being made again). */
  private lost = false;
  private retry: Timer | null = null;
  private resubscribing = false;
  private readonly checker: Timer;
  private checking = false;
  private readonly listener = (message: string, channel: string) => this.received(message, channel);
  /**
   * The signals of this turn of the event loop per channel, published together once the
   * turn is over (setImmediate: the answers of one Redis reply resume their SENDs through
   * several promise hops, past any one microtask): one PUBLISH per node a turn's messages go
   * to rather than one per message. In call order, per channel, as the single PUBLISHes were.
   */
  private pending = new Map<string, Signal[]>();
  private flushing = false;

  private constructor(
    private readonly publisher: RedisCommands,
    private readonly subscriber: RedisClient,
    readonly node: string,
    private readonly report: (detail: string) => void,
    private readonly ordered: (messageId: number) => boolean,
  ) {
    let first = true;
    subscriber.onconnect = () => {
      // Bun's client reconnects by itself but does not subscribe again.
      if (!first) this.resubscribe();
      first = false;
    };
    subscriber.onclose = () => {
      if (this.closed) return;
      this.lost = true;
      this.scheduleRetry();
    };
    this.checker = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.checker.unref?.();
  }

  /** Subscribes node's channel and the broadcast channel; throws when Redis cannot be used. */
  static async open(
    target: RedisTarget,
    node: string,
    publisher: RedisCommands,
    report: (detail: string) => void,
    /** Whether this node's deliver of that message id may carry it (RedisStore.takeInOrder). */
    inOrder: (messageId: number) => boolean = () => false,
  ): Promise<RedisSignals> {
    const client = new RedisClient(target.url, {
      connectionTimeout: CONNECT_TIMEOUT_MS,
      autoReconnect: true,
      enableOfflineQueue: false,
      ...(target.tls ? { tls: true } : {}),
    });
    const bus = new RedisSignals(publisher, client, node, report, inOrder);
    try {
      await client.connect();
      await client.subscribe([nodeChannel(node), BROADCAST_CHANNEL], bus.listener);
    } catch (error) {
      bus.close();
      throw error;
    }
    return bus;
  }

  send(node: string, signal: Signal): void {
    if (node === this.node && this.handler) {
      const ordered = signal.type !== "deliver" || !signal.message || this.ordered(signal.message.id);
      this.handler(ordered ? signal : withoutCopy(signal as Extract<Signal, { type: "deliver" }>));
      return;
    }
    this.publish(nodeChannel(node), signal);
  }

  broadcast(signal: Signal): void {
    this.handler?.(signal);
    this.publish(BROADCAST_CHANNEL, signal);
  }

  subscribe(node: string, handler: SignalHandler): () => void {
    if (node !== this.node) throw new Error(`this bus receives for node ${this.node}, not ${node}`);
    if (this.handler) throw new Error(`node ${node} is already subscribed`);
    this.handler = handler;
    return () => {
      if (this.handler === handler) this.handler = null;
    };
  }

  /** Whether the subscription is in place (false while it is being made again). */
  get subscribed(): boolean {
    return !this.lost && this.subscriber.connected;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.checker);
    if (this.retry) clearTimeout(this.retry);
    this.subscriber.onclose = null;
    this.subscriber.close();
  }

  private publish(channel: string, signal: Signal): void {
    // Out of order, holders read their queue: the message's copy would only cross the bus
    // (and show its text to whatever else listens there) for nothing.
    const sent = signal.type === "deliver" && signal.message ? withoutCopy(signal) : signal;
    let list = this.pending.get(channel);
    if (!list) {
      list = [];
      this.pending.set(channel, list);
    }
    list.push(sent);
    if (list.length >= MAX_BATCH) {
      this.pending.delete(channel);
      this.publishNow(channel, list);
    }
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const all = this.pending;
        this.pending = new Map();
        for (const [ch, signals] of all) this.publishNow(ch, signals);
      });
    }
  }

  private publishNow(channel: string, signals: readonly Signal[]): void {
    this.publisher
      .send("PUBLISH", [channel, encodeSignals(this.node, signals)])
      .catch((error) =>
        this.report(
          `sending ${signals.length === 1 ? `a ${signals[0]!.type} signal` : `${signals.length} signals`}: ${describe(error)}`,
        ),
      );
  }

  private received(message: string, channel: string): void {
    const got = decodeSignals(message);
    if ("error" in got) {
      this.report(`ignored ${got.error} on ${channel}`);
      return;
    }
    // Its own broadcasts were handled when sent.
    if (channel === BROADCAST_CHANNEL && got.from === this.node) return;
    for (const signal of got.signals) {
      // "resync" is never sent. Another node's deliver is never in order here (see the top).
      if (signal.type === "deliver" && signal.message) this.handler?.(withoutCopy(signal));
      else if (signal.type !== "resync") this.handler?.(signal);
    }
  }

  /** Pings the subscribed connection; one that does not answer in time is dropped and made anew. */
  private check(): void {
    if (this.closed || this.checking || this.lost || !this.subscriber.connected) return;
    this.checking = true;
    let timer: Timer | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), CHECK_TIMEOUT_MS);
    });
    Promise.race([this.subscriber.ping(), late])
      .then(
        (answer) => {
          if (answer !== "late" || this.closed) return;
          this.report(
            `the subscription did not answer a ping within ${CHECK_TIMEOUT_MS / 1000} s; subscribing anew`,
          );
          this.lost = true;
          this.subscriber.close();
          this.scheduleRetry();
        },
        () => {}, // a failed ping: the client's own reconnection (onconnect) takes over
      )
      .finally(() => {
        clearTimeout(timer);
        this.checking = false;
      });
  }

  /** After a reconnection: subscribe anew, then let the core catch up on what it missed. */
  private resubscribe(): void {
    if (this.closed || this.resubscribing) return;
    this.lost = true;
    this.resubscribing = true;
    const again = async () => {
      // Drops the client's old listeners (they would run twice) before subscribing again.
      await this.subscriber.unsubscribe();
      await this.subscriber.subscribe([nodeChannel(this.node), BROADCAST_CHANNEL], this.listener);
    };
    again().then(
      () => {
        this.resubscribing = false;
        this.lost = false;
        this.handler?.({ type: "resync" });
      },
      (error) => {
        this.resubscribing = false;
        this.report(`subscribing to signals again: ${describe(error)}`);
        this.scheduleRetry();
      },
    );
  }

  /** The client gave up (or subscribing failed): try again a moment later, until it works. */
  private scheduleRetry(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.closed) return;
      if (this.subscriber.connected) {
        this.resubscribe();
        return;
      }
      this.subscriber.connect().then(
        () => {
          // onconnect resubscribes; should it not fire (a first connection), do it here.
          if (this.lost) this.resubscribe();
        },
        () => this.scheduleRetry(),
      );
    }, RESUBSCRIBE_MS);
    this.retry.unref?.();
  }
}

function withoutCopy(signal: Extract<Signal, { type: "deliver" }>): Signal {
  const { message: _, ...rest } = signal;
  return rest;
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));
