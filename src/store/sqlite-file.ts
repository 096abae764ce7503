// Opening the data file: checks that it is a usable chat database (not corrupt, not another
// program's, not from a newer chat, not locked by another server), switches it to WAL,
// migrates it, and turns every way this can fail into one sentence a user can act on.

import { Database } from "bun:sqlite";
import { accessSync, constants, existsSync, renameSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations";
import { finishReplay, type ReplayOutcome, redoEpoch, replayRedo } from "./redo-log";

export type SyncMode = "full" | "normal";

/** The data file cannot be used; the message says which file, why, and what to do. */
export class StoreOpenError extends Error {
  override name = "StoreOpenError";
}

export interface OpenedFile {
  db: Database;
  /** The absolute path of the data file. */
  path: string;
  /** Set when a corrupt file was moved aside (resetCorrupt): where it went. */
  movedAside?: string;
  /** What opening did with a redo log left by a server that did not stop cleanly. */
  redo: ReplayOutcome;
}

/** Opens (creating if needed) and migrates the data file; throws StoreOpenError. */
export function openDataFile(opts: { path: string; sync: SyncMode; resetCorrupt?: boolean }): OpenedFile {
  const path = resolve(opts.path);
  const dir = dirname(path);
  if (!existsSync(dir))
    throw new StoreOpenError(`cannot open data file ${path}: directory ${dir} does not exist`);
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new StoreOpenError(`cannot open data file ${path}: it is a directory`);
  }
  try {
    return { ...openDatabase(path, opts.sync), path };
  } catch (error) {
    if (error instanceof StoreOpenError) throw error;
    const code = sqliteCode(error);
    if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT") || error instanceof CorruptError) {
      const why =
        error instanceof CorruptError
          ? error.message
          : code === "SQLITE_NOTADB"
            ? "it is not a SQLite database"
            : "its pages are damaged";
      if (opts.resetCorrupt) {
        const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
        renameSync(path, aside);
        for (const ext of ["-wal", "-shm", "-redo"])
          if (existsSync(path + ext)) renameSync(path + ext, aside + ext);
        return { ...openDatabase(path, opts.sync), path, movedAside: aside };
      }
      throw new StoreOpenError(
        `data file ${path} is corrupt (${why}). It was left untouched. To keep it and start with an empty file, ` +
          "run again with --reset-corrupt-data (the file is renamed to <file>.corrupt-<time>), or point --data elsewhere.",
      );
    }
    throw new StoreOpenError(describeOpenError(path, error));
  }
}

class CorruptError extends Error {}

function openDatabase(path: string, sync: SyncMode): { db: Database; redo: ReplayOutcome } {
  const db = new Database(path, { create: true, readwrite: true, strict: false });
  try {
    // Exclusive locking: the first read below takes a lock held until close, so a
    // second server on the same file fails at once instead of sharing it.
    db.run("PRAGMA locking_mode = EXCLUSIVE");
    // The checks run before the switch to WAL, which rewrites the file header: a corrupt
    // file or another program's database must be left exactly as it was.
    db.run("BEGIN");
    const check = db.query("PRAGMA quick_check").all() as { quick_check: string }[];
    if (check.length !== 1 || check[0]!.quick_check !== "ok") {
      db.run("ROLLBACK");
      const first = check[0]?.quick_check.split("\n")[0]?.slice(0, 200) ?? "unknown damage";
      throw new CorruptError(
        `integrity check failed: ${first}${check.length > 1 ? ` (and ${check.length - 1} more problems)` : ""}`,
      );
    }
    const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (version > 0 ? !hasTable(db, "accounts") : hasAnyTable(db)) {
      db.run("ROLLBACK");
      throw new StoreOpenError(
        `data file ${path} is a SQLite database of some other program, not a chat data file`,
      );
    }
    if (version > SCHEMA_VERSION) {
      db.run("ROLLBACK");
      throw new StoreOpenError(
        `data file ${path} was written by a newer chat (schema version ${version}; this chat knows up to ${SCHEMA_VERSION}). Upgrade chat to use it.`,
      );
    }
    db.run("COMMIT");
    const mode = (db.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
    if (mode !== "wal")
      throw new StoreOpenError(`cannot use data file ${path}: WAL journal mode unavailable (${mode})`);
    db.run(`PRAGMA synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
    db.run("PRAGMA journal_size_limit = 67108864");
    db.run("BEGIN IMMEDIATE");
    // What a crashed server had answered for but not committed, at the schema it was written for.
    const redo = replayRedo(db, path, version);
    if (redo.kind === "refused") {
      db.run("ROLLBACK");
      throw new StoreOpenError(`cannot open data file ${path}: ${redo.why}`);
    }
    for (let v = version; v < SCHEMA_VERSION; v++) db.run(MIGRATIONS[v]!);
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    redoEpoch(db);
    db.run("COMMIT");
    if (redo.kind === "replayed") finishReplay(path);
    return { db, redo };
  } catch (error) {
    try {
      db.close();
    } catch {
      // already unusable
    }
    throw error;
  }
}

function hasTable(db: Database, name: string): boolean {
  return db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== null;
}

function hasAnyTable(db: Database): boolean {
  return db.query("SELECT 1 FROM sqlite_master WHERE type = 'table'").get() !== null;
}

/** The SQLite result code of an error (e.g. "SQLITE_FULL"), or "" if it has none. */
export function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : "";
}

function describeOpenError(path: string, error: unknown): string {
  const code = sqliteCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return `data file ${path} is in use by another chat server (it is locked). Stop that server or choose another file with --data.`;
  }
  // SQLite reports a file it may not write as whichever step first needed to (with WAL
  // often SQLITE_IOERR_LOCK, "disk I/O error"): ask the file system what is wrong.
  const denied = writeDenied(path);
  if (
    denied ||
    code.startsWith("SQLITE_READONLY") ||
    code.startsWith("SQLITE_CANTOPEN") ||
    code.startsWith("SQLITE_PERM")
  ) {
    return `cannot write data file ${path}: ${denied ?? detail}. Check that the file and its directory are writable by this user, or choose another file with --data.`;
  }
  if (code.startsWith("SQLITE_FULL")) return `cannot write data file ${path}: the disk is full`;
  return `cannot open data file ${path}: ${detail}`;
}

/** Why this process may not write path or create files beside it (WAL needs path-wal), if so. */
function writeDenied(path: string): string | undefined {
  const checks = [
    [path, "the file is read-only for this user"],
    [dirname(path), `its directory ${dirname(path)} is not writable by this user`],
  ] as const;
  for (const [target, why] of checks) {
    try {
      accessSync(target, constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EROFS" || code === "EPERM") return `${why} (${code})`;
    }
  }
  return undefined;
}

/**
 * What other users may do to the data, if anything: the file and its WAL hold password
 * hashes and messages, so neither may be readable or writable by group or others, nor
 * the directory that holds them (where others could list, replace or squat the files).
 * A sentence naming the first such file and its fix, or undefined when all are private.
 */
export function sharedAccess(path: string): string | undefined {
  // The files must be private. Their directory may be listed (names and sizes say nothing),
  // but not written: whoever can write it can replace the file or plant a WAL beside it.
  const targets = [
    [path, `data file ${path}`, "600", 0o066],
    [`${path}-wal`, `its WAL ${path}-wal`, "600", 0o066],
    [`${path}-redo`, `its redo log ${path}-redo`, "600", 0o066],
    [dirname(path), `the directory ${dirname(path)} of data file ${path}`, "go-w", 0o022],
  ] as const;
  for (const [target, what, fix, forbidden] of targets) {
    const stat = statSync(target, { throwIfNoEntry: false });
    if (!stat) continue;
    const mode = stat.mode & 0o777;
    if (!(mode & forbidden)) continue;
    const how = [mode & forbidden & 0o044 ? "readable" : "", mode & 0o022 ? "writable" : ""]
      .filter(Boolean)
      .join(" and ");
    return `${what} is ${how} by other users (mode ${mode.toString(8).padStart(4, "0")}), and it holds password hashes and messages. Make it private (chmod ${fix} ${target}), or run with --allow-shared-data to use it anyway`;
  }
  return undefined;
}
