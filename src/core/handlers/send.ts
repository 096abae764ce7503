// SEND_MESSAGE (3): store, answer the sender once stored, push to an online recipient.
// Pipelined: the session's next requests run while the store commits; answers still go
// out in request order (ChatCore.answerSend).

import { MAX_NAME_CHARS, nameKey } from "../../rules/names";
import { checkText } from "../../rules/text";
import type { EnqueueResult } from "../../store/store";
import { Delivery, Op, type ReplyInit, type Request, Status, UNSAFE_ID } from "../../wire";
import { type ChatCore, printable } from "../chat";
import { SEND_ADDRESS_TOKENS } from "../ratelimit";
import type { Session } from "../session";
import type { Handler } from "./handler";

export const send: Handler = {
  needsLogin: true,
  run(core, s, req, at) {
    const account = s.account!;
    const to = req.receiver;
    if (!to) {
      core.fail(s, req, at, Status.INVALID_ARGUMENT, "say who the message is for (receiver)");
      return;
    }
    if (req.clientMsgId === UNSAFE_ID) {
      // Rounded to a double it could equal another id, and be taken for a resend of it.
      core.fail(s, req, at, Status.INVALID_ARGUMENT, "client_msg_id must be below 2^53");
      return;
    }
    // Senders mostly write to one person at a time: keep the last folded name.
    if (to !== s.lastTo) {
      if (to.length > MAX_NAME_CHARS * 4) {
        core.fail(s, req, at, Status.NO_SUCH_ACCOUNT, `no account named ${printable(to)}`);
        return;
      }
      s.lastTo = to;
      s.lastToKey = nameKey(to);
    }
    const key = s.lastToKey;
    const text = checkText(req.msg);
    if (!text.ok) {
      core.fail(s, req, at, Status.INVALID_TEXT, `message not sent: ${text.reason}`);
      return;
    }
    if (core.deleting.has(key)) {
      core.fail(s, req, at, Status.NO_SUCH_ACCOUNT, `no account named ${printable(to)}`);
      return;
    }
    // Past this many, the store could have forgotten the id of the oldest by the time it
    // is resent: refuse rather than risk storing it twice.
    if (req.clientMsgId && s.sendSeq - s.answeredSeq >= core.options.maxUnansweredSends) {
      core.fail(
        s,
        req,
        at,
        Status.TOO_MANY_UNANSWERED,
        `message not sent: ${core.options.maxUnansweredSends} messages are already waiting for an answer`,
      );
      return;
    }
    s.conn.charge?.(SEND_ADDRESS_TOKENS);
    const seq = ++s.sendSeq;
    core.store
      .enqueue({
        senderId: account.id,
        senderName: account.name,
        recipientKey: key,
        text: req.msg,
        sentAt: core.now(),
        clientMsgId: req.clientMsgId,
      })
      .then(
        (result) => stored(core, s, req, at, seq, result),
        (error) => core.answerSend(s, seq, core.failureFrame(req, error, "message not accepted"), at),
      );
  },
};

function stored(core: ChatCore, s: Session, req: Request, at: number, seq: number, r: EnqueueResult): void {
  if (!r.ok) {
    if (r.error === "storage_full") budgetSpent(core, s);
    core.answerSend(s, seq, refusal(core, req, r.error), at);
    return;
  }
  const { message, recipient, duplicate } = r;
  const online = core.onlineSession(recipient.id);
  if (!duplicate) {
    core.metrics.messagesAccepted++;
    if (!online) core.metrics.messagesQueued++;
  }
  // The recipient first: connections are written in the order they got output, and the
  // message reaching its reader is what chat is measured by. Both go out in this turn.
  if (online && !duplicate) core.delivery.live(online, message);
  core.answerSend(
    s,
    seq,
    {
      opcode: Op.SEND_MESSAGE,
      requestId: req.requestId,
      messageId: message.id,
      sentAt: message.sentAt,
      delivery: online ? Delivery.LIVE : Delivery.QUEUED,
      duplicate,
      msg: duplicate
        ? `already stored as message ${message.id} (resent)`
        : online
          ? `sent to ${recipient.name}`
          : `${recipient.name} is offline; queued`,
    },
    at,
  );
}

/** The answer to a message the store would not take. */
function refusal(
  core: ChatCore,
  req: Request,
  error: Extract<EnqueueResult, { ok: false }>["error"],
): ReplyInit {
  const base = { opcode: Op.SEND_MESSAGE, requestId: req.requestId };
  const to = printable(req.receiver);
  switch (error) {
    case "no_such_account":
      return { ...base, status: Status.NO_SUCH_ACCOUNT, msg: `no account named ${to}` };
    case "mailbox_full":
      return {
        ...base,
        status: Status.MAILBOX_FULL,
        msg: `${to}'s mailbox is full (${core.options.maxQueuedPerAccount} messages waiting); message not stored`,
      };
    case "sender_quota":
      return {
        ...base,
        status: Status.SENDER_QUOTA,
        msg: `you already have ${core.options.maxQueuedPerSender} messages waiting for ${to}; message not stored (send more once ${to} has read some)`,
      };
    case "storage_full":
      return {
        ...base,
        status: Status.STORAGE_FULL,
        msg: "the server's storage is full; message not stored (try again later, once people have read theirs)",
      };
  }
}

/** When each server last logged its data budget spent: once a minute is enough. */
const budgetReportedAt = new WeakMap<ChatCore, number>();

function budgetSpent(core: ChatCore, s: Session): void {
  const now = core.now();
  if (now - (budgetReportedAt.get(core) ?? -Infinity) < 60_000) return;
  budgetReportedAt.set(core, now);
  core.limit(
    s,
    "data_budget",
    "the data budget is spent: new messages and accounts are refused until space is freed",
  );
}
