// The command loop against a real server in this process (TCP on loopback, memory store,
// instant password hashing), driven through a scripted Io whose prints a test can hold
// back, the way a blocked terminal or pipe would.

import { afterEach } from "bun:test";
import type { Socket } from "bun";
import { serveOptions } from "../../src/cli/serve";
import type { AskOptions, Io } from "../../src/client/io";
import { CommandLoop } from "../../src/client/loop";
import { Output } from "../../src/client/output";
import { ChatSession, type SessionOptions } from "../../src/client/session";
import { createLogger } from "../../src/net/log";
import { type RunningServer, startServer } from "../../src/server";
import { FakeHasher } from "../core/helpers";

const running: (() => unknown)[] = [];
afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop();
});

export async function server(args: Record<string, string> = {}): Promise<RunningServer> {
  const o = serveOptions({ host: "127.0.0.1", port: "0", data: ":memory:", ...args }, ":memory:");
  const s = await startServer(o, createLogger("silent", "text"), { passwords: new FakeHasher() });
  running.push(() => s.stop());
  return s;
}

export function sessionOptions(port: number, o: Partial<SessionOptions> = {}): SessionOptions {
  return {
    host: "127.0.0.1",
    port,
    connectTimeoutMs: 2000,
    heartbeatMs: 5000,
    heartbeatMisses: 3,
    maxFrameBytes: 4 * 1024 * 1024,
    reconnect: true,
    giveUpAfterMs: 10_000,
    ...o,
  };
}

/** An Io fed by the test: lines queue up as if pasted; prints can be held. */
export class FakeIo implements Io {
  readonly printed: string[] = [];
  readonly asked: { prompt: string; secret: boolean }[] = [];
  readonly prompts: string[] = [];
  readonly names = new Set<string>();
  confirmSecrets = false;
  scripted = true;
  private readonly queue: (string | null)[] = [];
  private waiter: ((l: string | null) => void) | null = null;
  private held: Promise<void> | null = null;
  private changed: (() => void)[] = [];

  feed(...lines: (string | null)[]): void {
    for (const l of lines) {
      const w = this.waiter;
      if (w) {
        this.waiter = null;
        w(l);
      } else this.queue.push(l);
    }
  }

  /** The end of input. */
  end(): void {
    this.feed(null);
  }

  nextLine(): Promise<string | null> {
    return this.take();
  }

  ask(prompt: string, o?: AskOptions): Promise<string | null> {
    this.asked.push({ prompt, secret: o?.secret === true });
    this.wake();
    return this.take();
  }

  /** Prints started and not yet finished (held back). */
  waiting = 0;

  async print(line: string): Promise<void> {
    const held = this.held;
    if (held) {
      this.waiting++;
      this.wake();
      await held;
      this.waiting--;
    }
    this.printed.push(line);
    this.wake();
  }

  /** Prints from now on wait until the returned function is called. */
  hold(): () => void {
    let open: () => void = () => {};
    this.held = new Promise<void>((r) => {
      open = r;
    });
    return () => {
      this.held = null;
      open();
    };
  }

  setPrompt(prompt: string): void {
    this.prompts.push(prompt);
    this.wake();
  }

  rememberName(name: string): void {
    this.names.add(name);
  }

  putBack(line: string): void {
    this.queue.unshift(line);
  }

  /** Lines fed and not yet read (the end of input, null, is not one). */
  takeUnread(): string[] {
    const left = this.queue.filter((l): l is string => l !== null);
    this.queue.length = 0;
    this.queue.push(null);
    return left;
  }

  close(): void {}

  /** Waits until pred holds for what was printed (checked after every print or prompt). */
  async until(pred: (printed: string[]) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.printed)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; printed:\n${this.printed.join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.changed.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Waits until the latest prompt is this one. */
  async prompted(prompt: string): Promise<void> {
    try {
      await this.until(() => this.prompts.at(-1) === prompt, `the prompt ${JSON.stringify(prompt)}`);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nprompts: ${JSON.stringify(this.prompts)}`);
    }
  }

  saw(text: string): Promise<void> {
    return this.until((p) => p.some((l) => l.includes(text)), JSON.stringify(text));
  }

  private take(): Promise<string | null> {
    if (this.queue.length) return Promise.resolve(this.queue.shift()!);
    return new Promise((r) => {
      this.waiter = r;
    });
  }

  private wake(): void {
    for (const f of this.changed.splice(0)) f();
  }
}

export interface Client {
  io: FakeIo;
  loop: CommandLoop;
  session: ChatSession;
  /** The loop's exit status, once it ends. */
  done: Promise<number>;
}

/** A connected client running its loop on a FakeIo (script mode unless said otherwise). */
export async function client(
  port: number,
  o: { script?: boolean; json?: boolean; session?: Partial<SessionOptions> } = {},
): Promise<Client> {
  const io = new FakeIo();
  io.confirmSecrets = o.script === false;
  io.scripted = o.script !== false;
  const out = new Output(o.json ? "json" : "text", (l) => io.print(l));
  const loop = new CommandLoop({ io, out, script: o.script !== false });
  const session = new ChatSession(sessionOptions(port, o.session), loop.onEvent);
  loop.attach(session);
  await session.connect();
  const done = loop.run();
  running.push(() => session.close());
  return { io, loop, session, done };
}

/** A client logged in as name (created first). */
export async function loggedIn(
  port: number,
  name: string,
  o: Parameters<typeof client>[1] = {},
): Promise<Client> {
  const c = await client(port, o);
  c.io.feed(`/create ${name}`, `password of ${name}`);
  if (c.io.confirmSecrets) c.io.feed(`password of ${name}`);
  await c.io.saw(`logged in as ${name}`);
  return c;
}

/**
 * A TCP relay to the server that can be cut, as a network outage would: cut() closes
 * every relayed connection and refuses new ones until restore().
 */
export function relay(upstreamPort: number) {
  let cut = false;
  const pairs = new Set<{ client: Socket<unknown>; up?: Socket<unknown> }>();
  const listener = Bun.listen<{ up?: Socket<unknown>; early: Uint8Array[] }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { early: [] };
        if (cut) {
          client.end();
          return;
        }
        const pair: { client: Socket<unknown>; up?: Socket<unknown> } = {
          client,
        };
        pairs.add(pair);
        void Bun.connect({
          hostname: "127.0.0.1",
          port: upstreamPort,
          socket: {
            data: (_s, d) => {
              client.write(d);
            },
            close: () => {
              client.end();
            },
            error: () => {
              client.end();
            },
          },
        }).then((up) => {
          pair.up = up;
          client.data.up = up;
          for (const d of client.data.early.splice(0)) up.write(d);
        });
      },
      data(client, d) {
        if (client.data.up) client.data.up.write(d);
        else client.data.early.push(new Uint8Array(d));
      },
      close(client) {
        client.data.up?.end();
      },
    },
  });
  running.push(() => listener.stop(true));
  return {
    port: listener.port,
    cut() {
      cut = true;
      for (const p of pairs) {
        p.client.terminate();
        p.up?.terminate();
      }
      pairs.clear();
    },
    restore() {
      cut = false;
    },
  };
}
