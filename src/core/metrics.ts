// Counters for `--metrics-port`, rendered in the Prometheus text format.

import { statusName } from "../wire";
import type { ProcessSample } from "./process-sample";

/** Upper bounds (seconds) of the request-latency histogram buckets. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class Metrics {
  connectionsOpened = 0;
  /** Frames received (any kind): the server's activity. */
  frames = 0;
  connections = 0;
  sessions = 0;
  messagesAccepted = 0;
  messagesPushed = 0;
  messagesConfirmed = 0;
  messagesQueued = 0;
  heartbeatTimeouts = 0;
  ackTimeouts = 0;
  loginsFailed = 0;
  receiptsStored = 0;
  receiptsPushed = 0;
  receiptsConfirmed = 0;
  receiptsDropped = 0;
  private errors = new Map<number, number>();
  private latencyCounts = new Float64Array(LATENCY_BUCKETS.length + 1);
  private latencySum = 0;
  private latencyN = 0;
  /** Filled in by the server when rendering: messages waiting in all queues. */
  queueDepth: () => number = () => 0;
  /** Filled in by the server: the process_* metrics, and the version for chat_build_info. */
  process: (() => ProcessSample) | undefined;
  version = "";

  error(status: number): void {
    this.errors.set(status, (this.errors.get(status) ?? 0) + 1);
  }

  /** Records one request's time from arrival to answer. */
  latency(ms: number): void {
    const s = ms / 1000;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && s > LATENCY_BUCKETS[i]!) i++;
    this.latencyCounts[i]!++;
    this.latencySum += s;
    this.latencyN++;
  }

  render(): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const one = (name: string, type: string, help: string, v: number) =>
      metric(name, type, help, [`${name} ${v}`]);
    one("chat_connections", "gauge", "Open client connections.", this.connections);
    one("chat_connections_opened_total", "counter", "Client connections accepted.", this.connectionsOpened);
    one("chat_sessions", "gauge", "Logged-in sessions.", this.sessions);
    one(
      "chat_messages_accepted_total",
      "counter",
      "Messages stored and acknowledged to their sender.",
      this.messagesAccepted,
    );
    one(
      "chat_messages_queued_total",
      "counter",
      "Accepted messages whose recipient was offline.",
      this.messagesQueued,
    );
    one(
      "chat_messages_pushed_total",
      "counter",
      "Messages handed to a recipient's client (pushed or checked).",
      this.messagesPushed,
    );
    one(
      "chat_messages_delivered_total",
      "counter",
      "Messages confirmed by the recipient's client.",
      this.messagesConfirmed,
    );
    one("chat_queue_depth", "gauge", "Messages waiting in all queues.", this.queueDepth());
    one(
      "chat_heartbeat_timeouts_total",
      "counter",
      "Connections dropped after missed heartbeats.",
      this.heartbeatTimeouts,
    );
    one(
      "chat_ack_timeouts_total",
      "counter",
      "Connections dropped for not confirming deliveries.",
      this.ackTimeouts,
    );
    one("chat_logins_failed_total", "counter", "Failed login attempts.", this.loginsFailed);
    one(
      "chat_receipts_stored_total",
      "counter",
      "Delivery receipts stored for senders.",
      this.receiptsStored,
    );
    one("chat_receipts_pushed_total", "counter", "Delivery receipts pushed to senders.", this.receiptsPushed);
    one(
      "chat_receipts_confirmed_total",
      "counter",
      "Delivery receipts confirmed by their senders' clients.",
      this.receiptsConfirmed,
    );
    one(
      "chat_receipts_dropped_total",
      "counter",
      "Delivery receipts dropped: their sender had max-receipts waiting.",
      this.receiptsDropped,
    );
    metric(
      "chat_errors_total",
      "counter",
      "Error responses and notices, by status.",
      [...this.errors].map(([s, n]) => `chat_errors_total{status="${statusName(s)}"} ${n}`),
    );
    let cumulative = 0;
    const buckets = LATENCY_BUCKETS.map((le, i) => {
      cumulative += this.latencyCounts[i]!;
      return `chat_request_duration_seconds_bucket{le="${le}"} ${cumulative}`;
    });
    cumulative += this.latencyCounts[LATENCY_BUCKETS.length]!;
    metric("chat_request_duration_seconds", "histogram", "Time from a request's arrival to its answer.", [
      ...buckets,
      `chat_request_duration_seconds_bucket{le="+Inf"} ${cumulative}`,
      `chat_request_duration_seconds_sum ${this.latencySum}`,
      `chat_request_duration_seconds_count ${this.latencyN}`,
    ]);
    if (this.version)
      metric("chat_build_info", "gauge", "Always 1; the server's version is its label.", [
        `chat_build_info{version="${labelValue(this.version)}"} 1`,
      ]);
    const p = this.process?.();
    if (p) {
      one(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        p.cpuSeconds,
      );
      one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.residentBytes);
      if (p.virtualBytes !== undefined)
        one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.virtualBytes);
      if (p.openFds !== undefined)
        one("process_open_fds", "gauge", "Number of open file descriptors.", p.openFds);
      if (p.maxFds !== undefined)
        one("process_max_fds", "gauge", "Maximum number of open file descriptors.", p.maxFds);
      one(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        p.startTimeSeconds,
      );
    }
    return `${out.join("\n")}\n`;
  }
}

/** A label value in the text format: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
