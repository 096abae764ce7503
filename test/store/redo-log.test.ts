// The redo log's file: frames copied into its shared map (and past it, written), the map
// grown and the file cut back never below it, and frames in a map surviving a SIGKILL.

import { Database } from "bun:sqlite";
import { describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodeFrames } from "../../src/store/redo-codec";
import { KEEP_BYTES, RedoLog, type RedoMapSize, redoPath } from "../../src/store/redo-log";
import { atEnd, track } from "../processes";

const INSERT = "INSERT INTO t (a, b) VALUES (?, ?)";

function dataFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "chat-redo-"));
  atEnd(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "chat.db");
}

/** A log on a fresh data file, with a statement `insert` whose runs it records. */
function open(map?: RedoMapSize, fsync = false) {
  const path = dataFile();
  const db = new Database(":memory:");
  db.run("CREATE TABLE t (a, b)");
  const log = RedoLog.create(path, { schemaVersion: 1, epoch: 7, seq: 0, fsync, map });
  const insert = log.prepare(db, INSERT);
  /** One frame: `rows` runs of the insert, each with a text of `bytes`. */
  const frame = (n: number, rows = 1, bytes = 10) => {
    for (let i = 0; i < rows; i++) insert.run(n, `${n}:${"x".repeat(bytes)}`);
    log.append();
  };
  /** The frames the file holds now, read through the file, not the map. */
  const onDisk = () => decodeFrames(readFileSync(redoPath(path))).map((f) => f.seq);
  const size = () => statSync(redoPath(path)).size;
  return { path, db, log, frame, onDisk, size };
}

describe("redo log file", () => {
  it("copies frames into its map: the file holds them at once, and stays at its mapped length", () => {
    const { log, frame, onDisk, size } = open({ first: 16 * 1024, max: 64 * 1024 });
    expect(log.mapped).toBe(16 * 1024);
    expect(size()).toBe(16 * 1024);
    for (let n = 1; n <= 20; n++) frame(n);
    expect(onDisk()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(size()).toBe(16 * 1024);
    expect(log.seq).toBe(20);
  });

  it("starts again at its header after a commit; the old frames left behind carry covered seqs", () => {
    const { path, log, frame, onDisk } = open({ first: 16 * 1024, max: 64 * 1024 });
    for (let n = 1; n <= 5; n++) frame(n);
    log.committed();
    expect(log.uncommitted).toBe(false);
    frame(6); // as long as frame 1, which it replaces
    expect(onDisk()).toEqual([6, 2, 3, 4, 5]);
    expect(log.frames(path).map((f) => f.seq)).toEqual([6]);
    frame(7, 1, 30); // longer than frame 2: cuts into frame 3, whose CRC then fails
    expect(onDisk()).toEqual([6, 7]);
  });

  it("grows its map by doubling for a frame that does not fit, up to its most", () => {
    const { log, frame, onDisk, size } = open({ first: 8 * 1024, max: 64 * 1024 });
    frame(1, 1, 100);
    frame(2, 1, 20 * 1024); // ends past 16 KiB: the map doubles twice, to 32 KiB
    expect(log.mapped).toBe(32 * 1024);
    expect(size()).toBe(32 * 1024);
    frame(3, 1, 100);
    expect(onDisk()).toEqual([1, 2, 3]);
  });

  it("writes a frame past its largest map with write(2), and those after it until the commit", () => {
    const { path, log, frame, onDisk, size } = open({ first: 8 * 1024, max: 16 * 1024 });
    frame(1, 1, 100);
    frame(2, 1, 20 * 1024); // does not fit even at 16 KiB
    expect(log.mapped).toBe(8 * 1024);
    frame(3, 1, 100); // starts past the map
    expect(size()).toBeGreaterThan(20 * 1024);
    expect(onDisk()).toEqual([1, 2, 3]);
    log.committed();
    frame(4, 1, 100); // into the map again, over frame 1
    expect(onDisk()).toEqual([4, 2, 3]);
    expect(log.frames(path).map((f) => f.seq)).toEqual([4]);
  });

  it("cuts a file grown past KEEP_BYTES back to its map, never below it, and goes on using the map", () => {
    const { log, frame, onDisk, size } = open({ first: 8 * 1024, max: 16 * 1024 });
    frame(1, KEEP_BYTES / (1024 * 1024) + 1, 1024 * 1024);
    expect(size()).toBeGreaterThan(KEEP_BYTES);
    log.committed();
    expect(size()).toBe(log.mapped);
    expect(log.mapped).toBe(8 * 1024);
    // A store into the map past the file's end would kill this process with SIGBUS.
    for (let n = 2; n <= 30; n++) frame(n, 1, 200);
    expect(onDisk()).toEqual(Array.from({ length: 29 }, (_, i) => i + 2));
  });

  it("with fsync, still copies into the map (the fdatasync writes its pages), growing it too", () => {
    const { log, frame, onDisk, size } = open({ first: 8 * 1024, max: 32 * 1024 }, true);
    frame(1);
    frame(2, 1, 10 * 1024);
    expect(log.mapped).toBe(16 * 1024);
    expect(size()).toBe(16 * 1024);
    expect(onDisk()).toEqual([1, 2]);
  });

  it("does not map another file put at its path: it grows no map, and writes through its own descriptor", () => {
    const { path, log, frame, size } = open({ first: 8 * 1024, max: 64 * 1024 });
    frame(1);
    const moved = `${redoPath(path)}.moved`;
    renameSync(redoPath(path), moved);
    writeFileSync(redoPath(path), Buffer.alloc(64 * 1024, 7));
    frame(2, 1, 10 * 1024); // past the map: growing it would map the other file
    expect(log.mapped).toBe(8 * 1024);
    frame(3);
    expect(decodeFrames(readFileSync(moved)).map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(readFileSync(redoPath(path)).every((b) => b === 7)).toBe(true);
    expect(size()).toBe(64 * 1024);
  });

  it("gives back the frames since the last commit, for a rollback", () => {
    const { log, frame, path } = open({ first: 16 * 1024, max: 64 * 1024 });
    frame(1);
    log.committed();
    frame(2);
    frame(3, 2);
    const frames = log.frames(path);
    expect(frames.map((f) => f.seq)).toEqual([2, 3]);
    expect(frames[1]!.runs).toHaveLength(2);
  });

  it("keeps the frames it copied into its map when its process is killed with SIGKILL", async () => {
    const path = dataFile();
    const script = `
      import { Database } from "bun:sqlite";
      import { RedoLog } from ${JSON.stringify(resolve(import.meta.dir, "../../src/store/redo-log.ts"))};
      const db = new Database(":memory:");
      db.run("CREATE TABLE t (a, b)");
      const log = RedoLog.create(${JSON.stringify(path)}, { schemaVersion: 1, epoch: 7, seq: 0, fsync: false });
      const insert = log.prepare(db, ${JSON.stringify(INSERT)});
      for (let n = 1; n <= 500; n++) {
        insert.run(n, "m" + n);
        log.append();
      }
      if (log.mapped === 0) throw new Error("not mapped");
      console.log("appended");
      setInterval(() => {}, 1000);
    `;
    const child = track(Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" }));
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("appended")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the writer exited: ${out}${await new Response(child.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    child.kill("SIGKILL");
    expect(await child.exited).not.toBe(0);
    const frames = decodeFrames(readFileSync(redoPath(path)));
    expect(frames.map((f) => f.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(frames[499]!.runs).toEqual([{ sql: INSERT, args: [500, "m500"] }]);
  }, 20_000);
});
