// Where an admin request runs: on the running server, through its control socket, or,
// when no server runs, on the data file opened directly (it is locked while a server
// holds it, so the two never share the file).

import { argon2Hasher, DEFAULT_ARGON2 } from "../core/auth";
import { DEFAULT_OPTIONS } from "../core/options";
import { isRedisData } from "../store/redis-url";
import { SqliteStore, StoreOpenError } from "../store/sqlite";
import { type AdminRequest, type AdminResponse, runAdmin } from "./actions";
import { callControl, NoServer } from "./control-client";
import { controlSocketPath, dataFileStats } from "./paths";

export interface Where {
  data: string;
  controlSocket?: string;
}

export interface Outcome {
  response: AdminResponse;
  /** "server" when the running server did it, "file" when done on the data file. */
  via: "server" | "file";
}

/** A request that cannot be run anywhere; the message says why and what to do. */
export class TargetError extends Error {
  override name = "TargetError";
}

export async function perform(req: AdminRequest, where: Where): Promise<Outcome> {
  const socket = controlSocketPath(where);
  if (socket) {
    try {
      return { response: await callControl(socket, req), via: "server" };
    } catch (error) {
      if (!(error instanceof NoServer)) throw new TargetError((error as Error).message);
    }
  }
  if (where.data === ":memory:" || isRedisData(where.data))
    throw new TargetError(
      socket
        ? `no server answers on ${socket}`
        : `a server with --data ${where.data === ":memory:" ? ":memory:" : "redis://…"} has a control socket only when started with --control-socket PATH; pass the same --control-socket here`,
    );
  return { response: await onFile(req, where.data, socket), via: "file" };
}

// --- internal ---

async function onFile(req: AdminRequest, data: string, socket: string | undefined): Promise<AdminResponse> {
  let store: SqliteStore;
  try {
    store = SqliteStore.open({
      path: data,
      sync: "full",
      maxQueuedPerAccount: DEFAULT_OPTIONS.maxQueuedPerAccount,
      maxQueuedPerSender: DEFAULT_OPTIONS.maxQueuedPerSender,
      dedupPerSender: DEFAULT_OPTIONS.maxUnansweredSends,
    });
  } catch (error) {
    if (error instanceof StoreOpenError && /in use by another chat server/.test(error.message))
      throw new TargetError(
        `data file ${data} is held by a running server, but no server answers on its control socket ${socket}; give the --control-socket that server was started with`,
      );
    if (error instanceof StoreOpenError) throw new TargetError(error.message);
    throw error;
  }
  try {
    return await runAdmin(
      {
        store,
        passwords: argon2Hasher(DEFAULT_ARGON2),
        now: Date.now,
        nameReuseAfterMs: DEFAULT_OPTIONS.nameReuseAfterMs,
        backup: (file) => store.backupTo(file),
        dataStats: () => dataFileStats(store.path),
        log: () => {},
      },
      req,
    );
  } finally {
    await store.close();
  }
}
