// `chat serve` as a systemd service: readiness and stopping notifications on
// NOTIFY_SOCKET, SIGHUP reloading the TLS certificate (a connected client stays up) and the
// config file's reloadable settings, and a data file of a newer schema refused at start.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tls from "node:tls";
import { SCHEMA_VERSION } from "../../src/store/migrations";
import { DatagramReceiver } from "../net/datagram-receiver";
import { track } from "../processes";
import { BIN, loggedIn, RawClient, runChat, serverLine, startServer, tempDir } from "./harness";

function certificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const r = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      `/CN=${name}`,
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    { stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`);
  return { cert, key };
}

/** The CN of the certificate a new TLS connection to port is given. */
function servedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(String(s.getPeerCertificate().subject.CN));
      s.destroy();
    });
    s.on("error", reject);
  });
}

describe("systemd readiness notification", () => {
  test("READY=1 once listening, STOPPING=1 at shutdown, to the NOTIFY_SOCKET datagram socket", async () => {
    const dir = tempDir();
    const receiver = new DatagramReceiver(join(dir, "notify"));
    try {
      const proc = track(
        Bun.spawn([BIN, "serve", "--host", "127.0.0.1", "--port", "0", "--data", join(dir, "chat.db")], {
          env: { ...process.env, NOTIFY_SOCKET: receiver.path },
          stdout: "pipe",
          stderr: "pipe",
        }),
      );
      const ready = await receiver.next((m) => m.startsWith("READY=1"));
      const port = Number(/STATUS=listening on port (\d+)/.exec(ready)?.[1]);
      expect(ready).toContain(`MAINPID=${proc.pid}`);
      // Ready means ready: a client is served at once.
      const c = await RawClient.open(port);
      c.close();
      proc.kill("SIGTERM");
      expect(await receiver.next((m) => m === "STOPPING=1")).toBe("STOPPING=1");
      expect(await proc.exited).toBe(0);
      expect(receiver.messages.length).toBe(2);
    } finally {
      receiver.close();
    }
  });
});

describe("SIGHUP", () => {
  test("reloads the TLS certificate; a connected TLS client stays up", async () => {
    const dir = tempDir();
    const a = certificate(dir, "cert-a");
    const b = certificate(dir, "cert-b");
    const live = { cert: join(dir, "live.crt"), key: join(dir, "live.key") };
    copyFileSync(a.cert, live.cert);
    copyFileSync(a.key, live.key);
    const server = await startServer(["--tls-cert", live.cert, "--tls-key", live.key]);
    const alice = await loggedIn(server.port, "alice", "correct horse", ["--tls", "--ca", a.cert]);
    expect(await servedName(server.port)).toBe("cert-a");

    copyFileSync(b.cert, live.cert);
    copyFileSync(b.key, live.key);
    server.proc.kill("SIGHUP");
    await serverLine(server, (l) => l.includes("SIGHUP: reloaded tls certificate"), "the reload line");
    expect(await servedName(server.port)).toBe("cert-b");
    alice.say("/list");
    expect(await alice.reply("list")).toMatchObject({ ok: true });

    // A broken certificate is refused and the last good one is kept.
    writeFileSync(live.cert, "not a certificate");
    server.proc.kill("SIGHUP");
    await serverLine(
      server,
      (l) => l.includes("SIGHUP: reload failed, kept the running settings"),
      "the failure",
    );
    expect(await servedName(server.port)).toBe("cert-b");
    alice.say("/list");
    expect(await alice.reply("list")).toMatchObject({ ok: true });
  });

  test("reloads the config file's reloadable settings and names those that need a restart", async () => {
    const dir = tempDir();
    const config = join(dir, "chat.toml");
    writeFileSync(config, "request-rate = 100\nmax-queued = 100\n");
    const server = await startServer(["--config", config]);
    writeFileSync(config, 'request-rate = 50\nlogin-timeout = "20s"\nmax-queued = 5\n');
    server.proc.kill("SIGHUP");
    await serverLine(
      server,
      (l) => l.includes("SIGHUP: reloaded request-rate = 50, login-timeout = 20000"),
      "the reload line",
    );
    await serverLine(
      server,
      (l) => l.includes("only a restart applies them: max-queued"),
      "the restart warning",
    );

    writeFileSync(config, "request-rate = 50\nmax_queued = 5\n");
    server.proc.kill("SIGHUP");
    const failed = await serverLine(server, (l) => l.includes("SIGHUP: reload failed"), "the failure");
    expect(failed).toContain('line 2: unknown key "max_queued" (did you mean max-queued?)');
    const c = await RawClient.open(server.port);
    c.close();
    expect(await server.stop()).toBe(0);
  });
});

describe("upgrades", () => {
  test("a data file of a newer schema is refused at start and left as it was", async () => {
    const dir = tempDir();
    const data = join(dir, "chat.db");
    const server = await startServer([], data);
    expect(await server.stop()).toBe(0);
    const db = new Database(data);
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const r = await runChat(["serve", "--host", "127.0.0.1", "--port", "0", "--data", data], {
      timeoutMs: 10_000,
    });
    expect(r.code).toBe(1);
    expect(r.out + r.err).toContain(
      `was written by a newer chat (schema version ${SCHEMA_VERSION + 1}; this chat knows up to ${SCHEMA_VERSION}). Upgrade chat to use it.`,
    );
    const after = new Database(data, { readonly: true });
    expect((after.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(
      SCHEMA_VERSION + 1,
    );
    after.close();
  });
});
