// The Redis keys of what the nodes of one service share besides the store (redis-keys.ts):
// presence claims, node leases, login and creation budgets, and the signal channels. Each
// key carries a hash tag, and every script below touches one tag only, so the same code
// runs on one Redis or on Redis Cluster.

import { PREFIX } from "../store/redis-keys";

/** The account's claim ("<node>|<session>"), in the account's own slot beside its queue. */
export const claimKey = (accountId: number): string => `${PREFIX}{u:${accountId}}:holder`;

/** A node's lease: exists while the node renews it; its claims count only while it does. */
export const leaseKey = (node: string): string => `${PREFIX}{n:${node}}:lease`;

/** One budget's bucket for one key (hash: tokens, at, spent). */
export const budgetKey = (budget: string, key: string): string => `${PREFIX}{r:${budget}:${key}}`;

/** Signals to one node. */
export const nodeChannel = (node: string): string => `${PREFIX}signal:node:${node}`;

/** Signals to every node. */
export const BROADCAST_CHANNEL = `${PREFIX}signal:all`;
