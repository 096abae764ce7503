// `chat bench`: its options.

import { defineCommand } from "citty";
import { type BenchRun, WORKLOADS, type Workload } from "../bench/run";
import type { BenchNode } from "../bench/target";
import { TRANSPORTS } from "../bench/transport";
import { parseServerList } from "../client/servers";
import { integer, oneOf, port, UsageError } from "./parse";

export const benchArgs = {
  workload: {
    type: "positional",
    required: false,
    description: `What to run: ${WORKLOADS.join(", ")} (default relay)`,
  },
  pairs: { type: "string", description: "relay/offline: sender→receiver pairs (default 50; offline 1)" },
  window: { type: "string", description: "relay/offline: unanswered messages per sender (default 64)" },
  payload: { type: "string", description: "Message length in characters, 32-100 (default 64)" },
  warmup: { type: "string", description: "relay: seconds before measuring (default 1)" },
  duration: { type: "string", description: "relay: seconds measured (default 5)" },
  count: { type: "string", description: "relay: messages per sender instead of a timed run" },
  conns: { type: "string", description: "conns/login: clients (default 10000 for conns, 1000 for login)" },
  conc: { type: "string", description: "conns/login: connections being set up at once (default 50)" },
  idle: {
    type: "string",
    description: "relay: idle logged-in clients connected besides the pairs (default 0)",
  },
  messages: { type: "string", description: "offline: messages to queue (default 100000)" },
  "msg-ids": {
    type: "boolean",
    default: true,
    description:
      "relay/offline: give every SEND a client_msg_id as the real client does; --no-msg-ids measures without (default on)",
  },
  host: {
    type: "string",
    multiple: true,
    description:
      "Measure an already running server instead of starting one; several nodes of one service as host:port, comma-separated or repeated (senders and their receivers on different nodes)",
  },
  port: { type: "string", description: "Port of the --host servers given without one (default 8080)" },
  pid: {
    type: "string",
    multiple: true,
    description: "Process id of each --host server, in the same order, to report its CPU and memory",
  },
  transport: {
    type: "string",
    description:
      "tcp, or ws: the protocol over WebSocket to the web port's /ws (a started server gets --web-port; with --host, give the web ports) (default tcp)",
  },
  data: {
    type: "string",
    description: "The started server's store: a file path, or :memory: (default: a fresh file)",
  },
  sync: {
    type: "string",
    description: "The started server's --sync: normal or full (default normal, as chat serve)",
  },
  "server-arg": {
    type: "string",
    multiple: true,
    description:
      "One more option for the started server, e.g. --server-arg=--delivery-window=512 (repeatable)",
  },
  label: { type: "string", description: "Name recorded in the output (default chat)" },
  json: { type: "boolean", description: "Print one JSON object instead of a table" },
  "max-seconds": { type: "string", description: "Hard time limit for the whole run (default 300)" },
} as const;

type Args = Record<string, string | boolean | string[] | undefined>;

export function benchOptions(a: Args): BenchRun {
  const s = (k: string) => (typeof a[k] === "string" ? (a[k] as string) : undefined);
  const workload = oneOf("WORKLOAD", s("workload"), WORKLOADS, "relay") as Workload;
  const serverArgs =
    a["server-arg"] === undefined ? [] : ([] as string[]).concat(a["server-arg"] as string | string[]);
  return {
    workload,
    pairs: integer("pairs", s("pairs"), workload === "offline" ? 1 : 50, 1, 10_000),
    window: integer("window", s("window"), 64, 1, 100_000),
    payload: integer("payload", s("payload"), 64, 32, 100),
    warmupS: integer("warmup", s("warmup"), 1, 0, 3600),
    durationS: integer("duration", s("duration"), 5, 1, 3600),
    count: integer("count", s("count"), 0, 0),
    conns: integer("conns", s("conns"), workload === "login" ? 1000 : 10_000, 1, 100_000),
    conc: integer("conc", s("conc"), 50, 1, 10_000),
    idle: integer("idle", s("idle"), 0, 0, 100_000),
    messages: integer("messages", s("messages"), 100_000, 1, 100_000_000),
    msgIds: a["msg-ids"] !== false,
    ...(list(a.host) ? { nodes: nodesOf(list(a.host)!, s("port"), list(a.pid)) } : {}),
    transport: oneOf("transport", s("transport"), TRANSPORTS, "tcp"),
    data: s("data") ?? "",
    sync: oneOf("sync", s("sync"), ["full", "normal"] as const, "normal"),
    serverArgs,
    label: s("label") ?? "chat",
    json: a.json === true,
    maxSeconds: integer("max-seconds", s("max-seconds"), 300, 10, 86_400),
    progress: () => {},
  };
}

/** A repeatable option's values joined into one comma-separated list (undefined if absent). */
function list(v: string | boolean | string[] | undefined): string | undefined {
  if (v === undefined || typeof v === "boolean") return undefined;
  return ([] as string[]).concat(v).join(",");
}

function nodesOf(hosts: string, portText: string | undefined, pidList: string | undefined): BenchNode[] {
  let servers: { host: string; port: number }[];
  try {
    servers = parseServerList(hosts, port("--port", portText, 8080), "--host");
  } catch (error) {
    throw new UsageError((error as Error).message, "host");
  }
  const pids = pidList === undefined ? [] : pidList.split(",").map((p) => integer("pid", p.trim(), 0, 1));
  if (pids.length > servers.length)
    throw new UsageError(`--pid: ${pids.length} process ids for ${servers.length} --host servers`, "pid");
  return servers.map((s, i) => ({ ...s, pid: pids[i] ?? 0 }));
}

export default defineCommand({
  meta: { name: "bench", description: "Load-test a chat server: throughput, latency, memory per connection" },
  args: benchArgs,
  async run({ args }) {
    const { runBench } = await import("../bench/run");
    return runBench(benchOptions(args as Args));
  },
});
