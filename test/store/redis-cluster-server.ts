// A real Redis Cluster for tests: three redis-server masters (cluster-enabled, AOF on with
// appendfsync always, each in its own temporary directory, on free loopback ports whose
// cluster-bus port, port + 10000, is free too), joined by `redis-cli --cluster create`.
// Every process is killed at the end of the run; node(i).kill() and start() crash and
// restart one master on its port with its data.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { atEnd, track } from "../processes";
import { readyOrExit } from "./redis-server";

export interface ClusterNode {
  readonly port: number;
  kill(): Promise<void>;
  start(): Promise<void>;
}

export interface RedisCluster {
  /** A seed URL (the first master). */
  readonly url: string;
  readonly nodes: readonly ClusterNode[];
  /** Runs redis-cli against the first master (with -c: follows redirections). */
  cli(...args: string[]): Promise<string>;
  /** FLUSHALL on every master. */
  flush(): Promise<void>;
}

export const HAVE_REDIS_CLUSTER = Bun.which("redis-server") !== null && Bun.which("redis-cli") !== null;

export async function startRedisCluster(
  masters = 3,
  opts: { password?: string } = {},
): Promise<RedisCluster> {
  const auth = opts.password ? ["-a", opts.password, "--no-auth-warning"] : [];
  const root = mkdtempSync(join(tmpdir(), "chat-rcluster-"));
  atEnd(() => rmSync(root, { recursive: true, force: true }));
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < masters; i++) nodes.push(await startNode(join(root, `n${i}`), opts.password));
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  const create = await run([
    "redis-cli",
    ...auth,
    "--cluster",
    "create",
    ...addresses,
    "--cluster-replicas",
    "0",
    "--cluster-yes",
  ]);
  if (create.code !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.out}`);
  await waitClusterOk(
    nodes.map((n) => n.port),
    auth,
  );
  return {
    url: `redis://${opts.password ? `:${encodeURIComponent(opts.password)}@` : ""}127.0.0.1:${nodes[0]!.port}`,
    nodes,
    async cli(...args: string[]) {
      return (await run(["redis-cli", ...auth, "-c", "-p", String(nodes[0]!.port), ...args])).out.trim();
    },
    async flush() {
      for (const n of nodes) await run(["redis-cli", ...auth, "-p", String(n.port), "FLUSHALL"]);
    },
  };
}

/** Waits until every node reports cluster_state:ok (the slots are assigned and agreed on). */
export async function waitClusterOk(
  ports: readonly number[],
  auth: readonly string[] = [],
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    for (;;) {
      const info = (await run(["redis-cli", ...auth, "-p", String(port), "CLUSTER", "INFO"])).out;
      if (info.includes("cluster_state:ok")) break;
      if (Date.now() > deadline) throw new Error(`the cluster node on ${port} is not ok:\n${info}`);
      await Bun.sleep(100);
    }
  }
}

async function startNode(dir: string, password?: string): Promise<ClusterNode> {
  mkdirSync(dir, { recursive: true });
  let proc: Subprocess | null = null;
  atEnd(() => {
    proc?.kill("SIGKILL");
  });
  const spawn = async (port: number): Promise<"ready" | "port taken"> => {
    // Not track(): that would kill a restart made inside a test when the test ends.
    const child = Bun.spawn(
      [
        "redis-server",
        ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir],
        ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
        ...["--cluster-node-timeout", "5000", "--appendonly", "yes", "--appendfsync", "always"],
        ...["--save", "", "--daemonize", "no"],
        ...(password ? ["--requirepass", password, "--masterauth", password] : []),
      ],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    const outcome = await readyOrExit(child);
    if (outcome === "ready") proc = child;
    return outcome;
  };
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    const p = freePortWithBus();
    if ((await spawn(p)) === "ready") {
      port = p;
      break;
    }
    if (attempt >= 10) throw new Error("could not find free ports for a Redis Cluster node");
  }
  return {
    port,
    async kill() {
      if (!proc) return;
      proc.kill("SIGKILL");
      await proc.exited;
      proc = null;
    },
    async start() {
      const deadline = Date.now() + 10_000;
      while ((await spawn(port)) !== "ready") {
        if (Date.now() > deadline) throw new Error(`redis-server did not start again on port ${port}`);
        await Bun.sleep(50);
      }
    },
  };
}

async function run(cmd: string[]): Promise<{ code: number; out: string }> {
  const p = track(Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out: out + err };
}

/** A free loopback port below 55535 whose cluster-bus port (port + 10000) is free as well. */
function freePortWithBus(): number {
  for (let i = 0; i < 50; i++) {
    const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = l.port;
    l.stop(true);
    if (port + 10000 > 65535) continue;
    try {
      Bun.listen({ hostname: "127.0.0.1", port: port + 10000, socket: { data() {} } }).stop(true);
      return port;
    } catch {}
  }
  throw new Error("no free port pair for a Redis Cluster node");
}
