// TLS under attack, against the real binary: handshakes that never finish are counted and
// timed from accept, a refused TLS client reads why, and only forward-secret AEAD suites on
// TLS 1.2+ are offered. Attackers connect from 127.0.0.2 (still loopback), so the per-address
// cap they fill is not the real client's (127.0.0.1).

import { beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";
import { decodeReply, FrameDecoder, Push, type Reply, Status } from "../../src/wire";
import { type ChatClient, type ChatServer, loggedIn, serverLine, startServer, tempDir } from "./harness";

let dir: string;

function makeCert(name: string, key: string[]): void {
  const r = Bun.spawnSync(
    [
      ...["openssl", "req", "-x509", "-newkey", ...key, "-nodes", "-days", "1"],
      ...["-keyout", join(dir, `${name}-key.pem`), "-out", join(dir, `${name}-cert.pem`)],
      ...["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    ],
    { stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`);
}

beforeAll(() => {
  dir = tempDir();
  makeCert("ec", ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
  makeCert("rsa", ["rsa:2048"]);
});

const tlsArgs = (kind = "ec") => [
  ...["--tls-cert", join(dir, `${kind}-cert.pem`), "--tls-key", join(dir, `${kind}-key.pem`)],
];
const clientTls = () => ["--tls", "--ca", join(dir, "ec-cert.pem")];

/** Open file descriptors of the server process: what a socket really costs it. */
const fds = (server: ChatServer) => readdirSync(`/proc/${server.proc.pid}/fd`).length;

/** TCP connections from 127.0.0.2 that send the first 6 bytes of a ClientHello and stop. */
class HalfHandshakes {
  connected = 0;
  alive = 0;
  /** When the last one was closed by the server (performance.now()). */
  lastClosedAt = 0;
  private readonly sockets: net.Socket[] = [];

  async open(port: number, n: number): Promise<void> {
    await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<void>((done) => {
            let up = false;
            const s = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" }, () => {
              up = true;
              this.connected++;
              this.alive++;
              s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
              done();
            });
            s.on("close", () => {
              if (up) {
                this.alive--;
                this.lastClosedAt = performance.now();
              }
              done();
            });
            s.on("error", () => {});
            this.sockets.push(s);
          }),
      ),
    );
  }

  /** Resolves once at most n are open (the server's refusals are closes still in flight). */
  async atMost(n: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.alive > n) {
      if (performance.now() > deadline) throw new Error(`${this.alive} half handshakes open, wanted ${n}`);
      await Bun.sleep(10);
    }
  }

  async allClosed(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.alive > 0) {
      if (performance.now() > deadline) throw new Error(`${this.alive} half handshakes still open`);
      await Bun.sleep(20);
    }
  }

  destroy(): void {
    for (const s of this.sockets) s.destroy();
  }
}

/** A TLS client that skips verification and collects the server's frames. */
async function tlsRaw(port: number) {
  const frames: Reply[] = [];
  const decoder = new FrameDecoder(1 << 20);
  let closed = false;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    tls: { rejectUnauthorized: false },
    socket: {
      data(_s, d) {
        for (const f of decoder.push(d)) frames.push(decodeReply(f));
      },
      close() {
        closed = true;
      },
      error() {
        closed = true;
      },
    },
  });
  const next = async (pred: (r: Reply) => boolean, what: string, timeoutMs = 5000) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = frames.find(pred);
      if (hit) return hit;
      if (closed) throw new Error(`closed without ${what}`);
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await Bun.sleep(10);
    }
  };
  return { socket, frames, next, isClosed: () => closed };
}

async function roundTrip(a: ChatClient, b: ChatClient, tag: string): Promise<void> {
  a.say(`/send bob ping ${tag}`);
  expect(await a.reply("send", 5000)).toMatchObject({ ok: true });
  await b.waitFor((e) => e.type === "message" && e.text === `ping ${tag}`, `ping ${tag}`, 5000);
}

describe("unfinished TLS handshakes", () => {
  test("2,000 from one address: at most the per-address cap is held, all are cut at --handshake-timeout, a real TLS client gets in", async () => {
    const server = await startServer([...tlsArgs(), "--handshake-timeout", "3s", "--log-format", "json"]);
    const fdsBefore = fds(server);
    const attack = new HalfHandshakes();
    const startedAt = performance.now();
    try {
      await attack.open(server.port, 2000);
      // Past the cap of 256 per address the server cuts them at once (well before the deadline).
      await attack.atMost(256, 1500);
      expect(attack.alive).toBeGreaterThan(200);
      expect(fds(server) - fdsBefore).toBeLessThanOrEqual(256 + 8);

      // A real client (another address) logs in and chats while they are held.
      const alice = await loggedIn(server.port, "alice", "correct horse", clientTls());
      const bob = await loggedIn(server.port, "bob", "correct horse", clientTls());
      await roundTrip(alice, bob, "during the attack");
      expect(attack.alive).toBeGreaterThan(200); // the attack was still on

      // None outlives the deadline by much.
      await attack.allClosed(6000);
      const heldFor = attack.lastClosedAt - startedAt;
      expect(heldFor).toBeGreaterThanOrEqual(2900);
      expect(heldFor).toBeLessThan(5000);
      expect(fds(server) - fdsBefore).toBeLessThanOrEqual(8); // the two clients
      await roundTrip(alice, bob, "after the attack");

      // One line for the refusals and one for the timeouts, not one per socket.
      await serverLine(server, (l) => l.includes('"limit":"handshake_timeout"'), "the timeout line");
      const limits = [...server.out.all, ...server.err.all].filter((l) => l.includes('"event":"limit"'));
      expect(limits.filter((l) => l.includes('"limit":"connections"'))).toHaveLength(1);
      expect(limits.filter((l) => l.includes('"limit":"handshake_timeout"')).length).toBeLessThanOrEqual(2);
      expect(limits.find((l) => l.includes('"limit":"connections"'))).toContain(
        "too many connections from 127.0.0.2 (limit 256)",
      );
      alice.end();
      bob.end();
    } finally {
      attack.destroy();
    }
    expect(await server.stop()).toBe(0);
  }, 30_000);

  test("sockets in their handshake count against --max-connections; a TLS client past it reads TOO_MANY_CONNECTIONS", async () => {
    const server = await startServer([...tlsArgs(), "--max-connections", "2", "--handshake-timeout", "1s"]);
    const attack = new HalfHandshakes();
    try {
      await attack.open(server.port, 2);
      expect(attack.alive).toBe(2);
      const refused = await tlsRaw(server.port);
      expect(await refused.next((f) => f.opcode === Push.LOGGED_OUT, "LOGGED_OUT")).toMatchObject({
        status: Status.TOO_MANY_CONNECTIONS,
        msg: "the server is at its limit of 2 connections; try again later",
      });
      expect(refused.frames.some((f) => f.opcode === Push.HELLO)).toBe(false);
      // Once the deadline has cut the two, there is room again.
      await attack.allClosed(4000);
      const admitted = await tlsRaw(server.port);
      expect(await admitted.next((f) => f.opcode === Push.HELLO, "HELLO")).toMatchObject({
        opcode: Push.HELLO,
      });
      admitted.socket.end();
    } finally {
      attack.destroy();
    }
    expect(await server.stop()).toBe(0);
  }, 20_000);
});

describe("the login timeout", () => {
  test("counts from the TCP accept: a slow handshake spends from it", async () => {
    const server = await startServer([...tlsArgs(), "--login-timeout", "2s", "--handshake-timeout", "5s"]);
    const raw = net.connect({ host: "127.0.0.1", port: server.port });
    await new Promise((r) => raw.once("connect", r));
    const connectedAt = performance.now();
    await Bun.sleep(1500);
    const s = tls.connect({ socket: raw, rejectUnauthorized: false });
    const decoder = new FrameDecoder(1 << 20);
    const frames: Reply[] = [];
    s.on("data", (d: Buffer) => {
      for (const f of decoder.push(d)) frames.push(decodeReply(f));
    });
    s.on("error", () => {});
    await new Promise((r) => s.once("close", r));
    const closedAfter = performance.now() - connectedAt;
    expect(frames.map((f) => f.opcode)).toEqual([Push.HELLO, Push.LOGGED_OUT]);
    expect(frames[1]!.status).toBe(Status.LOGIN_TIMEOUT);
    // 2 s after the accept (and a tick), not 2 s after the handshake at 1.5 s.
    expect(closedAfter).toBeGreaterThanOrEqual(1900);
    expect(closedAfter).toBeLessThan(3000);
    expect(await server.stop()).toBe(0);
  }, 20_000);
});

describe("TLS suites", () => {
  /** openssl s_client against the server: did the handshake succeed, and on which suite. */
  async function sClient(port: number, args: string[]): Promise<{ ok: boolean; cipher: string }> {
    const p = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, ...args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const guard = setTimeout(() => p.kill("SIGKILL"), 10_000);
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    clearTimeout(guard);
    return { ok: code === 0, cipher: /Cipher is (\S+)/.exec(out)?.[1] ?? "" };
  }

  test("only ECDHE + AEAD on TLS 1.2, and TLS 1.3; no RSA key exchange, no CBC, nothing below 1.2", async () => {
    const server = await startServer(tlsArgs("rsa"));
    const refused = [
      ["-tls1_2", "-cipher", "AES128-SHA"],
      ["-tls1_2", "-cipher", "AES256-SHA256"],
      ["-tls1_2", "-cipher", "AES128-GCM-SHA256"], // AEAD but no forward secrecy
      ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"], // forward secret but CBC with SHA-1
      ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
    ];
    for (const args of refused)
      expect({ args, ...(await sClient(server.port, args)) }).toMatchObject({ ok: false });
    for (const suite of [
      "ECDHE-RSA-AES128-GCM-SHA256",
      "ECDHE-RSA-AES256-GCM-SHA384",
      "ECDHE-RSA-CHACHA20-POLY1305",
    ])
      expect(await sClient(server.port, ["-tls1_2", "-cipher", suite])).toEqual({ ok: true, cipher: suite });
    const v13 = await sClient(server.port, ["-tls1_3"]);
    expect(v13.ok).toBe(true);
    expect(v13.cipher).toMatch(/^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
    expect(await server.stop()).toBe(0);
  }, 30_000);
});

describe("finished TLS handshakes", () => {
  /** A full TLS handshake from `from`; resolves with when it finished (performance.now()), or null if cut. */
  const handshake = (port: number, from: string) =>
    new Promise<number | null>((done) => {
      // node:tls takes node:net's localAddress; its types do not list it.
      const to = {
        host: "127.0.0.1",
        port,
        rejectUnauthorized: false,
        ...({ localAddress: from } as object),
      };
      const s = tls.connect(to, () => {
        done(performance.now());
        s.destroy();
      });
      s.on("error", () => done(null));
      s.on("close", () => done(null));
    });

  test("a flood of them from many addresses is held to the total request budget; another address still gets in", async () => {
    // 250 units a handshake: a burst of 10, then 10 a second, for all addresses together.
    const TOTAL = 2500;
    const server = await startServer([
      ...tlsArgs("ec"),
      ...["--request-rate-per-address", "1000000", "--request-burst-per-address", "1000000"],
      ...["--request-rate-total", String(TOTAL), "--request-burst-total", String(TOTAL)],
    ]);
    const started = performance.now();
    const finished: number[] = [];
    const flood = Array.from({ length: 60 }, (_, i) =>
      handshake(server.port, `127.0.0.${2 + (i % 12)}`).then((t) => {
        if (t !== null) finished.push(t - started);
      }),
    );
    // Meanwhile one from 127.0.0.1, within its fair part of the total (2,500/s over 13 addresses).
    const quiet = await handshake(server.port, "127.0.0.1");
    expect(quiet).not.toBeNull();
    expect(quiet! - started).toBeLessThan(3000);
    // The measured window: the first second of the flood.
    await Bun.sleep(Math.max(0, 1000 - (performance.now() - started)));
    const inFirstSecond = finished.filter((t) => t < 1000).length;
    console.log(`60 handshakes from 12 addresses: ${inFirstSecond} finished in the first second`);
    // The burst and a second of the rate, plus one per address crossing into its fair part;
    // unheld, all 60 would finish within tens of milliseconds.
    expect(inFirstSecond).toBeGreaterThan(5);
    expect(inFirstSecond).toBeLessThan(10 + 10 + 12 + 5);
    expect(await server.stop()).toBe(0);
    // Those still waiting were cut with the server.
    await Promise.all(flood);
  }, 30_000);
});
