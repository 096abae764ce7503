import { describe, expect, test } from "bun:test";
import { createConsola } from "consola";
import { eventLogger } from "../../src/net/log";
import { encodeRequest, Op } from "../../src/wire";
import { Harness } from "./helpers";

describe("events", () => {
  test("account_created, login_failed, login, forced_logout, logout and account_deleted name account and address", async () => {
    const h = new Harness();
    const first = h.connect("203.0.113.1");
    await first.create("alice");
    await first.login("alice", "wrong-password");
    await first.login("ghost", "whatever-pw");
    const { token } = await first.login("alice");
    const second = h.connect("203.0.113.2");
    const { token: t2 } = await second.login("alice");
    const third = h.connect("203.0.113.3");
    await third.resumeWith(token); // revoked when second forced first out
    await third.resumeWith(t2);
    await third.request({ opcode: Op.DELETE_ACCOUNT, password: "secret-alice-pw" });
    const kept = ["account_created", "login_failed", "login", "forced_logout", "logout", "account_deleted"];
    expect(h.events.filter((e) => kept.includes(e.type))).toMatchObject([
      { type: "account_created", account: "alice", address: "203.0.113.1" },
      { type: "login_failed", name: "alice", address: "203.0.113.1", reason: "wrong password" },
      { type: "login_failed", name: "ghost", address: "203.0.113.1", reason: "no such account" },
      { type: "login", account: "alice", address: "203.0.113.1", resumed: false },
      { type: "forced_logout", account: "alice", address: "203.0.113.1", byAddress: "203.0.113.2" },
      { type: "logout", account: "alice", address: "203.0.113.1", reason: "logged in elsewhere" },
      { type: "login", account: "alice", address: "203.0.113.2", resumed: false },
      { type: "login_failed", name: "(token)", address: "203.0.113.3" },
      { type: "forced_logout", account: "alice", address: "203.0.113.2", byAddress: "203.0.113.3" },
      { type: "logout", account: "alice", address: "203.0.113.2", reason: "logged in elsewhere" },
      { type: "login", account: "alice", address: "203.0.113.3", resumed: true },
      { type: "logout", account: "alice", address: "203.0.113.3", reason: "account deleted" },
      { type: "account_deleted", account: "alice", address: "203.0.113.3", handedOver: 0 },
    ]);
  });

  test("no event or log line ever carries a message body or a password", async () => {
    const h = new Harness();
    const lines: unknown[] = [];
    const log = createConsola({ level: 5, reporters: [{ log: (o) => lines.push(o.args) }] });
    const toLog = eventLogger(log, "json");
    const bob = h.connect();
    await bob.create("bob", "PW-bob-secret-1");
    await bob.login("bob", "PW-bob-wrong-2");
    await bob.login("bob", "PW-bob-secret-1");
    const alice = h.connect();
    await alice.create("alice", "PW-alice-secret-3");
    await alice.login("alice", "PW-alice-secret-3");
    await alice.sendTo("bob", "BODY-live-1");
    await alice.sendTo("bob", "BODY-dup-2", { clientMsgId: 1 });
    await alice.sendTo("bob", "BODY-dup-2", { clientMsgId: 1 });
    await alice.sendTo("nobody", "BODY-nobody-3");
    await alice.sendTo("bob", "BODY-bad-4\u0007");
    await alice.sendTo("bob", `BODY-long-5${"x".repeat(100)}`);
    await bob.request({ opcode: Op.DELETE_ACCOUNT, password: "PW-bob-wrong-4" });
    await h.connect().login("ghost", "PW-ghost-5");
    await h.connect().resumeWith("PW-token-6");
    const truncated = encodeRequest({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "BODY-truncated-7" });
    alice.postRaw(truncated.subarray(0, truncated.length - 3));
    await h.settle();
    bob.hangUp();
    await h.advance(60_000);
    for (const e of h.events) toLog(e);
    const text = JSON.stringify(h.events) + JSON.stringify(lines);
    expect(h.events.length).toBeGreaterThan(20);
    expect(lines).toHaveLength(h.events.length);
    expect(text).not.toMatch(/BODY-|PW-/);
  });
});
