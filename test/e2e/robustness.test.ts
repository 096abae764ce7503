// Dead peers and hostile bytes: the server logs clients out, answers or closes bad
// connections, and keeps serving everyone else.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeFrame, encodeRequest, Op, Status, writeVarint } from "../../src/wire";
import { type ChatServer, loggedIn, RawClient, startClient, startServer } from "./harness";

let server: ChatServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

describe("dead clients", () => {
  test("a client killed mid-session is logged out; messages to it are queued", async () => {
    const alice = await loggedIn(server.port, "alice");
    const bob = await loggedIn(server.port, "bob");
    bob.proc.kill("SIGKILL");
    await bob.exited;
    await server.out.find((l) => /bob logged out on connection \d+: disconnected/.test(l), "bob's logout");
    alice.say("/send bob are you there?");
    expect(await alice.reply("send")).toMatchObject({ ok: true, delivery: "queued" });
    alice.say("/list");
    expect((await alice.reply("list")).accounts).toContainEqual({ name: "bob", online: false });
    alice.end();
  });
});

describe("hostile bytes", () => {
  test("bytes that are not a message: MALFORMED_FRAME, then the connection closes", async () => {
    const raw = await RawClient.open(server.port);
    raw.write(new Uint8Array([5, 0xff, 0xff, 0xff, 0xff, 0xff]));
    const r = await raw.next((f) => f.status === Status.MALFORMED_FRAME, "MALFORMED_FRAME");
    expect(r.msg).toContain("not a valid Client2Server message");
    await raw.whenClosed();
  });

  test("a length prefix over the maximum is refused before the body is sent", async () => {
    const raw = await RawClient.open(server.port);
    const prefix = new Uint8Array(5);
    raw.write(prefix.subarray(0, writeVarint(prefix, 0, 10 * 1024 * 1024)));
    const r = await raw.next((f) => f.status === Status.FRAME_TOO_LARGE, "FRAME_TOO_LARGE");
    expect(r.msg).toBe("frame of 10485760 bytes is over the maximum frame size of 65536 bytes");
    await raw.whenClosed();
  });

  test("a malformed varint prefix closes the connection with an error", async () => {
    const raw = await RawClient.open(server.port);
    raw.write(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]));
    expect(await raw.next((f) => f.status !== 0, "an error")).toMatchObject({
      status: Status.MALFORMED_FRAME,
      msg: "frame length prefix is longer than 5 bytes",
    });
    await raw.whenClosed();
  });

  test("a wrong protocol version is named in the error and the connection closes", async () => {
    const raw = await RawClient.open(server.port);
    raw.write(encodeFrame(encodeRequest({ version: "9", opcode: Op.PING, requestId: 7 })));
    const r = await raw.next((f) => f.requestId === 7, "BAD_VERSION");
    expect(r).toMatchObject({ status: Status.BAD_VERSION });
    expect(r.msg).toBe('protocol version mismatch: this server speaks version "1", the client sent "9"');
    await raw.whenClosed();
  });

  test("an unknown opcode gets an error but the connection stays usable", async () => {
    const raw = await RawClient.open(server.port);
    expect(await raw.request({ opcode: 77 })).toMatchObject({ status: Status.UNKNOWN_OPCODE, opcode: 77 });
    expect(await raw.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK, msg: "pong" });
    raw.close();
  });

  test("a zero-length frame is an empty request: a version error", async () => {
    const raw = await RawClient.open(server.port);
    raw.write(new Uint8Array([0]));
    expect((await raw.next((f) => f.status !== 0, "an error")).status).toBe(Status.BAD_VERSION);
    await raw.whenClosed();
  });

  test("a name or message over the limits is refused with a specific status", async () => {
    const raw = await RawClient.open(server.port);
    const long = "n".repeat(26);
    expect(
      await raw.request({ opcode: Op.CREATE_ACCOUNT, sender: long, password: "correct horse" }),
    ).toMatchObject({
      status: Status.INVALID_NAME,
      msg: "invalid name: the name is longer than 25 characters",
    });
    await raw.login("limits");
    expect(
      await raw.request({ opcode: Op.SEND_MESSAGE, receiver: "limits", msg: "m".repeat(101) }),
    ).toMatchObject({
      status: Status.INVALID_TEXT,
      msg: "message not sent: the message is longer than 100 characters",
    });
    raw.close();
  });

  test("through all of that, other clients keep being served", async () => {
    const carol = await loggedIn(server.port, "carol");
    const dave = await loggedIn(server.port, "dave");
    const attackers = await Promise.all([1, 2, 3].map(() => RawClient.open(server.port)));
    for (const a of attackers) a.write(new Uint8Array(64).fill(0xff));
    carol.say("/send dave still here");
    await dave.waitFor((e) => e.type === "message" && e.text === "still here", "the message");
    await Promise.all(attackers.map((a) => a.whenClosed()));
    carol.end();
    dave.end();
  });
});

describe("the server going away", () => {
  test("clients notice at once, say so, and exit 1 (without reconnecting, or after giving up)", async () => {
    const doomed = await startServer();
    const plain = await loggedIn(doomed.port, "erin", "correct horse", ["--no-reconnect"]);
    const patient = await loggedIn(doomed.port, "frank", "correct horse", ["--give-up-after", "1s"]);
    doomed.proc.kill("SIGKILL");
    expect(await plain.exited).toBe(1);
    expect((await plain.waitFor((e) => e.type === "lost", "lost")).reconnecting).toBe(false);
    expect(await patient.exited).toBe(1);
    expect(String((await patient.waitFor((e) => e.type === "gave_up", "gave_up")).msg)).toContain(
      "gave up reconnecting",
    );
    const quiet = startClient(doomed.port);
    expect(await quiet.exited).toBe(1);
    expect(String(quiet.events[0]?.msg)).toContain("connection refused");
  });
});
