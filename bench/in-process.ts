// What the in-process benches (core-hot.ts, drain-hot.ts) share: a ChatCore loaded from a
// given source tree (for A/B runs of two trees in one process), with connections that
// encode every frame as the TCP shell does but have no socket, and the helpers that drive
// them. Nothing here opens a socket.

import type { ChatCore as ChatCoreType } from "../src/core/chat";
import type { CoreOptions } from "../src/core/options";
import type { Conn, Session } from "../src/core/session";
import type { Store } from "../src/store/store";
import type { ReplyInit, RequestInit } from "../src/wire";

/** The modules of one source tree that the benches use. */
export interface Src {
  dir: string;
  ChatCore: typeof import("../src/core/chat").ChatCore;
  Metrics: typeof import("../src/core/metrics").Metrics;
  DEFAULT_OPTIONS: typeof import("../src/core/options").DEFAULT_OPTIONS;
  MemoryStore: typeof import("../src/store/memory").MemoryStore;
  SqliteStore: typeof import("../src/store/sqlite").SqliteStore;
  wire: typeof import("../src/wire");
}

export async function loadSrc(dir: string): Promise<Src> {
  const chat = (await import(`${dir}/core/chat.ts`)) as typeof import("../src/core/chat");
  const metrics = (await import(`${dir}/core/metrics.ts`)) as typeof import("../src/core/metrics");
  const options = (await import(`${dir}/core/options.ts`)) as typeof import("../src/core/options");
  const memory = (await import(`${dir}/store/memory.ts`)) as typeof import("../src/store/memory");
  const sqlite = (await import(`${dir}/store/sqlite.ts`)) as typeof import("../src/store/sqlite");
  const wire = (await import(`${dir}/wire/index.ts`)) as typeof import("../src/wire");
  return {
    dir,
    ChatCore: chat.ChatCore,
    Metrics: metrics.Metrics,
    DEFAULT_OPTIONS: options.DEFAULT_OPTIONS,
    MemoryStore: memory.MemoryStore,
    SqliteStore: sqlite.SqliteStore,
    wire,
  };
}

/** A connection that encodes what it is sent into one reused buffer, then tells onFrame. */
export interface BenchConn extends Conn {
  session: Session;
  onFrame: (f: ReplyInit) => void;
}

export interface BenchCore {
  core: ChatCoreType;
  /** A new connection to the core, from `address`. */
  open(address?: string): BenchConn;
  /** Resolves with the first frame to c that pred takes (replacing c.onFrame until then). */
  next(c: BenchConn, pred: (f: ReplyInit) => boolean): Promise<ReplyInit>;
  /** A request body with the version and the next request id. */
  body(init: RequestInit): Uint8Array;
  /** Sends init on c and resolves with its answer. */
  request(c: BenchConn, init: RequestInit): Promise<ReplyInit>;
  /** The next request id (for frames the bench encodes by hand). */
  requestId(): number;
}

/** A core on `store` with request limits out of the way (the benches measure the path, not the budget). */
export function benchCore(src: Src, store: Store, options: Partial<CoreOptions> = {}): BenchCore {
  const { wire } = src;
  const core: ChatCoreType = new src.ChatCore({
    store,
    options: { ...src.DEFAULT_OPTIONS, requestRate: 1e9, requestBurst: 1e9, ...options },
    events: () => {},
    metrics: new src.Metrics(),
    passwords: { hash: async (p) => `h:${p}`, verify: async (p, h) => h === `h:${p}` },
    serverVersion: "bench",
  });
  let nextRequest = 1;
  const requestId = () => nextRequest++;
  const body = (init: RequestInit) => wire.encodeRequest({ version: "1", requestId: requestId(), ...init });
  const next = (c: BenchConn, pred: (f: ReplyInit) => boolean) =>
    new Promise<ReplyInit>((resolve) => {
      c.onFrame = (f) => {
        if (!pred(f)) return;
        c.onFrame = () => {};
        resolve(f);
      };
    });
  return {
    core,
    open(address = "192.0.2.1") {
      const out = Buffer.allocUnsafeSlow(1 << 20);
      const c: BenchConn = {
        address,
        session: undefined as unknown as Session,
        onFrame: () => {},
        send(frame: ReplyInit) {
          const size = wire.replySize(frame);
          wire.writeReply(out, wire.writeVarint(out, 0, size), frame);
          c.onFrame(frame);
        },
        close() {},
        pause() {},
        resume() {},
        abort() {},
      };
      c.session = core.connect(c);
      return c;
    },
    next,
    body,
    request(c, init) {
      const done = next(c, (f) => f.opcode === init.opcode);
      core.receive(c.session, body(init));
      return done;
    },
    requestId,
  };
}
