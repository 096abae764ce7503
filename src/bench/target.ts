// The server under test: one started by the bench itself (this same program in another
// process, so its CPU and memory are measured apart), or the nodes given by --host/--port.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { Transport } from "./transport";

/** One server the clients connect to (its TCP port, or its web port for WebSocket). */
export interface BenchNode {
  host: string;
  port: number;
  /** 0 when unknown (no CPU/memory figures for it). */
  pid: number;
}

export interface Target {
  /** One node, or several acting as one service; clients are spread over them. */
  nodes: BenchNode[];
  transport: Transport;
  stop(): Promise<void>;
}

export interface OwnServerOptions {
  /** ":memory:" or "" for a fresh data file in a temporary directory. */
  data: string;
  sync: "full" | "normal";
  /** Production password hashing (for the login workload) instead of a cheap one. */
  realPasswordCost: boolean;
  connections: number;
  extraArgs: string[];
  /** "ws": also serve --web-port, and connect the clients there. */
  transport: Transport;
}

/** argv that runs this program: the compiled binary, or bun with the entry script. */
function self(): string[] {
  const entry = Bun.main;
  return entry.endsWith(".ts") || entry.endsWith(".js") ? [process.execPath, entry] : [process.execPath];
}

export async function startOwnServer(o: OwnServerOptions): Promise<Target> {
  const dir = o.data ? "" : mkdtempSync(join(tmpdir(), "chat-bench-"));
  const data = o.data || join(dir, "bench.db");
  const port = freePort();
  const webPort = o.transport === "ws" ? freePort() : 0;
  const args = [
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--data",
    data,
    "--sync",
    o.sync,
    "--log-level",
    "warn",
    // The load comes from one address and makes thousands of accounts: raise the per-address limits.
    "--max-connections",
    String(o.connections + 1000),
    "--max-connections-per-address",
    String(o.connections + 1000),
    "--accounts-per-address",
    "1000000",
    "--login-failures-per-address",
    "1000000",
    ...(o.realPasswordCost ? [] : ["--argon2-memory-kib", "256", "--argon2-time", "1"]),
    ...(webPort ? ["--web-port", String(webPort)] : []),
    ...o.extraArgs,
  ];
  const proc = Bun.spawn([...self(), ...args], {
    stdin: "ignore",
    stdout: "inherit",
    stderr: "inherit",
    env: { ...process.env, NO_COLOR: "1" },
  });
  await untilListening(port, proc);
  if (webPort) await untilListening(webPort, proc);
  return {
    nodes: [{ host: "127.0.0.1", port: webPort || port, pid: proc.pid }],
    transport: o.transport,
    async stop() {
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited, Bun.sleep(5000).then(() => null)]);
      if (exited === null) proc.kill("SIGKILL");
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port nobody listens on right now (the server binds it a moment later). */
function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** Waits (bounded) until the server accepts connections; fails if it exits first. */
async function untilListening(port: number, proc: Subprocess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`the bench server exited with ${proc.exitCode}`);
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return;
    } catch {
      await Bun.sleep(20);
    }
  }
  proc.kill("SIGKILL");
  throw new Error("the bench server did not start listening within 15 s");
}
