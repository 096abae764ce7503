// The running server's control socket: the admin actions wired to its store and sessions.

import type { ConsolaInstance } from "consola";
import type { PasswordHasher } from "../core/auth";
import type { ChatCore } from "../core/chat";
import { SqliteStore } from "../store/sqlite";
import type { Store } from "../store/store";
import { type AdminContext, runAdmin } from "./actions";
import type { BanList } from "./banlist";
import { type ControlSocket, MAX_SOCKET_PATH_BYTES, startControlSocket } from "./control-server";
import { liveServer } from "./live";
import { controlSocketPath, dataFileStats } from "./paths";

export interface ControlDeps {
  o: { data: string; controlSocket?: string };
  store: Store;
  core: ChatCore;
  passwords: PasswordHasher;
  bans: BanList;
  version: string;
  /** Logs every action (tag "admin"). */
  log: ConsolaInstance;
}

/** Starts the control socket, if the options call for one; throws ControlSocketError. */
export function openControlSocket(d: ControlDeps): ControlSocket | undefined {
  const path = controlSocketPath(d.o);
  if (!path) return undefined;
  if (!d.o.controlSocket && Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    // Only a socket asked for by name is worth refusing to start over.
    d.log.warn(
      `no control socket: ${path} is longer than a Unix socket path may be; set --control-socket to use chat admin`,
    );
    return undefined;
  }
  const store = d.store;
  const context: AdminContext = {
    store,
    passwords: d.passwords,
    now: Date.now,
    nameReuseAfterMs: d.core.options.nameReuseAfterMs,
    live: liveServer(d.core, d.bans, { version: d.version, startedAt: Date.now() }),
    ...(store instanceof SqliteStore
      ? { backup: (file: string) => store.backupTo(file), dataStats: () => dataFileStats(store.path) }
      : {}),
    log: (line) => d.log.info(line),
  };
  return startControlSocket(path, (req) => runAdmin(context, req));
}
