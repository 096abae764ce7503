// SEND_MESSAGE (3): store, answer the sender once stored, push to an online recipient.
// Pipelined: the session's next requests run while the store commits. What follows a
// commit runs in the order the store calls were made (core.commits), whatever order the
// store settles them in, so pushes follow the ids; answers go out in request order
// (Pipeline.answerSend). The recipient is reached through a deliver signal to the node
// that holds it, this one included.

import { MAX_NAME_CHARS, nameKey } from "../../rules/names";
import { checkText } from "../../rules/text";
import type { EnqueueResult } from "../../store/store";
import { Delivery, Op, type ReplyInit, type Request, Status, UNSAFE_ID } from "../../wire";
import type { Core } from "../context";
import { SEND_ADDRESS_TOKENS } from "../ratelimit";
import type { Session } from "../session";
import { describeError, printable } from "../text";
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
    const ticket = core.commits.ticket();
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
        (result) => core.commits.done(ticket, () => stored(core, s, req, at, seq, result)),
        (error) =>
          core.commits.done(ticket, () =>
            core.answerSend(s, seq, core.failureFrame(req, error, "message not accepted"), at),
          ),
      );
  },
};

function stored(core: Core, s: Session, req: Request, at: number, seq: number, r: EnqueueResult): void {
  if (!r.ok) {
    if (r.error === "storage_full") budgetSpent(core, s);
    core.answerSend(s, seq, refusal(core, req, r.error), at);
    return;
  }
  if (!r.duplicate) core.metrics.messagesAccepted++;
  const node = core.holderNode(r.recipient.id);
  if (node instanceof Promise) {
    node.then(
      (h) => handOn(core, s, req, at, seq, r, h),
      (error) => {
        // Stored all the same: it waits in the queue for the next CHECK or login.
        core.events({
          type: "storage_error",
          detail: `looking up who holds an account: ${describeError(error)}`,
        });
        handOn(core, s, req, at, seq, r, null);
      },
    );
    return;
  }
  handOn(core, s, req, at, seq, r, node);
}

/** Signals the recipient's node (if it is online anywhere) and answers the sender. */
function handOn(
  core: Core,
  s: Session,
  req: Request,
  at: number,
  seq: number,
  r: Extract<EnqueueResult, { ok: true }>,
  node: string | null,
): void {
  const { message, recipient, duplicate } = r;
  if (!duplicate) {
    // The recipient first: connections are written in the order they got output, and the
    // message reaching its reader is what chat is measured by. Both go out in this turn.
    if (node)
      core.signals.send(node, {
        type: "deliver",
        accountId: recipient.id,
        fromId: message.id,
        message,
      });
    else core.metrics.messagesQueued++;
  }
  core.answerSend(
    s,
    seq,
    {
      opcode: Op.SEND_MESSAGE,
      requestId: req.requestId,
      messageId: message.id,
      sentAt: message.sentAt,
      delivery: node ? Delivery.LIVE : Delivery.QUEUED,
      duplicate,
      msg: duplicate
        ? `already stored as message ${message.id} (resent)`
        : sentence(s, recipient.name, node !== null),
    },
    at,
  );
}

/** "sent to bob" or "bob is offline; queued": made once per recipient in a row, not per message. */
function sentence(s: Session, name: string, live: boolean): string {
  if (s.answeredTo !== name) {
    s.answeredTo = name;
    s.sentTo = `sent to ${name}`;
    s.queuedFor = `${name} is offline; queued`;
  }
  return live ? s.sentTo : s.queuedFor;
}

/** The answer to a message the store would not take. */
function refusal(core: Core, req: Request, error: Extract<EnqueueResult, { ok: false }>["error"]): ReplyInit {
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
const budgetReportedAt = new WeakMap<Core, number>();

function budgetSpent(core: Core, s: Session): void {
  const now = core.now();
  if (now - (budgetReportedAt.get(core) ?? -Infinity) < 60_000) return;
  budgetReportedAt.set(core, now);
  core.limit(
    s,
    "data_budget",
    "the data budget is spent: new messages and accounts are refused until space is freed",
  );
}
