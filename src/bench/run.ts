// `chat bench`: start (or target) a server, run one workload, report.

import { describeError } from "../core/chat";
import { DEFAULT_OPTIONS } from "../core/options";
import { VERSION } from "../version";
import { type BenchNode, startOwnServer, type Target } from "./target";
import type { Transport } from "./transport";
import { type BenchOptions, conns, login, offline, type Result, relay } from "./workloads";

export const WORKLOADS = ["relay", "light", "conns", "offline", "login"] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchRun extends BenchOptions {
  workload: Workload;
  /**
   * Servers already running (from --host/--port, --pid): one, or the nodes of one service.
   * Without them the bench starts its own.
   */
  nodes?: BenchNode[];
  transport: Transport;
  data: string;
  sync: "full" | "normal";
  json: boolean;
  label: string;
  serverArgs: string[];
}

/** Resolves with the exit code. */
export async function runBench(o: BenchRun): Promise<number> {
  const quietProgress = o.json || !process.stderr.isTTY;
  const progress = (line: string) => {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}`);
    else if (!quietProgress) process.stderr.write(`${line}\n`);
  };
  const opts: BenchOptions = { ...o, progress, ...(o.workload === "light" ? { pairs: 1, window: 1 } : {}) };
  const run = { relay, light: relay, conns, offline, login }[o.workload];
  let target: Target;
  try {
    target = o.nodes?.length
      ? { nodes: o.nodes, transport: o.transport, stop: async () => {} }
      : await startOwnServer({
          transport: o.transport,
          data: o.data,
          sync: o.sync,
          realPasswordCost: o.workload === "login",
          connections: o.workload === "conns" || o.workload === "login" ? o.conns : o.pairs * 2 + o.idle,
          extraArgs: [...ownServerLimits(o), ...o.serverArgs],
        });
  } catch (error) {
    console.error(`bench: cannot start the server: ${describeError(error)}`);
    return 1;
  }
  const hard = setTimeout(() => {
    console.error(`bench: hard deadline of ${o.maxSeconds} s reached`);
    void target.stop().finally(() => process.kill(process.pid, "SIGKILL"));
  }, o.maxSeconds * 1000);
  let result: Result;
  try {
    result = await run(target, opts);
  } catch (error) {
    result = { error: describeError(error) };
  } finally {
    clearTimeout(hard);
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
    await target.stop();
  }
  const params: Result =
    o.workload === "conns" || o.workload === "login"
      ? { conns: o.conns, conc: o.conc }
      : o.workload === "offline"
        ? {
            messages: o.messages,
            pairs: opts.pairs,
            window: opts.window,
            payload: o.payload,
            msg_ids: o.msgIds,
          }
        : {
            pairs: opts.pairs,
            window: opts.window,
            payload: o.payload,
            msg_ids: o.msgIds,
            idle: o.idle,
            ...(o.count ? { count: o.count } : { warmup_s: o.warmupS, duration_s: o.durationS }),
          };
  const line: Result = {
    time: new Date().toISOString(),
    label: o.label,
    workload: o.workload,
    chat: VERSION,
    bun: Bun.version,
    transport: o.transport,
    store: o.nodes?.length ? "remote" : o.data === ":memory:" ? "memory" : `sqlite sync=${o.sync}`,
    ...params,
    ...result,
  };
  if (o.json) console.log(JSON.stringify(line));
  else printTable(line);
  return "error" in result ? 1 : 0;
}

/**
 * Limits the started server needs raised for a workload, as the peers' configuration raises
 * Mosquitto's queue limit: the offline test queues every message for one recipient, and
 * sends them all over one connection as fast as the window allows.
 */
function ownServerLimits(o: BenchRun): string[] {
  // A window wider than the server's default of unanswered SENDs with ids needs it raised.
  const unanswered =
    o.msgIds && o.window > DEFAULT_OPTIONS.maxUnansweredSends
      ? ["--max-unanswered-sends", String(o.window)]
      : [];
  // Every bench client connects from one address: give it the whole server, not one share.
  const perAddress = ["--request-rate-per-address", "100000000", "--request-burst-per-address", "100000000"];
  if (o.workload !== "offline") return [...unanswered, ...perAddress];
  const rate = String(Math.max(1_000_000, o.messages));
  return [
    ...unanswered,
    ...perAddress,
    "--max-queued",
    String(Math.max(10_000, o.messages)),
    "--max-queued-per-sender",
    String(Math.max(10_000, o.messages)),
    "--request-rate",
    rate,
    "--request-burst",
    rate,
  ];
}

function printTable(line: Result): void {
  const width = Math.max(...Object.keys(line).map((k) => k.length));
  for (const [k, v] of Object.entries(line)) {
    const shown = typeof v === "number" ? v.toLocaleString("en") : String(v);
    console.log(`${k.padEnd(width)}  ${shown}`);
  }
}
