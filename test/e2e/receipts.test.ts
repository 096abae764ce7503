// Delivery receipts against the real binary over TCP on loopback: the live RECEIPT push,
// receipts kept in the SQLite file across a restart and pushed on the next login (bounded
// by --max-receipts), removed once confirmed; the script client's receipt event; and the
// terminal's ✓ line, which /receipts off hides.

import { describe, expect, test } from "bun:test";
import { encodeFrame, encodeRequest, Op, Push, type RequestInit, Status } from "../../src/wire";
import { type ChatServer, loggedIn, RawClient, startServer, tempDir } from "./harness";
import { onPty } from "./pty";

const receiptsOf = (c: RawClient) =>
  c.frames.filter((f) => f.opcode === Push.RECEIPT).flatMap((f) => f.receipts ?? []);

/** A request that gets no answer (an ACK), written as it is. */
const frame = (init: RequestInit) => encodeFrame(encodeRequest(init));

/** Waits until the server's metrics count n receipts confirmed by their senders' clients. */
async function receiptsConfirmed(server: ChatServer, n: number): Promise<void> {
  const line = await server.out.find((l) => /metrics: http/.test(l), "the metrics line");
  const url = /metrics: (http:\/\/\S+\/metrics)/.exec(line)![1]!;
  const count = async () =>
    Number(/^chat_receipts_confirmed_total (\d+)$/m.exec(await (await fetch(url)).text())?.[1] ?? -1);
  for (const deadline = Date.now() + 10_000; (await count()) < n; ) {
    if (Date.now() > deadline) throw new Error(`receipts confirmed: ${await count()}, not ${n}`);
    await Bun.sleep(20);
  }
}

async function waitReceipts(c: RawClient, n: number, what: string) {
  await c.next(() => receiptsOf(c).length >= n, what);
  return receiptsOf(c);
}

describe("delivery receipts over TCP", () => {
  test("the recipient's ACK reaches the online sender as a RECEIPT push at once", async () => {
    const server = await startServer(["--max-receipts", "7"]);
    const bob = await RawClient.open(server.port);
    const hello = bob.frames.find((f) => f.opcode === Push.HELLO)!;
    expect(hello.info!.maxReceipts).toBe(7);
    await bob.login("bob");
    const alice = await RawClient.open(server.port);
    await alice.login("alice");
    const sent = await alice.request({
      opcode: Op.SEND_MESSAGE,
      receiver: "bob",
      msg: "are you there?",
      clientMsgId: 2 ** 40 + 1,
    });
    expect(sent).toMatchObject({ status: Status.OK });
    await bob.next((f) => f.opcode === Push.DELIVER, "the message");
    expect(receiptsOf(alice)).toEqual([]);
    const before = Date.now();
    bob.write(frame({ opcode: Op.ACK, ackIds: [sent.messageId] }));
    const [r] = await waitReceipts(alice, 1, "the receipt");
    expect(r).toMatchObject({ messageId: sent.messageId, recipient: "bob", clientMsgId: 2 ** 40 + 1 });
    expect(r!.confirmedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(r!.confirmedAt).toBeLessThanOrEqual(Date.now() + 1000);
    alice.close();
    bob.close();
    await server.stop();
  });

  test("kept in the data file while the sender is away, across a restart; bounded; gone once confirmed", async () => {
    const args = ["--max-receipts", "2"];
    let server = await startServer(args);
    const data = server.dataFile;
    const alice = await RawClient.open(server.port);
    await alice.login("alice");
    const setup = await RawClient.open(server.port);
    await setup.login("bob");
    setup.close();
    const ids: number[] = [];
    for (const t of ["one", "two", "three"]) {
      const r = await alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: t });
      expect(r.status).toBe(Status.OK);
      ids.push(r.messageId);
    }
    alice.close();
    const bob = await RawClient.open(server.port);
    await bob.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" });
    const check = await bob.request({ opcode: Op.CHECK_MESSAGES });
    expect(check.messages.map((m) => m.id)).toEqual(ids);
    bob.write(frame({ opcode: Op.ACK, ackIds: ids }));
    // PING after the ACK: its answer means the ACK was read (and its receipts stored).
    await bob.request({ opcode: Op.PING });
    bob.close();
    expect(await server.stop()).toBe(0);

    server = await startServer(args, data);
    const back = await RawClient.open(server.port);
    expect(
      await back.request({ opcode: Op.LOG_IN, sender: "alice", password: "correct horse" }),
    ).toMatchObject({
      status: Status.OK,
    });
    // The newest two (the first was dropped: --max-receipts 2), to "bob", after the answer.
    const got = await waitReceipts(back, 2, "the waiting receipts");
    expect(got.map((r) => [r.messageId, r.recipient])).toEqual(ids.slice(1).map((id) => [id, "bob"]));
    back.write(frame({ opcode: Op.ACK, receiptIds: ids.slice(1) }));
    await back.request({ opcode: Op.PING });
    back.close();

    const last = await RawClient.open(server.port);
    await last.request({ opcode: Op.LOG_IN, sender: "alice", password: "correct horse" });
    await last.request({ opcode: Op.PING });
    await last.request({ opcode: Op.PING });
    expect(receiptsOf(last)).toEqual([]);
    last.close();
    await server.stop();
  });

  test("receipt ids before login are refused (NOT_LOGGED_IN)", async () => {
    const server = await startServer();
    const c = await RawClient.open(server.port);
    expect(await c.request({ opcode: Op.ACK, receiptIds: [1, 2] })).toMatchObject({
      status: Status.NOT_LOGGED_IN,
    });
    c.close();
    await server.stop();
  });
});

describe("the client shows receipts", () => {
  test("script mode --json: a receipt event with the text sent; /receipts off hides the next, still confirmed", async () => {
    const server = await startServer(["--metrics-port", "0"]);
    const bob = await loggedIn(server.port, "bob");
    const alice = await loggedIn(server.port, "alice");
    alice.say("/send bob hello <b>there</b>");
    const e = await alice.waitFor((x) => x.type === "receipt", "the receipt event");
    expect(e).toMatchObject({ type: "receipt", to: "bob", text: "hello <b>there</b>" });
    expect(typeof e.messageId).toBe("number");
    expect(Number.isNaN(Date.parse(String(e.confirmedAt)))).toBe(false);

    alice.say("/receipts off");
    expect(await alice.waitFor((x) => x.command === "receipts", "the /receipts answer")).toMatchObject({
      receipts: false,
    });
    alice.say("/send bob second");
    const second = await alice.reply("send");
    await bob.waitFor((x) => x.type === "message" && x.text === "second", "the second message");
    // The server hears alice's client confirm the second receipt, which it never printed.
    await receiptsConfirmed(server, 2);
    expect(alice.events.filter((x) => x.type === "receipt")).toHaveLength(1);
    expect(second).toMatchObject({ ok: true });
    alice.say("/quit");
    await alice.exited;

    // Hidden, but confirmed: a new login gets nothing again.
    const again = await RawClient.open(server.port);
    await again.request({ opcode: Op.LOG_IN, sender: "alice", password: "correct horse" });
    await again.request({ opcode: Op.PING });
    await again.request({ opcode: Op.PING });
    expect(receiptsOf(again)).toEqual([]);
    again.close();
    bob.end();
    await server.stop();
  });

  test("terminal: the ✓ line after the answer; /receipts off hides it, /receipts on shows it again", async () => {
    const server = await startServer(["--metrics-port", "0"]);
    const bob = await loggedIn(server.port, "bob");
    (await loggedIn(server.port, "alice", "alice's secret pw")).end();
    const t = onPty(["connect", "127.0.0.1", String(server.port)], {
      cols: 100,
      rows: 40,
      env: { XDG_STATE_HOME: tempDir(), NO_COLOR: "1" },
    });
    await t.see("or type /help for commands.");
    t.type("/login alice\r");
    await t.see(/\nPassword:$/);
    t.type("alice's secret pw\r");
    await t.see(/\nalice>$/);
    t.type("/send bob are you there?\r");
    await t.see(/\n✓ sent to bob\n✓ bob got "are you there\?" at \d\d:\d\d\nalice → bob>$/);

    t.type("/receipts off\r");
    await t.see(/\n… delivery receipts are hidden \(\/receipts on shows them\)\nalice → bob>$/);
    t.type("not shown\r");
    await bob.waitFor((e) => e.type === "message" && e.text === "not shown", "the second message");
    await receiptsConfirmed(server, 2);
    t.type("/who\r");
    await t.see(/\n✓ 2 online: alice, bob\nalice → bob>$/);
    expect(t.text()).not.toContain('got "not shown"');

    t.type("/receipts on\r");
    await t.see(/\n… delivery receipts are shown \(\/receipts off hides them\)\nalice → bob>$/);
    t.type("shown again\r");
    await t.see(/\n✓ sent to bob\n✓ bob got "shown again" at \d\d:\d\d\nalice → bob>$/);
    t.type("/quit\r");
    expect(await t.exit()).toBe(0);
    bob.end();
    await server.stop();
  });
});
