// The chat protocol over WebSocket (--web-port) against the compiled binary: a WebSocket
// client and a TCP client talking through one server, the TCP path's hostile inputs on the
// WebSocket path (oversized frames, garbage, floods, too many connections), the Origin
// check, and web connections in the logs and metrics as their own transport.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { encodeFrame, encodeRequest, Op, Push, Status } from "../../src/wire";
import { RawWs, WsClient, webPortOf } from "../web/ws-client";
import { type ChatServer, freePort, RawClient, runChat, startServer, tempDir } from "./harness";

async function startWeb(args: string[] = []): Promise<{ server: ChatServer; web: number }> {
  const server = await startServer(["--web-port", "0", "--log-level", "debug", ...args]);
  await server.out.find((l) => /web client on port \d+/.test(l), "the web port line");
  return { server, web: webPortOf(server.out.all) };
}

const logLines = (server: ChatServer) => [...server.out.all, ...server.err.all];
async function logLine(server: ChatServer, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = logLines(server).find((l) => pattern.test(l));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no log line ${pattern}:\n${logLines(server).join("\n")}`);
    await Bun.sleep(10);
  }
}

describe("WebSocket transport", () => {
  test("a WebSocket client and a TCP client chat through one server, live and queued", async () => {
    const { server, web } = await startWeb();
    const alice = await WsClient.open(web);
    expect(alice.frames[0]).toMatchObject({ opcode: Push.HELLO, info: { maxFrameBytes: 65536 } });
    expect(await alice.login("alice")).toMatchObject({ status: Status.OK, name: "alice" });
    const bob = await RawClient.open(server.port);
    expect(await bob.login("bob")).toMatchObject({ status: Status.OK });

    // WebSocket → TCP, live.
    expect(
      await alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: "hi over ws", clientMsgId: 1 }),
    ).toMatchObject({ status: Status.OK, delivery: 1 });
    const toBob = await bob.next((f) => f.opcode === Push.DELIVER, "DELIVER to bob");
    expect(toBob.messages[0]).toMatchObject({ sender: "alice", text: "hi over ws" });
    bob.write(encodeFrame(encodeRequest({ opcode: Op.ACK, ackIds: [toBob.messages[0]!.id] })));

    // TCP → WebSocket, live.
    expect(
      await bob.request({ opcode: Op.SEND_MESSAGE, receiver: "alice", msg: "hi over tcp" }),
    ).toMatchObject({
      status: Status.OK,
    });
    const toAlice = await alice.next((f) => f.opcode === Push.DELIVER, "DELIVER to alice");
    expect(toAlice.messages[0]).toMatchObject({ sender: "bob", text: "hi over tcp" });
    alice.write(encodeRequest({ opcode: Op.ACK, ackIds: [toAlice.messages[0]!.id] }));

    // Queued for an offline WebSocket user, fetched on its next login.
    alice.close();
    await logLine(server, /connection \d+ from 127\.0\.0\.1 \(WebSocket\) \(alice\) closed/);
    expect(
      await bob.request({ opcode: Op.SEND_MESSAGE, receiver: "alice", msg: "while away" }),
    ).toMatchObject({
      status: Status.OK,
      delivery: 2,
    });
    const again = await WsClient.open(web);
    expect(
      await again.request({ opcode: Op.LOG_IN, sender: "alice", password: "correct horse" }),
    ).toMatchObject({ status: Status.OK, unread: 1 });
    const page = await again.request({ opcode: Op.CHECK_MESSAGES });
    expect(page.messages.map((m) => m.text)).toEqual(["while away"]);
    await logLine(server, /alice logged in from 127\.0\.0\.1 \(connection \d+, WebSocket\)/);
    again.close();
    bob.close();
    expect(await server.stop()).toBe(0);
  });

  test("a message over the frame size is refused with close code 1009; the server goes on", async () => {
    const { server, web } = await startWeb(["--max-frame-bytes", "2048"]);
    const c = await WsClient.open(web);
    c.write(new Uint8Array(4096));
    expect(await c.whenClosed(5000)).toBe(1009);
    await logLine(server, /protocol error FRAME_TOO_LARGE .*over the maximum frame size of 2048 bytes/);
    const ok = await WsClient.open(web);
    expect(await ok.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK, msg: "pong" });
    ok.close();
    expect(await server.stop()).toBe(0);
  });

  test("garbage and text messages get MALFORMED_FRAME and a close", async () => {
    const { server, web } = await startWeb();
    const garbage = await WsClient.open(web);
    garbage.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(await garbage.next((f) => f.status === Status.MALFORMED_FRAME, "MALFORMED_FRAME")).toMatchObject({
      opcode: 0,
    });
    await garbage.whenClosed(5000);
    const text = await WsClient.open(web);
    text.write("hello?");
    expect(await text.next((f) => f.status === Status.MALFORMED_FRAME, "MALFORMED_FRAME")).toMatchObject({
      msg: expect.stringContaining("binary messages"),
    });
    await text.whenClosed(5000);
    // A fuzz round: random bytes never take the server down.
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 30; i++) {
      const c = await WsClient.open(web);
      c.write(Uint8Array.from({ length: 1 + (rand() % 200) }, () => rand() & 0xff));
      await Promise.race([c.whenClosed(3000).catch(() => {}), Bun.sleep(200)]);
      c.close();
    }
    const ok = await WsClient.open(web);
    expect(await ok.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    ok.close();
    expect(await server.stop()).toBe(0);
  });

  test("a flood of requests gets SLOW_DOWN under the same request budget as TCP", async () => {
    const { server, web } = await startWeb(["--request-rate", "10", "--request-burst", "20"]);
    const c = await WsClient.open(web);
    for (let i = 1; i <= 60; i++) c.write(encodeRequest({ opcode: Op.PING, requestId: i }));
    const slow = await c.next((f) => f.status === Status.SLOW_DOWN, "SLOW_DOWN");
    expect(slow.retryAfterMs).toBeGreaterThan(0);
    expect(c.frames.filter((f) => f.status === Status.OK && f.msg === "pong").length).toBeLessThanOrEqual(21);
    c.close();
    expect(await server.stop()).toBe(0);
  });

  test("WebSocket and TCP connections of one address share its request budget: requests wait, none is refused", async () => {
    const RATE = 200;
    const BURST = 200;
    const { server, web } = await startWeb([
      ...["--request-rate-per-address", String(RATE), "--request-burst-per-address", String(BURST)],
    ]);
    const sockets = await Promise.all(Array.from({ length: 10 }, () => RawWs.open(web)));
    const tcp = await RawClient.open(server.port);
    const started = performance.now();
    // 2,000 PINGs over WebSocket and 200 over TCP: far more than the address's budget pays for.
    for (const ws of sockets)
      for (let i = 1; i <= 200; i++) ws.write(encodeRequest({ opcode: Op.PING, requestId: i }));
    tcp.write(
      Buffer.concat(
        Array.from({ length: 200 }, (_, i) =>
          encodeFrame(encodeRequest({ opcode: Op.PING, requestId: i + 1 })),
        ),
      ),
    );
    const pongs = () =>
      [...sockets.map((ws) => ws.frames), tcp.frames].reduce(
        (n, frames) => n + frames.filter((f) => f.opcode === Op.PING && f.status === Status.OK).length,
        0,
      );
    // Answers flow at the address's pace: wait until a good part of a second's worth has come.
    const deadline = performance.now() + 10_000;
    while (pongs() < BURST + RATE && performance.now() < deadline) await Bun.sleep(20);
    const elapsed = performance.now() - started;
    const answered = pongs();
    expect(answered).toBeGreaterThanOrEqual(BURST + RATE);
    // At most the address's budget (its own bucket and the connections' shares: twice its rate).
    expect(answered).toBeLessThan(2 * (BURST + (RATE * elapsed) / 1000) + 100);
    expect(answered).toBeLessThan(2200);
    const refused = [...sockets.map((ws) => ws.frames), tcp.frames]
      .flat()
      .filter((f) => f.status !== Status.OK);
    expect(refused).toEqual([]);
    expect(sockets.every((ws) => !ws.closed) && !tcp.closed).toBe(true);
    for (const ws of sockets) ws.socket.end();
    tcp.close();
    expect(await server.stop()).toBe(0);
  });

  test("a TCP connection from an address whose WebSockets spent its budget waits too: one budget, not one per transport", async () => {
    const RATE = 200;
    const BURST = 200;
    const { server, web } = await startWeb([
      ...["--request-rate-per-address", String(RATE), "--request-burst-per-address", String(BURST)],
    ]);
    const sockets = await Promise.all(Array.from({ length: 4 }, () => RawWs.open(web)));
    const ok = (frames: { opcode: number; status: number }[]) =>
      frames.filter((f) => f.opcode === Op.PING && f.status === Status.OK).length;
    for (const ws of sockets)
      for (let i = 1; i <= 200; i++) ws.write(encodeRequest({ opcode: Op.PING, requestId: i }));
    const deadline = performance.now() + 10_000;
    while (sockets.reduce((n, ws) => n + ok(ws.frames), 0) < BURST && performance.now() < deadline)
      await Bun.sleep(10);
    // The address is in debt now. A TCP connection of its own would have the whole burst
    // (200) at once; sharing the address's budget, it gets its share (200/s over 5).
    const tcp = await RawClient.open(server.port);
    tcp.write(
      Buffer.concat(
        Array.from({ length: 200 }, (_, i) =>
          encodeFrame(encodeRequest({ opcode: Op.PING, requestId: i + 1 })),
        ),
      ),
    );
    const until = performance.now() + 10_000;
    while (ok(tcp.frames) === 0 && performance.now() < until) await Bun.sleep(5);
    // Its first answers come a few at a time (a budget of its own: all 200 in one write).
    expect(ok(tcp.frames)).toBeGreaterThan(0);
    expect(ok(tcp.frames)).toBeLessThan(100);
    for (const ws of sockets) ws.socket.end();
    tcp.close();
    expect(await server.stop()).toBe(0);
  });

  test("WebSocket and TCP connections share the per-address cap; the refused one is told why", async () => {
    const { server, web } = await startWeb(["--max-connections-per-address", "3"]);
    const tcp = await RawClient.open(server.port);
    const ws1 = await WsClient.open(web);
    const ws2 = await WsClient.open(web);
    const refused = await WsClient.dial(web);
    expect(await refused.next((f) => f.opcode === Push.LOGGED_OUT, "LOGGED_OUT")).toMatchObject({
      status: Status.TOO_MANY_CONNECTIONS,
      msg: "too many connections from 127.0.0.1 (limit 3); try again later",
    });
    expect(await refused.whenClosed(5000)).toBe(1013);
    expect(refused.frames.some((f) => f.opcode === Push.HELLO)).toBe(false);
    // A TCP client is refused too: one cap for both transports.
    const tcp4 = await RawClient.dial(server.port);
    expect(await tcp4.next((f) => f.opcode === Push.LOGGED_OUT, "LOGGED_OUT")).toMatchObject({
      status: Status.TOO_MANY_CONNECTIONS,
    });
    // Closing a WebSocket frees its slot.
    ws1.close();
    await logLine(server, /\(WebSocket\) closed/);
    const again = await WsClient.open(web);
    expect(await again.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    for (const c of [tcp, ws2, again]) c.close();
    expect(await server.stop()).toBe(0);
  });

  test("the login timeout closes an idle WebSocket like a TCP connection", async () => {
    const { server, web } = await startWeb(["--login-timeout", "500ms"]);
    const c = await WsClient.open(web);
    expect(await c.next((f) => f.opcode === Push.LOGGED_OUT, "LOGGED_OUT", 5000)).toMatchObject({
      status: Status.LOGIN_TIMEOUT,
    });
    await c.whenClosed(5000);
    expect(await server.stop()).toBe(0);
  });

  test("heartbeats: a quiet WebSocket gets HEARTBEATs, a silent one is dropped with HEARTBEAT_TIMEOUT", async () => {
    const { server, web } = await startWeb([
      "--heartbeat",
      "300ms",
      "--heartbeat-misses",
      "3",
      "--login-timeout",
      "30s",
    ]);
    const c = await WsClient.open(web);
    expect(await c.login("hb")).toMatchObject({ status: Status.OK });
    await c.next((f) => f.opcode === Push.HEARTBEAT, "HEARTBEAT", 5000);
    expect(await c.next((f) => f.opcode === Push.LOGGED_OUT, "LOGGED_OUT", 10_000)).toMatchObject({
      status: Status.HEARTBEAT_TIMEOUT,
    });
    await c.whenClosed(5000);
    await logLine(server, /dead peer: hb connection \d+ from 127\.0\.0\.1 silent/);
    expect(await server.stop()).toBe(0);
  });

  test("Origin: the server's own and the allowed ones connect, other pages get 403", async () => {
    const { server, web } = await startWeb(["--web-allowed-origin", "https://chat.example.org"]);
    const own = await WsClient.open(web, { origin: `http://127.0.0.1:${web}` });
    expect(await own.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    const allowed = await WsClient.open(web, { origin: "https://chat.example.org" });
    expect(await allowed.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK });
    const evil = await WsClient.dial(web, { origin: "http://evil.example" });
    await evil.whenClosed(5000);
    expect(evil.frames).toEqual([]);
    await logLine(server, /limit origin: .*pages from http:\/\/evil\.example may not connect/);
    const res = await fetch(`http://127.0.0.1:${web}/ws`, {
      headers: {
        Origin: "http://evil.example",
        Upgrade: "websocket",
        Connection: "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
      },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("may not connect");
    own.close();
    allowed.close();
    expect(await server.stop()).toBe(0);
  });

  test("metrics count WebSocket connections as their own transport", async () => {
    const metricsPort = freePort();
    const { server, web } = await startWeb(["--metrics-port", String(metricsPort)]);
    const tcp = await RawClient.open(server.port);
    const ws = await WsClient.open(web);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(text).toContain('chat_transport_connections{transport="websocket"} 1');
    expect(text).toContain('chat_transport_connections{transport="tcp"} 1');
    expect(text).toContain("chat_connections 2");
    tcp.close();
    ws.close();
    expect(await server.stop()).toBe(0);
  });

  test("the web port serves the page with a strict Content-Security-Policy; a bad flag is refused", async () => {
    const { server, web } = await startWeb();
    const res = await fetch(`http://127.0.0.1:${web}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("set-cookie")).toBeNull();
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/https?:\/\//); // no third-party resources
    const script = /<script[^>]*src="([^"]+)"/.exec(html)![1]!;
    const js = await fetch(`http://127.0.0.1:${web}${script}`);
    expect(js.headers.get("content-type")).toContain("javascript");
    const code = await js.text();
    expect(code).not.toMatch(/\bnew Function\b|\beval\(/);
    expect((await fetch(`http://127.0.0.1:${web}/nope`)).status).toBe(404);
    expect(await server.stop()).toBe(0);

    const bad = await runChat(["serve", "--web-port", "0", "--web-allowed-origin", "evil.example/path"]);
    expect(bad.code).not.toBe(0);
    expect(bad.err + bad.out).toContain("--web-allowed-origin wants origins");
  });

  // As on TCP (hostile.test.ts): a recipient that stops reading fills the kernel's buffers,
  // then the server's, capped by --max-output-bytes.
  test("a WebSocket reader that stops reading is cut past --max-output-bytes; its messages stay queued", async () => {
    const { server, web } = await startWeb([
      ...["--max-output-bytes", "65536", "--delivery-window", "100000", "--max-queued", "200000"],
      ...["--max-queued-per-sender", "200000", "--log-level", "info"],
      ...["--request-rate", "1000000", "--request-burst", "1000000"],
      // The flood comes from one address: its budget is lifted, output is what is tested.
      ...["--request-rate-per-address", "100000000", "--request-burst-per-address", "100000000"],
    ]);
    const bob = await RawWs.open(web);
    await bob.request({ opcode: Op.CREATE_ACCOUNT, sender: "bob", password: "correct horse" });
    expect(await bob.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" })).toMatchObject({
      status: Status.OK,
    });
    bob.socket.pause();
    const alice = await RawClient.open(server.port);
    expect((await alice.login("alice")).status).toBe(Status.OK);
    let accepted = 0;
    const text = "slow consumer ".repeat(7);
    const cutOff = () => logLines(server).find((l) => l.includes("limit slow_consumer"));
    for (let round = 0; round < 200 && !cutOff(); round++) {
      const answers = await Promise.all(
        Array.from({ length: 500 }, () =>
          alice.request({ opcode: Op.SEND_MESSAGE, receiver: "bob", msg: text }),
        ),
      );
      alice.frames.length = 0;
      for (const a of answers) expect(a.status).toBe(Status.OK);
      accepted += answers.length;
    }
    expect(await logLine(server, /limit slow_consumer: bob connection \d+ from 127\.0\.0\.1/)).toMatch(
      /: \d+ bytes of output waiting \(limit 65536\)$/,
    );
    const back = await WsClient.open(web);
    expect(await back.request({ opcode: Op.LOG_IN, sender: "bob", password: "correct horse" })).toMatchObject(
      {
        status: Status.OK,
        unread: accepted,
      },
    );
    back.close();
    alice.close();
    expect(server.proc.exitCode).toBeNull();
    await server.stop();
  });

  // The server hands the messages of one read to the core together and sends the answers
  // and deliveries of one turn in one write: each must still be its own binary message.
  test("many requests in one write: every answer and delivery arrives in order and intact", async () => {
    const { server, web } = await startWeb(["--delivery-window", "1000", "--log-level", "info"]);
    const alice = await RawWs.open(web);
    const bob = await RawWs.open(web);
    for (const [c, name] of [
      [alice, "alice"],
      [bob, "bob"],
    ] as const) {
      await c.request({ opcode: Op.CREATE_ACCOUNT, sender: name, password: "correct horse" });
      expect(await c.request({ opcode: Op.LOG_IN, sender: name, password: "correct horse" })).toMatchObject({
        status: Status.OK,
      });
    }
    // Lengths from 1 to over 125 bytes (7- and 16-bit WebSocket lengths), multi-byte text,
    // more than 16 KiB in all.
    const n = 300;
    const texts = Array.from({ length: n }, (_, i) => `${i}: ${"é✓ab".repeat(i % 24)}`);
    const firstId = 1000;
    const bytes = Buffer.concat(
      texts.map((msg, i) =>
        maskedBinary(
          encodeRequest({ opcode: Op.SEND_MESSAGE, requestId: firstId + i, receiver: "bob", msg }),
        ),
      ),
    );
    expect(bytes.length).toBeGreaterThan(16 * 1024);
    alice.socket.write(bytes);

    const answers = () => alice.frames.filter((f) => f.requestId >= firstId && f.opcode < 100);
    await alice.next(() => answers().length === n, `${n} answers`, 20_000);
    expect(answers().map((a) => a.requestId)).toEqual(texts.map((_, i) => firstId + i));
    for (const a of answers()) expect(a.status).toBe(Status.OK);

    const delivered = () => bob.frames.filter((f) => f.opcode === Push.DELIVER).flatMap((f) => f.messages);
    await bob.next(() => delivered().length === n, `${n} deliveries`, 20_000);
    expect(delivered().map((m) => m.text)).toEqual(texts);
    expect(delivered().every((m) => m.sender === "alice")).toBe(true);
    const ids = delivered().map((m) => m.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(alice.closed || bob.closed).toBe(false);
    alice.socket.end();
    bob.socket.end();
    expect(await server.stop()).toBe(0);
  });

  test("requests in one write whose answers pass 64 KiB are all answered, in order", async () => {
    // Requests paced by the address's budget (held, then handed on as it pays, while earlier
    // answers wait to be written), at a pace that keeps the test short.
    const { server, web } = await startWeb([
      ...["--request-rate-per-address", "5000", "--request-burst-per-address", "2000"],
    ]);
    const c = await RawWs.open(web);
    const n = 6000; // about 84 KiB of PONGs
    c.socket.write(
      Buffer.concat(
        Array.from({ length: n }, (_, i) =>
          maskedBinary(encodeRequest({ opcode: Op.PING, requestId: i + 1 })),
        ),
      ),
    );
    const pongs = () => c.frames.filter((f) => f.requestId > 0 && f.opcode < 100);
    await c.next(() => pongs().length === n, `${n} answers`, 20_000);
    expect(pongs().map((f) => f.requestId)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(pongs().every((f) => f.status === Status.OK)).toBe(true);
    c.socket.end();
    expect(await server.stop()).toBe(0);
  });

  // Compression would cost a deflate per message on both sides for 100-character texts.
  test("a client offering permessage-deflate gets an uncompressed connection", async () => {
    const { server, web } = await startWeb();
    let head = "";
    const got = Promise.withResolvers<void>();
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: web,
      socket: {
        data(_s, d) {
          head += Buffer.from(d).toString("latin1");
          if (head.includes("\r\n\r\n")) got.resolve();
        },
        close: () => got.resolve(),
      },
    });
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${web}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    );
    await Promise.race([got.promise, Bun.sleep(10_000)]);
    const headers = head.slice(0, head.indexOf("\r\n\r\n"));
    expect(headers).toStartWith("HTTP/1.1 101");
    expect(headers.toLowerCase()).not.toContain("sec-websocket-extensions");
    socket.end();
    expect(await server.stop()).toBe(0);
  });

  test("with --tls-cert the web port serves HTTPS and WSS", async () => {
    const dir = tempDir();
    const openssl = Bun.spawnSync(
      [
        ...["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
        ...[
          "-days",
          "1",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
          "-subj",
          "/CN=localhost",
        ],
        ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      ],
      { stderr: "pipe" },
    );
    expect(openssl.exitCode).toBe(0);
    const { server, web } = await startWeb([
      "--tls-cert",
      join(dir, "cert.pem"),
      "--tls-key",
      join(dir, "key.pem"),
    ]);
    expect(
      server.out.all.some((l) => /web client on port \d+ \(HTTPS\): https:\/\/127\.0\.0\.1:/.test(l)),
    ).toBe(true);
    const page = await fetch(`https://127.0.0.1:${web}/`, { tls: { rejectUnauthorized: false } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain(`wss://127.0.0.1:${web}`);
    const c = await WsClient.open(web, { secure: true });
    expect(await c.request({ opcode: Op.PING })).toMatchObject({ status: Status.OK, msg: "pong" });
    c.close();
    // Plain HTTP on the TLS port gets nothing.
    expect(
      await fetch(`http://127.0.0.1:${web}/`).then(
        () => "answered",
        () => "refused",
      ),
    ).toBe("refused");
    expect(await server.stop()).toBe(0);
  });
});

/** One masked binary WebSocket message (clients mask: RFC 6455 §5.3), to write many at once. */
function maskedBinary(body: Uint8Array): Buffer {
  const head =
    body.length < 126 ? [0x82, 0x80 | body.length] : [0x82, 0x80 | 126, body.length >> 8, body.length & 0xff];
  const mask = [0x37, 0xfa, 0x21, 0x3d];
  const out = Buffer.alloc(head.length + 4 + body.length);
  out.set(head, 0);
  out.set(mask, head.length);
  for (let i = 0; i < body.length; i++) out[head.length + 4 + i] = body[i]! ^ mask[i % 4]!;
  return out;
}
