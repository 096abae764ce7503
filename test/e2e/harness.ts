// Real processes for end-to-end tests: the compiled binary as server and clients, and a
// raw protocol client. Every wait is on an event with a deadline; every process started
// here is killed when the test file ends.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import {
  decodeReply,
  encodeFrame,
  encodeRequest,
  FrameDecoder,
  Op,
  Push,
  type Reply,
  type RequestInit,
  type WireMessage,
} from "../../src/wire";
import { atEnd, freeze as freezeProcess, track } from "../processes";

export const BIN = resolve(import.meta.dir, "../../dist/chat");

/** Nodes of one service in a test: cheap hashes and no per-address budgets to speak of (every client is 127.0.0.1). */
export const CLUSTER_NODE_ARGS = [
  "--argon2-memory-kib",
  "64",
  "--argon2-time",
  "1",
  "--accounts-per-address",
  "100000",
  "--request-rate-per-address",
  "100000",
  "--request-burst-per-address",
  "100000",
];

/** Freezes a client process (SIGSTOP), as a hung machine would; it is killed after the test. */
export function freeze(c: { proc: Subprocess }): void {
  freezeProcess(c.proc);
}

/**
 * Runs the binary to completion: its exit code and everything it printed. One that has not
 * exited after timeoutMs (a server that started when it was expected to refuse) is killed.
 */
export async function runChat(args: string[], opts: { prefix?: string[]; timeoutMs?: number } = {}) {
  const p = track(
    Bun.spawn([...(opts.prefix ?? []), BIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }),
  );
  const guard = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  clearTimeout(guard);
  return { code, out, err };
}

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "chat-test-"));
  atEnd(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Lines of a stream, with waits on them. */
class Lines {
  readonly all: string[] = [];
  private waiters: (() => void)[] = [];
  ended = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    void this.pump(stream);
  }

  private async pump(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const p of parts) this.all.push(p);
      this.wake();
    }
    if (rest) this.all.push(rest);
    this.ended = true;
    this.wake();
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first line (from index `from`) matching pred; rejects on timeout or end of stream. */
  async find(pred: (line: string) => boolean, what: string, timeoutMs = 10_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.all.slice(from).find(pred);
      if (hit !== undefined) return hit;
      if (this.ended) throw new Error(`stream ended without ${what}; got:\n${this.all.join("\n")}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got:\n${this.all.join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

export interface ChatServer {
  port: number;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  dataFile: string;
  out: Lines;
  err: Lines;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/**
 * Starts `chat serve` on a free port of 127.0.0.1 with a fresh data file unless args say otherwise.
 * prefix runs it through another command (e.g. sh -c 'ulimit -n 256; exec "$@"' sh).
 */
export async function startServer(
  args: string[] = [],
  dataFile?: string,
  opts: { prefix?: string[] } = {},
): Promise<ChatServer> {
  const data = dataFile ?? join(tempDir(), "chat.db");
  const server = spawnServer(["--port", "0", ...args], data, opts.prefix);
  const { proc, out, err } = server;
  const line = await Promise.race([
    out.find((l) => /listening on port \d+/.test(l), "the listening line"),
    proc.exited.then(async (code) => {
      await Bun.sleep(50);
      throw new Error(`server exited with ${code}:\n${[...out.all, ...err.all].join("\n")}`);
    }),
  ]);
  server.port = Number(/listening on port (\d+)/.exec(line)![1]);
  return server;
}

/** `chat serve` on 127.0.0.1 with the data file and extra args; port 0 until known. */
function spawnServer(args: string[], data: string, prefix: string[] = []): ChatServer {
  const argv = [...prefix, BIN, "serve", "--host", "127.0.0.1", "--data", data, ...args];
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  track(proc);
  return {
    port: 0,
    proc,
    dataFile: data,
    out: new Lines(proc.stdout),
    err: new Lines(proc.stderr),
    async stop(signal = "SIGTERM") {
      proc.kill(signal);
      return proc.exited;
    },
  };
}

/** A JSON event printed by `chat connect --json`. */
export type Event = Record<string, unknown> & { type: string };

export interface ChatClient {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  events: Event[];
  /** Writes lines to the client's stdin. */
  say(...lines: string[]): void;
  /** The first event from index `from` on that matches. */
  waitFor(pred: (e: Event) => boolean, what: string, timeoutMs?: number, from?: number): Promise<Event>;
  /** The next reply to `command` (after the replies already seen). */
  reply(command: string, timeoutMs?: number): Promise<Event>;
  end(): void;
  exited: Promise<number>;
  out: Lines;
  err: Lines;
}

/** Starts `chat connect --json` against port (or a HOST argument such as "h1:1,h2:2"), driven through stdin. */
export function startClient(port: number | string, args: string[] = []): ChatClient {
  const target = typeof port === "number" ? ["127.0.0.1", String(port)] : [port];
  const proc = Bun.spawn([BIN, "connect", ...target, "--json", ...args], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  track(proc);
  const out = new Lines(proc.stdout);
  const err = new Lines(proc.stderr);
  const seen = new Map<string, number>();
  const parse = (l: string): Event | null => {
    try {
      return JSON.parse(l) as Event;
    } catch {
      return null;
    }
  };
  const client: ChatClient = {
    proc,
    out,
    err,
    get events() {
      return out.all.map(parse).filter((e): e is Event => e !== null);
    },
    say(...lines) {
      proc.stdin.write(`${lines.join("\n")}\n`);
      proc.stdin.flush();
    },
    async waitFor(pred, what, timeoutMs = 10_000, from = 0) {
      const line = await out.find(
        (l) => {
          const e = parse(l);
          return e !== null && pred(e);
        },
        what,
        timeoutMs,
        from,
      );
      return parse(line)!;
    },
    async reply(command, timeoutMs = 10_000) {
      const n = seen.get(command) ?? 0;
      const nth = () => client.events.filter((e) => e.type === "reply" && e.command === command)[n];
      await out.find(() => nth() !== undefined, `reply #${n + 1} to ${command}`, timeoutMs);
      seen.set(command, n + 1);
      return nth()!;
    },
    end() {
      proc.stdin.end();
    },
    exited: proc.exited,
  };
  return client;
}

/** A client logged in as name (created first if needed). */
export async function loggedIn(port: number, name: string, password = "correct horse", args: string[] = []) {
  const c = startClient(port, args);
  c.say(`/create ${name}`, password);
  // A name the client knows is taken is refused before the password: an error, not a reply.
  const created = await c.waitFor(
    (e) => e.command === "create" && (e.type === "reply" || e.type === "error"),
    `the answer to /create ${name}`,
  );
  if (created.type === "reply" && created.ok) await c.reply("login");
  else {
    c.say(`/login ${name}`, password);
    const r = await c.reply("login");
    if (!r.ok) throw new Error(`login as ${name} failed: ${JSON.stringify(r)}`);
  }
  return c;
}

/** A protocol-level client for what `chat connect` would never send. */
export class RawClient {
  readonly frames: Reply[] = [];
  private readonly decoder = new FrameDecoder(16 * 1024 * 1024);
  private waiters: (() => void)[] = [];
  private nextId = 1;
  closed = false;
  socket!: Awaited<ReturnType<typeof Bun.connect>>;

  static async open(port: number): Promise<RawClient> {
    const c = await RawClient.dial(port);
    await c.next((r) => r.opcode === 104, "HELLO");
    return c;
  }

  /** Connects without waiting for HELLO: for connections the server may refuse at once. */
  static async dial(port: number): Promise<RawClient> {
    const c = new RawClient();
    c.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, d) => {
          for (const f of c.decoder.push(d)) c.frames.push(decodeReply(f));
          c.wake();
        },
        close: () => {
          c.closed = true;
          c.wake();
        },
        error: () => {
          c.closed = true;
          c.wake();
        },
      },
    });
    return c;
  }

  /** The messages pushed to it so far (DELIVER pushes), in the order they came. */
  delivered(): WireMessage[] {
    return this.frames.filter((f) => f.opcode === Push.DELIVER).flatMap((f) => f.messages);
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends a request (version and request id filled in) and waits for its answer. */
  async request(init: RequestInit): Promise<Reply> {
    const requestId = this.nextId++;
    this.write(encodeFrame(encodeRequest({ requestId, ...init })));
    return this.next((r) => r.requestId === requestId && r.opcode < 100, `answer to request ${requestId}`);
  }

  async next(pred: (r: Reply) => boolean, what: string, timeoutMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`connection closed without ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Resolves when the server has closed the connection. */
  async whenClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("the server did not close the connection");
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async login(name: string, password = "correct horse"): Promise<Reply> {
    await this.request({ opcode: Op.CREATE_ACCOUNT, sender: name, password });
    return this.request({ opcode: Op.LOG_IN, sender: name, password });
  }

  close(): void {
    this.socket.end();
  }
}

/** Resident memory of a process in KiB (VmRSS in /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]);
}

/**
 * A line of the server's output on either stream: in text format consola writes warnings
 * and errors (dead peers, limits) to stderr and the rest to stdout.
 */
export async function serverLine(
  server: ChatServer,
  pred: (line: string) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<string> {
  try {
    return await Promise.any([
      server.out.find(pred, what, timeoutMs),
      server.err.find(pred, what, timeoutMs),
    ]);
  } catch (error) {
    throw (error as AggregateError).errors[0];
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/**
 * Like startServer, for options that hide the listening line (--log-level warn): the port
 * is chosen here, and the server is ready once it accepts a connection.
 */
export async function startQuietServer(args: string[] = []): Promise<ChatServer> {
  const port = freePort();
  const server = spawnServer(["--port", String(port), ...args], join(tempDir(), "chat.db"));
  server.port = port;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      (await RawClient.open(port)).close();
      return server;
    } catch (error) {
      if (server.proc.exitCode !== null || Date.now() > deadline)
        throw new Error(
          `server on port ${port} never accepted a connection (${error}):\n${server.err.all.join("\n")}`,
        );
      await Bun.sleep(20);
    }
  }
}

/** Resolves once a stopped server's stdout and stderr have been read to the end. */
export async function outputEnded(server: ChatServer, timeoutMs = 5000): Promise<void> {
  const ended = (l: Lines) =>
    l
      .find(() => false, "the end of the output", timeoutMs)
      .catch((error) => {
        if (!l.ended) throw error;
      });
  await Promise.all([ended(server.out), ended(server.err)]);
}
