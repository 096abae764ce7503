// `chat connect [host] [port]`: its options.

import { readFileSync } from "node:fs";
import { defineCommand } from "citty";
import type { ClientOptions } from "../client";
import { parseServerList } from "../client/servers";
import { duration, integer, port, UsageError } from "./parse";

export const connectArgs = {
  host: {
    type: "positional",
    required: false,
    description:
      "Server host name or address, or several comma-separated (host1:8080,host2:8080, [::1]:8080), tried in turn with every address of each name, for the first connection and after a lost one (default localhost)",
  },
  port: {
    type: "positional",
    required: false,
    description: "Server port, for the servers given without one (default 8080)",
  },
  json: { type: "boolean", description: "Print one JSON object per event (for scripts)" },
  follow: {
    type: "boolean",
    description: "Keep printing messages after the end of input, until SIGINT or SIGTERM (exit 0)",
  },
  color: {
    type: "string",
    description: "Colour: always, never or auto (default auto: a terminal without NO_COLOR)",
  },
  tls: { type: "boolean", description: "Connect with TLS, verifying the server's certificate" },
  ca: { type: "string", description: "PEM file of a CA (or self-signed certificate) to trust for --tls" },
  insecure: { type: "boolean", description: "With --tls, do not verify the certificate (testing only)" },
  reconnect: {
    type: "boolean",
    default: true,
    description: "Reconnect (and resume the session) when the connection drops",
    negativeDescription: "Report a lost connection and exit 1 instead of reconnecting",
  },
  "give-up-after": {
    type: "string",
    description: "Stop reconnecting after this long without success, then exit 1 (default 60s)",
  },
  heartbeat: { type: "string", description: "Ping the server after this long without sending (default 15s)" },
  "heartbeat-misses": {
    type: "string",
    description: "Take the server as dead after this many silent heartbeat intervals (default 3)",
  },
  "connect-timeout": {
    type: "string",
    description: "Give up a connection attempt after this long (default 5s)",
  },
} as const;

type Args = Record<string, string | boolean | undefined>;

export function clientOptions(a: Args): ClientOptions {
  const s = (k: string) => (typeof a[k] === "string" ? (a[k] as string) : undefined);
  const tls = a.tls === true || s("ca") !== undefined;
  if (a.insecure && !tls) throw new UsageError("--insecure only makes sense with --tls");
  let ca: string | undefined;
  if (s("ca")) {
    try {
      ca = readFileSync(s("ca")!, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read --ca ${s("ca")}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  }
  const servers = serverList(s("host") || "localhost", port("port", s("port"), 8080));
  return {
    host: servers[0]!.host,
    port: servers[0]!.port,
    ...(servers.length > 1 ? { servers } : {}),
    json: a.json === true,
    follow: a.follow === true,
    color: colorChoice(s("color")),
    ...(tls ? { tls: { insecure: a.insecure === true, ...(ca ? { ca } : {}) } } : {}),
    reconnect: a.reconnect !== false,
    giveUpAfterMs: duration("give-up-after", s("give-up-after"), 60_000),
    heartbeatMs: duration("heartbeat", s("heartbeat"), 15_000),
    heartbeatMisses: integer("heartbeat-misses", s("heartbeat-misses"), 3, 1, 100),
    connectTimeoutMs: duration("connect-timeout", s("connect-timeout"), 5000),
    maxFrameBytes: 4 * 1024 * 1024,
  };
}

function serverList(hosts: string, defaultPort: number): ClientOptions["servers"] & object {
  try {
    return parseServerList(hosts, defaultPort, "HOST");
  } catch (error) {
    throw new UsageError((error as Error).message, "HOST");
  }
}

function colorChoice(v: string | undefined): ClientOptions["color"] {
  if (v === undefined) return "auto";
  if (v === "always" || v === "never" || v === "auto") return v;
  throw new UsageError(`--color wants always, never or auto; got ${JSON.stringify(v)}`);
}

export default defineCommand({
  meta: {
    name: "connect",
    description:
      "Connect to a chat server: interactive on a terminal, line by line otherwise. Exit status: 0 all commands succeeded, 3 one failed, 1 server lost or unreachable, 2 usage error",
  },
  args: connectArgs,
  async run({ args }) {
    const { runClient } = await import("../client");
    return runClient(clientOptions(args as Args));
  },
});
