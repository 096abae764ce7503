import { describe, expect, test } from "bun:test";
import { Op, Push, Status } from "../../src/wire";
import { Harness, pw } from "./helpers";

const del = (password: string) => ({ opcode: Op.DELETE_ACCOUNT, password });

describe("DELETE_ACCOUNT", () => {
  test("a wrong password is BAD_CREDENTIALS and nothing is deleted", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const r = await bob.request(del("not-my-password"));
    expect(r).toMatchObject({
      status: Status.BAD_CREDENTIALS,
      msg: "wrong password; the account was not deleted",
    });
    expect(await alice.sendTo("bob", "still there?")).toMatchObject({ status: Status.OK });
    expect(bob.texts()).toEqual(["still there?"]);
    expect(await h.connect().login("bob")).toMatchObject({ status: Status.OK });
  });

  test("wrong passwords count as failed logins of the account", async () => {
    const h = new Harness({ loginFailuresPerAccount: 1 });
    const bob = await h.user("bob");
    await bob.request(del("not-my-password"));
    expect(await bob.request(del(pw("bob")))).toMatchObject({ status: Status.RATE_LIMITED });
  });

  test("without unread messages: OK, logged out, and the name is gone", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const alice = await h.user("alice");
    const r = await bob.request(del(pw("bob")));
    expect(r).toMatchObject({ opcode: Op.DELETE_ACCOUNT, status: Status.OK, msg: "deleted account bob" });
    expect(await bob.check()).toMatchObject({ status: Status.NOT_LOGGED_IN });
    expect(await h.connect().login("bob")).toMatchObject({ status: Status.BAD_CREDENTIALS });
    expect(await alice.sendTo("bob", "hello?")).toMatchObject({ status: Status.NO_SUCH_ACCOUNT });
    expect((await alice.list("*")).accounts.map((a) => a.name)).toEqual(["alice"]);
  });

  test("with unread messages: pushes them, waits for their ACK, then deletes; the name starts afresh", async () => {
    const h = new Harness();
    await h.offline("bob");
    const alice = await h.user("alice");
    await alice.sendTo("bob", "old 1");
    await alice.sendTo("bob", "old 2");
    const bob = h.connect();
    await bob.login("bob");
    const id = bob.post(del(pw("bob")));
    await h.settle();
    expect(bob.texts()).toEqual(["old 1", "old 2"]);
    expect(bob.responses().filter((r) => r.requestId === id)).toEqual([]);
    // While it is being deleted, the account takes no new messages.
    expect(await alice.sendTo("bob", "too late")).toMatchObject({ status: Status.NO_SUCH_ACCOUNT });
    await bob.ackAll();
    expect(bob.reply(id)).toMatchObject({
      status: Status.OK,
      msg: "deleted account bob; 2 unread messages were handed over first",
    });
    expect(await h.connect().login("bob")).toMatchObject({ status: Status.BAD_CREDENTIALS });
    expect(await alice.sendTo("bob", "hello?")).toMatchObject({ status: Status.NO_SUCH_ACCOUNT });
    const reborn = h.connect();
    // The name is reserved for --name-reuse-after (30 days), then free and empty.
    expect(await reborn.create("bob", "a-new-password")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name bob belonged to a deleted account and is reserved until 2030-01-31",
    });
    expect(await reborn.create("B\u043eb", "a-new-password")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name Bоb looks like bob, which belonged to a deleted account and is reserved until 2030-01-31",
    });
    h.clock.now += 30 * 24 * 60 * 60 * 1000;
    expect(await reborn.create("bob", "a-new-password")).toMatchObject({ status: Status.OK });
    expect(await reborn.login("bob", "a-new-password")).toMatchObject({ status: Status.OK, unread: 0 });
    expect(await reborn.check()).toMatchObject({ messages: [] });
    expect(reborn.pushes(Push.DELIVER)).toEqual([]);
  });

  test("without a session is NOT_LOGGED_IN", async () => {
    const r = await new Harness().connect().request(del("whatever-pw"));
    expect(r).toMatchObject({ status: Status.NOT_LOGGED_IN });
  });

  test("a DELETE cut short by a login elsewhere is still answered, and deletes nothing", async () => {
    const h = new Harness();
    const bob = await h.user("bob");
    const release = h.passwords.hold();
    const id = bob.post(del(pw("bob")));
    // The RESUME waits for the account's turn, which the DELETE's password check holds.
    const other = h.connect();
    const resumed = other.post({ opcode: Op.RESUME, token: bob.reply(2).token });
    await h.settle();
    release();
    await h.settle();
    expect(other.reply(resumed)).toMatchObject({ status: Status.OK });
    const answers = bob.responses().filter((r) => r.requestId === id);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.status).not.toBe(Status.OK);
    expect(await h.connect().login("bob")).toMatchObject({ status: Status.OK });
  });
});
