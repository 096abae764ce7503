// A real redis-server for tests: Debian's package (scripts/test.sh installs it), on a free
// port of 127.0.0.1, with AOF on in a temporary directory. Tracked, so it never outlives
// the run (a restart inside a test too, which the per-test tracking would kill at the end
// of that test); stop() and start() stop and restart it on the same port with the same data.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { atEnd, track } from "../processes";

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Stops it (SIGTERM: Redis writes its AOF out first) and waits for the exit. */
  stop(): Promise<void>;
  /** Kills it (SIGKILL: a crash, nothing written out first) and waits for the exit. */
  kill(): Promise<void>;
  /** Freezes it (SIGSTOP), as a hung machine would, and thaws it (SIGCONT). */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** With tls: the self-signed certificate the server presents (a CA file for clients). */
  readonly caFile?: string;
  /** Runs one command through redis-cli. */
  cli(...args: string[]): Promise<string>;
}

export const HAVE_REDIS = Bun.which("redis-server") !== null;

export async function startRedis(
  opts: { password?: string; tls?: boolean; replicaOf?: number } = {},
): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "chat-redis-"));
  atEnd(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  if (opts.tls) selfSigned(cert, key);
  let proc: Subprocess | null = null;
  let port = 0;
  atEnd(() => {
    proc?.kill("SIGKILL");
    proc?.kill("SIGCONT");
  });
  const spawn = async (p: number): Promise<"ready" | "port taken"> => {
    const listen = opts.tls
      ? [
          "--port",
          "0",
          "--tls-port",
          String(p),
          "--tls-cert-file",
          cert,
          "--tls-key-file",
          key,
          "--tls-auth-clients",
          "no",
        ]
      : ["--port", String(p)];
    const args = [
      ...listen,
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      // everysec may answer before the AOF is written (while a background fsync is slow),
      // and the tests kill Redis expecting every accepted write back.
      "always",
      "--save",
      "",
      "--daemonize",
      "no",
      ...(opts.password ? ["--requirepass", opts.password] : []),
      ...(opts.replicaOf ? ["--replicaof", "127.0.0.1", String(opts.replicaOf)] : []),
      // A replica that connects is sent the data at once, not after Redis's default 5 s.
      "--repl-diskless-sync-delay",
      "0",
    ];
    // Not track(): that would kill a restart made inside a test when the test ends.
    const child = Bun.spawn(["redis-server", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const outcome = await readyOrExit(child);
    if (outcome === "ready") proc = child;
    return outcome;
  };
  // A port free a moment ago may be taken before Redis binds it: then another one.
  for (let attempt = 0; ; attempt++) {
    const p = freeLoopbackPort();
    if ((await spawn(p)) === "ready") {
      port = p;
      break;
    }
    if (attempt >= 5) throw new Error("could not find a free port for redis-server");
  }
  const auth = opts.password ? `:${encodeURIComponent(opts.password)}@` : "";
  const cliTls = opts.tls ? ["--tls", "--cacert", cert] : [];
  return {
    port,
    url: `${opts.tls ? "rediss" : "redis"}://${auth}127.0.0.1:${port}`,
    dir,
    ...(opts.tls ? { caFile: cert } : {}),
    async stop() {
      if (!proc) return;
      proc.kill("SIGTERM");
      await proc.exited;
      proc = null;
    },
    pause() {
      proc?.kill("SIGSTOP");
    },
    resume() {
      proc?.kill("SIGCONT");
    },
    async kill() {
      if (!proc) return;
      proc.kill("SIGKILL");
      await proc.exited;
      proc = null;
    },
    async start() {
      const deadline = Date.now() + 10_000;
      // The old process has exited; its port can still be in TIME_WAIT for a moment.
      while ((await spawn(port)) !== "ready") {
        if (Date.now() > deadline) throw new Error(`redis-server did not start again on port ${port}`);
        await Bun.sleep(50);
      }
    },
    async cli(...args: string[]) {
      const p = Bun.spawn(
        [
          "redis-cli",
          "-p",
          String(port),
          ...cliTls,
          ...(opts.password ? ["-a", opts.password, "--no-auth-warning"] : []),
          ...args,
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      track(p);
      const out = await new Response(p.stdout).text();
      await p.exited;
      return out.trim();
    },
  };
}

/** Waits for "Ready to accept connections", or for the process to exit (why, from its log). */
export async function readyOrExit(
  child: Subprocess<"ignore", "pipe", "pipe">,
): Promise<"ready" | "port taken"> {
  const decoder = new TextDecoder();
  let log = "";
  const reader = child.stdout.getReader();
  const guard = setTimeout(() => child.kill("SIGKILL"), 10_000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      log += decoder.decode(value, { stream: true });
      if (log.includes("Ready to accept connections")) {
        // Keep draining its output so that a full pipe never blocks it.
        void (async () => {
          for (;;) if ((await reader.read()).done) break;
        })();
        return "ready";
      }
    }
  } finally {
    clearTimeout(guard);
  }
  await child.exited;
  if (/Address already in use/i.test(log)) return "port taken";
  throw new Error(
    `redis-server exited with ${child.exitCode}:\n${log}${await new Response(child.stderr).text()}`,
  );
}

/** A self-signed certificate for 127.0.0.1 and localhost (openssl, as the TLS tests use). */
function selfSigned(cert: string, key: string): void {
  const r = Bun.spawnSync(
    [
      ...["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
      ...["-keyout", key, "-out", cert, "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`openssl failed: ${r.stderr.toString()}`);
}

function freeLoopbackPort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}
