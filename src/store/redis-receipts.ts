// Delivery receipts in Redis. A receipt lives in its sender's slot ({u:<sender>}), the
// confirmed message in its recipient's: no one script can touch both on Redis Cluster. So
// ackWithReceipts reads the messages, stores their receipts, and only then removes the
// messages: a crash in between leaves a message queued with its receipt already stored,
// and its next confirmation stores the same receipt again (keyed by message id). Nothing
// is lost; at worst the sender sees a receipt twice.

import type { RedisConnection } from "./redis-conn";
import { dir, receiptKeys, user } from "./redis-keys";
import { ADD_RECEIPTS, DELETE_RECEIPTS, LIST_RECEIPTS } from "./redis-scripts";
import type { AckResult, Receipt, ReceiptRequest } from "./store";

/** Bodies are "<senderId>|<json [senderName, text, sentAt, clientMsgId?]>" (redis-keys.ts). */
function parseBody(raw: string): { senderId: number; clientMsgId: number } | null {
  const bar = raw.indexOf("|");
  if (bar < 0) return null;
  const fields = JSON.parse(raw.slice(bar + 1)) as unknown[];
  return { senderId: Number(raw.slice(0, bar)), clientMsgId: Number(fields[3] ?? 0) };
}

/** Stores the receipts of the messages among ids waiting for recipientId (their removal is the caller's). */
export async function storeReceipts(
  redis: RedisConnection,
  recipientId: number,
  ids: readonly number[],
  r: ReceiptRequest,
): Promise<AckResult> {
  const out: AckResult = { receipts: [], dropped: 0 };
  if (!ids.length) return out;
  const bodies = (await redis.send("HMGET", [user(recipientId).bodies, ...ids])) as (string | null)[];
  const bySender = new Map<number, Receipt[]>();
  ids.forEach((id, i) => {
    const raw = bodies[i];
    const body = raw ? parseBody(raw) : null;
    if (!body?.senderId) return;
    const list = bySender.get(body.senderId) ?? [];
    list.push({
      messageId: id,
      senderId: body.senderId,
      recipientName: r.recipientName,
      confirmedAt: r.confirmedAt,
      clientMsgId: body.clientMsgId,
    });
    bySender.set(body.senderId, list);
  });
  if (!bySender.size) return out;
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
      const reply = (await redis.eval(ADD_RECEIPTS, receiptKeys(sender), args)) as (number | string)[];
      out.dropped += Number(reply[0] ?? 0);
      const kept = new Set(reply.slice(1).map(Number));
      for (const x of list) if (kept.has(x.messageId)) out.receipts.push(x);
    }),
  );
  out.receipts.sort((a, b) => a.messageId - b.messageId);
  return out;
}

export async function listReceipts(
  redis: RedisConnection,
  accountId: number,
  limit: number,
): Promise<Receipt[]> {
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
  redis: RedisConnection,
  accountId: number,
  ids: readonly number[],
): Promise<void> {
  if (ids.length) await redis.eval(DELETE_RECEIPTS, receiptKeys(accountId), ids);
}

/** Drops every receipt of a deleted account. */
export async function dropReceipts(redis: RedisConnection, accountId: number): Promise<void> {
  const [ids, bodies] = receiptKeys(accountId);
  await redis.send("DEL", [ids!, bodies!]);
}
