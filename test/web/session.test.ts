// The page's session against a scripted server: resume with the stored token, resend after
// a reconnection with the same client_msg_id, ACK after showing, and no automatic login
// after a forced logout.

import { describe, expect, test } from "bun:test";
import { TOKEN_KEY, WebSession } from "../../src/web/app/session";
import type { Action } from "../../src/web/app/state";
import { decodeRequest, encodeReply, Op, Push, type ReplyInit, type Request, Status } from "../../src/wire";

class FakeSocket {
  binaryType = "blob";
  onmessage: ((e: { data: ArrayBuffer }) => void) | null = null;
  onclose: (() => void) | null = null;
  readonly sent: Request[] = [];
  closed = false;
  private waiters: (() => void)[] = [];

  send(bytes: Uint8Array): void {
    this.sent.push(decodeRequest(bytes, 1000));
    for (const w of this.waiters.splice(0)) w();
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    queueMicrotask(() => this.onclose?.());
  }
  /** The server sends a frame. */
  push(frame: ReplyInit): void {
    const bytes = encodeReply(frame);
    this.onmessage?.({
      data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
    });
  }
  hello(): void {
    this.push({ opcode: Push.HELLO, info: { heartbeatMs: 15000 } as never });
  }
  async request(opcode: number, timeoutMs = 2000): Promise<Request> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.sent.find((x) => x.opcode === opcode);
      if (r) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no request with opcode ${opcode}: ${JSON.stringify(this.sent)}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }
}

function harness(token: string | null = null) {
  const store = new Map<string, string>(token ? [[TOKEN_KEY, token]] : []);
  const actions: Action[] = [];
  const sockets: FakeSocket[] = [];
  let socketWaiter: (() => void) | null = null;
  const session = new WebSession({
    url: "ws://test/ws",
    dispatch: (a) => actions.push(a),
    storage: {
      getItem: (k) => store.get(k) ?? null,
      setItem: (k, v) => void store.set(k, v),
      removeItem: (k) => void store.delete(k),
    },
    reading: () => true,
    makeSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      socketWaiter?.();
      return s as unknown as WebSocket;
    },
  });
  const nthSocket = async (n: number, timeoutMs = 3000) => {
    const deadline = Date.now() + timeoutMs;
    while (sockets.length <= n) {
      if (Date.now() > deadline) throw new Error(`no socket #${n + 1}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, deadline - Date.now());
        socketWaiter = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return sockets[n]!;
  };
  return { session, store, actions, sockets, nthSocket };
}

const answer = (s: FakeSocket, req: Request, fields: Omit<ReplyInit, "opcode" | "requestId">) =>
  s.push({ opcode: req.opcode, requestId: req.requestId, ...fields });

describe("WebSession", () => {
  test("resumes with the stored token, fetches what waits, and ACKs what it showed", async () => {
    const h = harness("tok-1");
    void h.session.start();
    const s = await h.nthSocket(0);
    s.hello();
    const resume = await s.request(Op.RESUME);
    expect(resume.token).toBe("tok-1");
    answer(s, resume, { status: Status.OK, name: "alice", unread: 1 });
    const check = await s.request(Op.CHECK_MESSAGES);
    answer(s, check, {
      status: Status.OK,
      messages: [{ id: 7, sender: "bob", text: "hi", sentAt: 1 }],
      more: false,
    });
    const ack = await s.request(Op.ACK);
    expect(ack.ackIds).toEqual([7]);
    expect(h.actions).toContainEqual({ type: "logged_in", name: "alice", unread: 1, resumed: true });
    const got = h.actions.find((a) => a.type === "received");
    expect(got).toMatchObject({ messages: [{ id: 7, text: "hi" }] });
    // A push is shown, then confirmed.
    s.push({ opcode: Push.DELIVER, messages: [{ id: 8, sender: "bob", text: "again", sentAt: 2 }] });
    await s.request(Op.ACK);
    expect(s.sent.filter((r) => r.opcode === Op.ACK).map((r) => r.ackIds)).toEqual([[7], [8]]);
  });

  test("a SEND not answered before the connection dropped is resent once resumed, with the same client_msg_id", async () => {
    const h = harness("tok-2");
    void h.session.start();
    const s1 = await h.nthSocket(0);
    s1.hello();
    answer(s1, await s1.request(Op.RESUME), { status: Status.OK, name: "alice", unread: 0 });
    await s1.request(Op.CHECK_MESSAGES);
    const key = h.session.send("bob", "are you there?");
    const first = await s1.request(Op.SEND_MESSAGE);
    s1.close(); // lost before the answer
    const s2 = await h.nthSocket(1);
    expect(h.actions).toContainEqual({ type: "reconnecting", reason: "reconnecting…" });
    s2.hello();
    answer(s2, await s2.request(Op.RESUME), { status: Status.OK, name: "alice", unread: 0 });
    const again = await s2.request(Op.SEND_MESSAGE);
    expect(again.clientMsgId).toBe(first.clientMsgId);
    expect(again).toMatchObject({ receiver: "bob", msg: "are you there?" });
    answer(s2, again, { status: Status.OK, delivery: 2, duplicate: true, messageId: 3 });
    const deadline = Date.now() + 2000;
    while (!h.actions.some((a) => a.type === "send_answered") && Date.now() < deadline) await Bun.sleep(5);
    expect(h.actions.find((a) => a.type === "send_answered")).toEqual({
      type: "send_answered",
      key,
      ok: true,
      queued: true,
      // The server's id: receipts that carry none are matched by it.
      messageId: 3,
    });
  });

  test("after a forced logout it does not log back in: the token is dropped and no reconnection follows", async () => {
    const h = harness("tok-3");
    void h.session.start();
    const s = await h.nthSocket(0);
    s.hello();
    answer(s, await s.request(Op.RESUME), { status: Status.OK, name: "alice", unread: 0 });
    await s.request(Op.CHECK_MESSAGES); // resumed
    s.push({
      opcode: Push.LOGGED_OUT,
      status: Status.LOGGED_IN_ELSEWHERE,
      msg: "logged out: alice logged in elsewhere (10.0.0.2)",
    });
    expect(h.store.has(TOKEN_KEY)).toBe(false);
    const out = h.actions.find((a) => a.type === "logged_out") as { reason: string };
    expect(out.reason).toContain("logged in somewhere else (alice logged in elsewhere (10.0.0.2))");
    s.close();
    await expect(h.nthSocket(1, 800)).rejects.toThrow("no socket #2");
    expect(h.actions.at(-1)).toMatchObject({ type: "offline" });
  });

  test("log in keeps the token for reloads; log out drops it and sends QUIT", async () => {
    const h = harness();
    void h.session.start();
    const s = await h.nthSocket(0);
    s.hello();
    const login = h.session.logIn("alice", "correct horse");
    const req = await s.request(Op.LOG_IN);
    expect(req).toMatchObject({ sender: "alice", password: "correct horse" });
    answer(s, req, { status: Status.OK, name: "alice", unread: 0, token: "fresh" });
    await login;
    expect(h.store.get(TOKEN_KEY)).toBe("fresh");
    const bye = h.session.logOut();
    answer(s, await s.request(Op.QUIT), { status: Status.OK });
    await bye;
    expect(h.store.has(TOKEN_KEY)).toBe(false);
    expect(h.actions.at(-1)).toEqual({ type: "logged_out", reason: null });
  });

  test("a RECEIPT push is shown (dispatched), then its ids confirmed with ACK receipt_ids", async () => {
    const h = harness("tok-r");
    void h.session.start();
    const s = await h.nthSocket(0);
    s.hello();
    answer(s, await s.request(Op.RESUME), { status: Status.OK, name: "alice", unread: 0 });
    const receipts = [
      { messageId: 41, recipient: "bob", confirmedAt: 5, clientMsgId: 9 },
      { messageId: 42, recipient: "bob", confirmedAt: 6, clientMsgId: 0 },
    ];
    s.push({ opcode: Push.RECEIPT, receipts });
    const ack = await s.request(Op.ACK);
    expect(ack.receiptIds).toEqual([41, 42]);
    expect(ack.ackIds).toEqual([]);
    const i = h.actions.findIndex((a) => a.type === "receipts");
    expect(h.actions[i]).toEqual({ type: "receipts", receipts });
  });
});
