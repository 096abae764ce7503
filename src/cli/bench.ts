// `chat bench`: its options.

import { defineCommand } from "citty";
import { type BenchRun, WORKLOADS, type Workload } from "../bench/run";
import { integer, oneOf, port } from "./parse";

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
  host: { type: "string", description: "Measure an already running server instead of starting one" },
  port: { type: "string", description: "Port of that server" },
  pid: { type: "string", description: "Process id of that server, to report its CPU and memory" },
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
    ...(s("host")
      ? { host: s("host")!, port: port("--port", s("port"), 8080), pid: integer("pid", s("pid"), 0) }
      : {}),
    data: s("data") ?? "",
    sync: oneOf("sync", s("sync"), ["full", "normal"] as const, "normal"),
    serverArgs,
    label: s("label") ?? "chat",
    json: a.json === true,
    maxSeconds: integer("max-seconds", s("max-seconds"), 300, 10, 86_400),
    progress: () => {},
  };
}

export default defineCommand({
  meta: { name: "bench", description: "Load-test a chat server: throughput, latency, memory per connection" },
  args: benchArgs,
  async run({ args }) {
    const { runBench } = await import("../bench/run");
    return runBench(benchOptions(args as Args));
  },
});
