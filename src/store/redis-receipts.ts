// Delivery receipts in Redis. A receipt lives in its sender's slot ({u:<sender>}), the
// confirmed message in its recipient's: no one script can touch both on Redis Cluster. So
// the script that removes the confirmed messages writes their receipts into an outbox in
// the recipient's slot in the same atomic step, and the node then moves them to their
// senders' slots and empties the outbox. Should the node die in between, the receipts wait
// in the outbox and move with the recipient's next confirmation: late, never lost.
// Moving one twice (a crash after storing it, before emptying the outbox) stores the same
// receipt again, keyed by message id.

import type { RedisLink } from "./redis-conn";
import { dir, PREFIX, receiptKeys, receiptOutbox, userKeys } from "./redis-keys";
import {
  ACK_WITH_RECEIPTS,
  ACK_WITH_RECEIPTS_LOCAL,
  ADD_RECEIPTS,
  DELETE_RECEIPTS,
  LIST_RECEIPTS,
} from "./redis-scripts";
import type { AckResult, Receipt, ReceiptRequest } from "./store";

/** An outbox entry: "<sender>|<client_msg_id>|<confirmed at>|<recipient name>". */
function parseEntry(id: string, v: string): Receipt | null {
  const m = /^(\d+)\|(\d+)\|(\d+)\|(.*)$/s.exec(v);
  if (!m) return null;
  return {
    messageId: Number(id),
    senderId: Number(m[1]),
    clientMsgId: Number(m[2]),
    confirmedAt: Number(m[3]),
    recipientName: m[4]!,
  };
}

/**
 * Removes the messages among ids waiting for recipientId and stores their senders'
 * receipts. The removal is the first command sent, so it keeps its place among the
 * store's calls (a read made after this call does not see the messages).
 */
export async function ackWithReceipts(
  redis: RedisLink,
  recipientId: number,
  ids: readonly number[],
  r: ReceiptRequest,
): Promise<{ removed: number; result: AckResult }> {
  const result: AckResult = { receipts: [], dropped: 0 };
  if (!ids.length) return { removed: 0, result };
  const reply = (await redis.eval(
    ACK_WITH_RECEIPTS,
    [...userKeys(recipientId), receiptOutbox(recipientId)],
    [r.confirmedAt, r.recipientName, ...ids],
  )) as (number | string)[];
  const removed = Number(reply[0] ?? 0);
  const entries: Receipt[] = [];
  for (let i = 1; i + 1 < reply.length; i += 2) {
    const e = parseEntry(String(reply[i]), String(reply[i + 1]));
    if (e) entries.push(e);
  }
  if (!entries.length) return { removed, result };
  const bySender = new Map<number, Receipt[]>();
  for (const e of entries) {
    const list = bySender.get(e.senderId);
    if (list) list.push(e);
    else bySender.set(e.senderId, [e]);
  }
  // Senders whose account is gone get none (the tombstone covers a deletion under way).
  const senders = [...bySender.keys()];
  const exists = (await redis.send("HMGET", [dir.byId, ...senders])) as (string | null)[];
  await Promise.all(
    senders.map(async (sender, i) => {
      if (!exists[i]) return;
      const list = bySender.get(sender)!;
      const args: (string | number)[] = [Math.max(0, r.maxPerAccount)];
      for (const x of list)
        args.push(x.messageId, JSON.stringify([x.recipientName, x.confirmedAt, x.clientMsgId]));
      const added = (await redis.eval(ADD_RECEIPTS, receiptKeys(sender), args)) as (number | string)[];
      result.dropped += Number(added[0] ?? 0);
      const kept = new Set(added.slice(1).map(Number));
      for (const x of list) if (kept.has(x.messageId)) result.receipts.push(x);
    }),
  );
  await redis.send("HDEL", [receiptOutbox(recipientId), ...entries.map((e) => e.messageId)]);
  result.receipts.sort((a, b) => a.messageId - b.messageId);
  return { removed, result };
}

/**
 * As ackWithReceipts, on one Redis (not a cluster): one script removes the messages and
 * stores their receipts with their senders, with no outbox between (one round trip).
 */
export async function ackWithReceiptsLocal(
  redis: RedisLink,
  recipientId: number,
  ids: readonly number[],
  r: ReceiptRequest,
): Promise<{ removed: number; result: AckResult }> {
  const result: AckResult = { receipts: [], dropped: 0 };
  if (!ids.length) return { removed: 0, result };
  const args: (string | number)[] = [r.confirmedAt, r.recipientName, Math.max(0, r.maxPerAccount), PREFIX];
  for (const id of ids) args.push(id);
  const reply = (await redis.eval(
    ACK_WITH_RECEIPTS_LOCAL,
    [...userKeys(recipientId), receiptOutbox(recipientId), dir.byId],
    args,
  )) as (number | string)[];
  result.dropped = Number(reply[1] ?? 0);
  const fresh = Number(reply[2] ?? 0);
  const end = 3 + fresh * 3;
  for (let i = 3; i + 2 < end; i += 3)
    result.receipts.push({
      messageId: Number(reply[i]),
      senderId: Number(reply[i + 1]),
      clientMsgId: Number(reply[i + 2]),
      confirmedAt: r.confirmedAt,
      recipientName: r.recipientName,
    });
  for (let i = end; i + 4 < reply.length; i += 5)
    result.receipts.push({
      messageId: Number(reply[i]),
      senderId: Number(reply[i + 1]),
      clientMsgId: Number(reply[i + 2]),
      confirmedAt: Number(reply[i + 3]),
      recipientName: String(reply[i + 4]),
    });
  result.receipts.sort((a, b) => a.messageId - b.messageId);
  return { removed: Number(reply[0] ?? 0), result };
}

export async function listReceipts(redis: RedisLink, accountId: number, limit: number): Promise<Receipt[]> {
  const n = Math.max(0, Math.floor(limit));
  if (!n) return [];
  const flat = (await redis.eval(LIST_RECEIPTS, receiptKeys(accountId), [n])) as string[];
  const out: Receipt[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (!flat[i + 1]) continue;
    const [recipientName, confirmedAt, clientMsgId] = JSON.parse(flat[i + 1]!) as [string, number, number];
    out.push({ messageId: Number(flat[i]), senderId: accountId, recipientName, confirmedAt, clientMsgId });
  }
  return out;
}

export async function deleteReceipts(
  redis: RedisLink,
  accountId: number,
  ids: readonly number[],
): Promise<void> {
  if (ids.length) await redis.eval(DELETE_RECEIPTS, receiptKeys(accountId), ids);
}

/** Drops every receipt of a deleted account, and its outbox. */
export async function dropReceipts(redis: RedisLink, accountId: number): Promise<void> {
  const [ids, bodies] = receiptKeys(accountId);
  await redis.send("DEL", [ids!, bodies!, receiptOutbox(accountId)]);
}
