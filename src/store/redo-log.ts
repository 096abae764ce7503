// The SQLite store's redo log, <data file>-redo: where a turn of the hot path (messages
// stored and confirmed, receipts) becomes durable with one write, while SQLite's
// transaction stays open and is committed every REDO_COMMIT_MS or so. A COMMIT writes every
// page the turn touched to the WAL (about eight writes of 4 KiB for one message); a frame
// here is the turn's statements, about 200 bytes for one message. Inserts and deletes that
// meet within one commit interval (a message delivered and confirmed at once) cost SQLite
// only its page cache.
//
// After a crash, openDataFile replays the frames the file has past the last commit
// (meta.redo_seq, written in every commit) before anything else reads the file.
//
// The file is mapped MAP_SHARED and a frame is copied into the map: stores into a shared
// mapping are in the page cache as soon as they are made, as a write(2)'s bytes are, so a
// frame survives a SIGKILL the moment the copy ends, without a syscall. With fsync, the
// fdatasync on the descriptor writes the mapped pages as well. The file's length is written
// with zeros before it is mapped: a page of a hole would take its disk block at the first
// store, and a full disk would then be a SIGBUS instead of an error. The file is never cut
// below the map either (a store past the file's end is a SIGBUS too). A frame past the map
// goes through write(2).

import type { Database, Statement } from "bun:sqlite";
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import {
  decodeFrames,
  decodeHeader,
  encodeHeader,
  FrameWriter,
  REDO_FORMAT,
  REDO_HEADER_BYTES,
  type RedoFrame,
} from "./redo-codec";

/** What the store's statement owners need of the database: a prepare that may record. */
export interface Preparer {
  prepare(sql: string): Statement;
}

export const redoPath = (dataFile: string) => `${dataFile}-redo`;

/**
 * A log longer than this after a commit is cut back to its map (see committed()): the
 * bytes allowed between two commits (sqlite.ts's REDO_COMMIT_BYTES) and a large batch.
 */
export const KEEP_BYTES = 32 * 1024 * 1024;

/** What the file is mapped with at first: what a second of messages takes at 50,000 a second. */
const FIRST_MAP_BYTES = 12 * 1024 * 1024;

/** How much of the file is mapped at first, and the most it grows to (doubling). */
export interface RedoMapSize {
  first: number;
  max: number;
}
/**
 * A second of messages at once: the file's length and its pages in RSS are what they will
 * be from the first message on (a measure of the data's size sees no buffer filling up),
 * and no zeros are written and no map made under load, unless the load is heavier than
 * that. Then the map doubles, at most twice in the server's life, up to what is allowed
 * between two commits (each doubling writes its zeros and maps again: 10-20 ms, once).
 */
const MAP_SIZE: RedoMapSize = { first: FIRST_MAP_BYTES, max: KEEP_BYTES };
const ZEROS = Buffer.alloc(64 * 1024);
const PAGE = 4096;

/** The open redo log of a running store. */
export class RedoLog {
  private readonly writer = new FrameWriter();
  /** Where the next frame goes: the end of the last whole frame. */
  private offset = REDO_HEADER_BYTES;
  /** The file's length: frames of earlier commits, or zeros, may lie between offset and it. */
  private fileBytes = REDO_HEADER_BYTES;
  /** The file's first map.length bytes, mapped shared; null where mapping failed. */
  private map: Uint8Array | null = null;
  private growFailed = false;
  private statements = 0;
  /** The last frame written, and the last one a SQLite commit covers. */
  private written: number;
  private committedSeq: number;

  private constructor(
    private readonly fd: number,
    private readonly file: string,
    private readonly fsync: boolean,
    seq: number,
    private readonly mapSize: RedoMapSize,
  ) {
    this.written = seq;
    this.committedSeq = seq;
  }

  /** Starts an empty log for a data file whose meta says it is at `seq`. */
  static create(
    dataFile: string,
    o: { schemaVersion: number; epoch: number; seq: number; fsync: boolean; map?: RedoMapSize },
  ) {
    const file = redoPath(dataFile);
    const fd = openSync(file, "w", 0o600);
    try {
      writeSync(fd, encodeHeader(o));
      const log = new RedoLog(fd, file, o.fsync, o.seq, o.map ?? MAP_SIZE);
      log.mapTo(log.mapSize.first);
      if (o.fsync) {
        fdatasyncSync(fd);
        // A new file survives a power loss only once its directory entry is on disk too.
        const dir = openSync(dirname(redoPath(dataFile)), "r");
        try {
          fsyncSync(dir);
        } finally {
          closeSync(dir);
        }
      }
      return log;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Bytes of the file that are mapped (0: none, every frame is a write(2)). */
  get mapped(): number {
    return this.map?.length ?? 0;
  }

  /**
   * Makes the file at least `bytes` long with zeros and maps its first `bytes`; false if
   * that failed (the map there was stays, and frames past it are written).
   */
  private mapTo(bytes: number): boolean {
    try {
      while (this.fileBytes < bytes)
        this.fileBytes += writeSync(
          this.fd,
          ZEROS,
          0,
          Math.min(ZEROS.length, bytes - this.fileBytes),
          this.fileBytes,
        );
      // Bun.mmap opens the file by its path: map only while the path still names this file.
      if (!this.ownsPath()) return false;
      const map = Bun.mmap(this.file, { shared: true, size: bytes });
      if (map.length < bytes || !this.ownsPath()) return false;
      // Maps each page for writing now rather than at the first frame that reaches it.
      for (let at = 0; at < bytes; at += PAGE) map[at] = map[at]!;
      // The old map is unmapped when collected; nothing uses it after this.
      this.map = map;
      return true;
    } catch {
      return false;
    }
  }

  /** The path still leads to the file this log writes through its descriptor. */
  private ownsPath(): boolean {
    const path = statSync(this.file);
    const own = fstatSync(this.fd);
    return path.ino === own.ino && path.dev === own.dev;
  }

  /** Grows the map to hold a frame ending at `end`, doubling up to mapSize.max; false if it cannot. */
  private grow(end: number): boolean {
    const now = this.map?.length ?? 0;
    if (now === 0 || end > this.mapSize.max || this.growFailed) return false;
    let bytes = now;
    while (bytes < end) bytes *= 2;
    if (this.mapTo(Math.min(bytes, this.mapSize.max))) return true;
    // Not tried again: the frames past the map are written, as they would be anyway.
    this.growFailed = true;
    return false;
  }

  /** A statement whose every run() is recorded in the open frame. */
  prepare(db: Database, sql: string): Statement {
    const st = db.prepare(sql);
    const record = this.recorder(sql);
    const run = st.run.bind(st);
    st.run = ((...args: never[]) => {
      const changes = run(...args);
      record(args);
      return changes;
    }) as Statement["run"];
    return st;
  }

  /** Records runs of `sql` that are made later, or never (their effect reached SQLite another way). */
  recorder(sql: string): (args: readonly unknown[]) => void {
    const index = this.statements++;
    const writer = this.writer;
    return (args) => writer.run(index, sql, args);
  }

  /** The open frame has records to write. */
  get pending(): boolean {
    return this.writer.records > 0;
  }

  /** Bytes the log holds past the last commit, the open frame included. */
  get bytes(): number {
    return this.offset - REDO_HEADER_BYTES + this.writer.bytes;
  }

  /** Frames written that no SQLite commit covers yet. */
  get uncommitted(): boolean {
    return this.written > this.committedSeq;
  }

  /** The seq a commit made now covers (for meta.redo_seq). */
  get seq(): number {
    return this.written;
  }

  /** Writes the open frame; when this returns the turn survives a crash (and, with fsync, a power loss). */
  append(): void {
    const frame = this.writer.finish(this.written + 1);
    const end = this.offset + frame.length;
    try {
      const map = this.map && (end <= this.map.length || this.grow(end)) ? this.map : null;
      if (map) map.set(frame, this.offset);
      else {
        let done = 0;
        while (done < frame.length)
          done += writeSync(this.fd, frame, done, frame.length - done, this.offset + done);
        if (end > this.fileBytes) this.fileBytes = end;
      }
      if (this.fsync) fdatasyncSync(this.fd);
    } catch (error) {
      // A partial frame fails its CRC; the next one overwrites it anyway.
      this.writer.restart();
      throw error;
    }
    this.offset = end;
    this.written++;
  }

  /** Forgets the open frame's records: its turn failed, or a commit carries it. */
  discard(): void {
    this.writer.discard();
  }

  /**
   * A SQLite commit now holds everything written: the log starts again at its header. The
   * file keeps its length (overwriting its pages costs less than giving them back at every
   * commit and taking them again); the frames left past the new ones carry seqs the commit
   * covers (meta.redo_seq), or fail their CRC where a new frame cut into them, and a replay
   * skips both. Only a file grown past KEEP_BYTES by a large burst is cut back, to its map
   * (never below: a store into a mapped page past the file's end is a SIGBUS).
   */
  committed(): void {
    this.committedSeq = this.written;
    this.writer.restart();
    this.offset = REDO_HEADER_BYTES;
    if (this.fileBytes <= KEEP_BYTES) return;
    const keep = Math.max(REDO_HEADER_BYTES, this.mapped);
    try {
      ftruncateSync(this.fd, keep);
      this.fileBytes = keep;
    } catch {
      // Kept at its length: a replay skips what the commit covers either way.
    }
  }

  /** The frames written since the last commit, to apply again after a rollback. */
  frames(path: string): RedoFrame[] {
    const log = readFileSync(redoPath(path));
    return decodeFrames(log.subarray(0, this.offset)).filter((f) => f.seq > this.committedSeq);
  }

  /** After a clean shutdown's commit: nothing is left to replay. */
  close(dataFile: string, remove: boolean): void {
    closeSync(this.fd);
    // Unmapped when collected; removing the file does not touch a map, cutting it would.
    this.map = null;
    if (remove) unlinkSync(redoPath(dataFile));
  }
}

/** Runs frames' statements in order (inside the caller's transaction). */
export function applyFrames(db: Database, frames: readonly RedoFrame[]): void {
  const statements = new Map<string, Statement>();
  try {
    for (const f of frames)
      for (const r of f.runs) {
        let st = statements.get(r.sql);
        if (!st) {
          st = db.prepare(r.sql);
          statements.set(r.sql, st);
        }
        st.run(...(r.args as never[]));
      }
  } finally {
    for (const st of statements.values()) st.finalize();
  }
}

export type ReplayOutcome =
  | { kind: "none" }
  | { kind: "replayed"; frames: number; seq: number }
  /** The log belongs to another data file (that one was replaced): moved to `aside`. */
  | { kind: "stale"; aside: string }
  | { kind: "refused"; why: string };

/**
 * Inside the caller's write transaction, before migrations: applies the frames of
 * <dataFile>-redo past meta.redo_seq and records the new seq. The caller commits, then
 * calls finishReplay. `version` is the file's schema version (0: a new file).
 */
export function replayRedo(db: Database, dataFile: string, version: number): ReplayOutcome {
  const file = redoPath(dataFile);
  if (!existsSync(file)) return { kind: "none" };
  let log: Buffer;
  try {
    log = readFileSync(file);
  } catch (error) {
    return { kind: "refused", why: `cannot read its redo log ${file}: ${(error as Error).message}` };
  }
  const header = decodeHeader(log);
  // Shorter than a header: the process died creating it, before anything was written.
  if (log.length < REDO_HEADER_BYTES) return { kind: "replayed", frames: 0, seq: 0 };
  if (!header) return { kind: "refused", why: `${file} is not a chat redo log; move it away to start` };
  if (header.format !== REDO_FORMAT)
    return {
      kind: "refused",
      why: `${file} was written by another version of chat (format ${header.format})`,
    };
  const epoch = version > 0 ? meta(db, "redo_epoch") : null;
  if (epoch === null || epoch !== header.epoch) {
    const aside = `${file}.stale-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    renameSync(file, aside);
    return { kind: "stale", aside };
  }
  if (header.schemaVersion !== version)
    return {
      kind: "refused",
      why: `${file} was written for schema version ${header.schemaVersion}, but the data file is at ${version}`,
    };
  let seq = meta(db, "redo_seq") ?? 0;
  const todo: RedoFrame[] = [];
  for (const f of decodeFrames(log)) {
    if (f.seq <= seq) continue;
    // Frames follow each other; a gap is left-over bytes of a frame cut short, not data.
    if (f.seq !== seq + 1) break;
    todo.push(f);
    seq = f.seq;
  }
  applyFrames(db, todo);
  setMeta(db, "redo_seq", seq);
  return { kind: "replayed", frames: todo.length, seq };
}

/** After the replay's commit: its frames are in the file now. */
export function finishReplay(dataFile: string): void {
  const file = redoPath(dataFile);
  if (existsSync(file)) unlinkSync(file);
}

/** The data file's redo identity, made on first use: a log of another file is never replayed. */
export function redoEpoch(db: Database): number {
  let epoch = meta(db, "redo_epoch");
  if (epoch === null) {
    epoch = Math.floor(Math.random() * 2 ** 52) + 1;
    setMeta(db, "redo_epoch", epoch);
  }
  return epoch;
}

export function meta(db: Database, key: string): number | null {
  return (
    (db.query("SELECT value FROM meta WHERE key = ?").get(key) as { value: number } | null)?.value ?? null
  );
}

export function setMeta(db: Database, key: string, value: number): void {
  db.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value]);
}
