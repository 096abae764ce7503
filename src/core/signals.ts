// Messages between the nodes of one service: "look at this account's queue", "force this
// session out", "this account is being deleted / was deleted". A node subscribes once and
// acts on what reaches it; one server uses LocalSignals, which hands each signal to the
// subscriber at once, several nodes share a bus (Redis pub/sub) behind the same interface.

import type { Receipt, StoredMessage } from "../store/store";

export type Signal =
  /**
   * A message for accountId was stored: its holder looks at the queue from fromId on.
   * message is that message, which the holder may push as it is when signals arrive in
   * id order (Signals.inOrder); otherwise it reads the queue, so no id overtakes another.
   */
  | { type: "deliver"; accountId: number; fromId: number; message?: StoredMessage }
  /** The account logged in elsewhere: its session `session` on the receiving node ends. */
  | {
      type: "force_logout";
      accountId: number;
      session: number;
      /** Where the new session comes from (for the pushed reason and the log). */
      byAddress: string;
      resumed: boolean;
      /** The new session's token hash: the old session's token is revoked unless it is this one. */
      tokenHash: string;
    }
  /** Sends to key are refused (on: true) while its account's deletion runs, or again taken (on: false). */
  | { type: "deleting"; key: string; on: boolean }
  /** The account is gone: nodes forget it (sends to it are refused by the store from now on). */
  | { type: "account_deleted"; accountId: number; key: string }
  /**
   * From the bus to its own node, never sent: signals may have been lost (the subscription
   * dropped and is back), so the node re-reads its sessions' queues and checks their claims.
   */
  | { type: "resync" }
  /** Messages accountId sent were confirmed: its holder pushes these receipts (all of accountId's, stored). */
  | { type: "receipt"; accountId: number; receipts: Receipt[] };

export type SignalHandler = (signal: Signal) => void;

export interface Signals {
  /**
   * True when a deliver signal that carries its message may be pushed as it is: the bus
   * lets a message travel with its signal only when every message before it to that
   * account was signalled before it (one node, whose core signals in the order the store
   * committed; on Redis, a message whose predecessors the same node stored). False where
   * signals carry messages out of order (several cores on one local bus): holders read
   * their queue instead.
   */
  readonly inOrder: boolean;
  /** Sends signal to one node (itself included); failures are the implementation's to log. */
  send(node: string, signal: Signal): void;
  /** Sends signal to every node, this one included. */
  broadcast(signal: Signal): void;
  /** Receives what is sent to node (and every broadcast, and "resync"); returns the unsubscribe. */
  subscribe(node: string, handler: SignalHandler): () => void;
}

/**
 * Signals within this process: each one is handled before send() returns. Several cores
 * in one process may share one bus (the tests' stand-in for a shared backend).
 */
export class LocalSignals implements Signals {
  private readonly nodes = new Map<string, SignalHandler>();

  get inOrder(): boolean {
    return this.nodes.size <= 1;
  }

  send(node: string, signal: Signal): void {
    this.nodes.get(node)?.(signal);
  }

  broadcast(signal: Signal): void {
    for (const handler of [...this.nodes.values()]) handler(signal);
  }

  subscribe(node: string, handler: SignalHandler): () => void {
    if (this.nodes.has(node)) throw new Error(`node ${node} is already subscribed`);
    this.nodes.set(node, handler);
    return () => {
      if (this.nodes.get(node) === handler) this.nodes.delete(node);
    };
  }
}
