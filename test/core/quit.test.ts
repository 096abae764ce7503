import { describe, expect, test } from "bun:test";
import { Delivery, Op, Status } from "../../src/wire";
import { Harness } from "./helpers";

describe("QUIT", () => {
  test("logged in: OK, logged out, closed", async () => {
    const h = new Harness();
    const alice = await h.user("alice");
    const bob = await h.user("bob");
    const r = await bob.request({ opcode: Op.QUIT });
    expect(r).toMatchObject({ opcode: Op.QUIT, status: Status.OK, msg: "logged out of bob; bye" });
    expect(bob.closed).toBe(true);
    expect(await alice.sendTo("bob", "gone?")).toMatchObject({ delivery: Delivery.QUEUED });
    expect(h.eventsOf("logout")).toMatchObject([{ account: "bob", reason: "quit" }]);
  });

  test("not logged in: NOT_LOGGED_IN saying there was no session, and closed", async () => {
    const c = new Harness().connect();
    const r = await c.request({ opcode: Op.QUIT });
    expect(r).toMatchObject({ status: Status.NOT_LOGGED_IN, msg: "there was no session to log out of; bye" });
    expect(c.closed).toBe(true);
  });

  test("is answered after a SEND still being stored, then closes", async () => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    const send = alice.post({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "bye bob" });
    const quit = alice.post({ opcode: Op.QUIT });
    await h.settle();
    expect(
      alice
        .responses()
        .slice(-2)
        .map((r) => [r.requestId, r.status]),
    ).toEqual([
      [send, Status.OK],
      [quit, Status.OK],
    ]);
    expect(alice.closed).toBe(true);
    expect(await h.pending("bob")).toBe(1);
  });
});
