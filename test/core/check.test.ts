import { describe, expect, test } from "bun:test";
import { Op, type ReplyInit, replySize, Status } from "../../src/wire";
import { type Client, Harness, START } from "./helpers";

/** bob offline with `texts` waiting from alice, then logged in on a new connection. */
async function bobWith(h: Harness, texts: string[]): Promise<Client> {
  await h.offline("bob");
  const alice = await h.user("alice");
  for (const text of texts) await alice.sendTo("bob", text);
  const bob = h.connect();
  await bob.login("bob");
  return bob;
}

describe("CHECK_MESSAGES", () => {
  test("returns waiting messages oldest first, with sender and sentAt", async () => {
    const h = new Harness();
    await h.offline("bob");
    await (await h.user("alice")).sendTo("bob", "one");
    h.clock.now += 1000;
    await (await h.user("carol")).sendTo("bob", "two");
    const bob = h.connect();
    await bob.login("bob");
    const r = await bob.check();
    expect(r).toMatchObject({ opcode: Op.CHECK_MESSAGES, status: Status.OK, more: false, unread: 0 });
    expect(r.msg).toBe("2 messages");
    expect(r.messages).toMatchObject([
      { sender: "alice", text: "one", sentAt: START },
      { sender: "carol", text: "two", sentAt: START + 1000 },
    ]);
  });

  test("with nothing waiting says so", async () => {
    const bob = await new Harness().user("bob");
    expect(await bob.check()).toMatchObject({ status: Status.OK, messages: [], msg: "no unread messages" });
  });

  test("pages by page_size with `more` and the count still unread", async () => {
    const bob = await bobWith(new Harness(), ["m1", "m2", "m3", "m4", "m5"]);
    const pages = [];
    for (let i = 0; i < 4; i++) pages.push(await bob.check(2));
    expect(pages.map((p) => [p.messages.map((m) => m.text), p.more, p.unread])).toEqual([
      [["m1", "m2"], true, 3],
      [["m3", "m4"], true, 1],
      [["m5"], false, 0],
      [[], false, 0],
    ]);
    expect(pages[0]!.msg).toBe("2 messages; 3 more waiting");
  });

  test("page_size 0 means defaultPageSize", async () => {
    const bob = await bobWith(new Harness({ defaultPageSize: 3 }), ["a", "b", "c", "d"]);
    expect(await bob.check(0)).toMatchObject({ more: true, unread: 1 });
  });

  test("page_size over maxPageSize is INVALID_ARGUMENT", async () => {
    const bob = await new Harness({ maxPageSize: 10 }).user("bob");
    expect(await bob.check(11)).toMatchObject({
      status: Status.INVALID_ARGUMENT,
      msg: "page_size 11 is over the maximum of 10",
    });
  });

  test("checked messages leave the queue only when ACKed", async () => {
    const h = new Harness();
    const bob = await bobWith(h, ["m1", "m2"]);
    const { messages } = await bob.check();
    expect(await h.pending("bob")).toBe(2);
    const again = h.connect();
    expect(await again.login("bob")).toMatchObject({ unread: 2 });
    expect((await again.check()).messages).toEqual(messages);
    await again.ack(messages.map((m) => m.id));
    expect(await h.pending("bob")).toBe(0);
  });

  test("without a session is NOT_LOGGED_IN", async () => {
    expect(await new Harness().connect().check()).toMatchObject({ status: Status.NOT_LOGGED_IN });
  });

  test("a CHECK cut short by a login elsewhere is still answered", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const release = h.store.hold("pending");
    const id = bob.post({ opcode: Op.CHECK_MESSAGES });
    expect(await h.connect().resumeWith(bob.reply(2).token)).toMatchObject({ status: Status.OK });
    release();
    await h.settle();
    const answers = bob.responses().filter((r) => r.requestId === id);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.status).not.toBe(Status.OK);
  });
});

describe("pages and pushes stay within the frame size", () => {
  const long = "ж".repeat(100); // 200 bytes of UTF-8
  const frameBytes = (r: object) => replySize(r as ReplyInit);

  test("a CHECK page is cut to fit maxFrameBytes, with more set", async () => {
    const bob = await bobWith(new Harness({ maxFrameBytes: 4096, maxPageSize: 1000 }), Array(40).fill(long));
    const r = await bob.check(1000);
    expect(r.messages.length).toBeGreaterThan(5);
    expect(r.messages.length).toBeLessThan(40);
    expect(r.more).toBe(true);
    expect(frameBytes(r)).toBeLessThanOrEqual(4096);
  });

  test("CHECKs through a backlog read about what fits, and hand every message once, in order", async () => {
    const h = new Harness({ maxFrameBytes: 4096, maxPageSize: 1000 });
    const texts = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, "0")}${long.slice(2)}`);
    const bob = await bobWith(h, texts);
    const store = h.store as unknown as {
      pending: (r: number, a: number, limit: number) => Promise<unknown[]>;
    };
    const limits: number[] = [];
    const pending = store.pending.bind(store);
    store.pending = (r, a, limit) => {
      limits.push(limit);
      return pending(r, a, limit);
    };
    const got: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await bob.check(1000);
      got.push(...r.messages.map((m) => m.text));
      expect(frameBytes(r)).toBeLessThanOrEqual(4096);
      if (!r.more) break;
    }
    expect(got).toEqual(texts);
    // The first reads a whole page; the next ones a frame's worth and an eighth more.
    expect(limits[0]).toBe(1001);
    const fit = limits.length > 1 ? limits[1]! : 0;
    expect(fit).toBeLessThan(30);
    for (const l of limits.slice(1)) expect(l).toBe(fit);
  });

  test("a drain pushes a backlog in as many DELIVER frames as the frame size needs", async () => {
    const h = new Harness({ maxFrameBytes: 4096, maxPageSize: 1000, deliveryWindow: 1000 });
    const bob = await bobWith(h, Array(40).fill(long));
    await (await h.user("carol")).sendTo("bob", "and one more");
    const pushes = bob.frames.filter((f) => f.opcode === 100);
    expect(pushes.length).toBeGreaterThan(1);
    for (const p of pushes) expect(frameBytes(p)).toBeLessThanOrEqual(4096);
    expect(pushes.flatMap((p) => p.messages.map((m) => m.text))).toEqual([
      ...Array(40).fill(long),
      "and one more",
    ]);
  });
});
