import { describe, expect, it } from "bun:test";
import {
  decodeFrames,
  decodeHeader,
  encodeHeader,
  FrameWriter,
  REDO_FORMAT,
  REDO_HEADER_BYTES,
} from "../../src/store/redo-codec";

const INSERT = "INSERT INTO t (a, b, c, d) VALUES (?, ?, ?, ?)";
const DELETE = "DELETE FROM t WHERE a = ?";

/** A log: the header, then each frame as the writer sealed it. */
function log(...frames: Uint8Array[]): Buffer {
  return Buffer.concat([
    encodeHeader({ schemaVersion: 7, epoch: 12345 }),
    ...frames.map((f) => Buffer.from(f)),
  ]);
}

describe("redo log format", () => {
  it("reads back the header it wrote, and refuses bytes that are not one", () => {
    const h = encodeHeader({ schemaVersion: 9, epoch: 2 ** 52 - 3 });
    expect(h.length).toBe(REDO_HEADER_BYTES);
    expect(decodeHeader(h)).toEqual({ format: REDO_FORMAT, schemaVersion: 9, epoch: 2 ** 52 - 3 });
    expect(decodeHeader(Buffer.from("SQLite format 3\0 and more bytes"))).toBeNull();
    expect(decodeHeader(h.subarray(0, 10))).toBeNull();
  });

  it("round-trips every kind of argument, in order, with each statement's SQL", () => {
    const w = new FrameWriter();
    w.run(0, INSERT, [1, "héllo ✓ 😀", null, new Uint8Array([0, 255, 7])]);
    w.run(1, DELETE, [2 ** 53 - 1]);
    w.run(0, INSERT, [-0.5, "", null, new Uint8Array()]);
    expect(w.records).toBe(3);
    const frames = decodeFrames(log(w.finish(1)));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.seq).toBe(1);
    expect(frames[0]!.runs).toEqual([
      { sql: INSERT, args: [1, "héllo ✓ 😀", null, new Uint8Array([0, 255, 7])] },
      { sql: DELETE, args: [2 ** 53 - 1] },
      { sql: INSERT, args: [-0.5, "", null, new Uint8Array()] },
    ]);
    expect(w.records).toBe(0);
  });

  it("round-trips strings short and long, ASCII and not, and one that turns non-ASCII midway", () => {
    const w = new FrameWriter();
    const texts = [
      "a",
      "x".repeat(128),
      "y".repeat(129),
      `${"z".repeat(60)}é${"z".repeat(10)}`,
      "ж",
      `${"q".repeat(127)}😀`,
    ];
    for (const t of texts) w.run(0, INSERT, [t, t.length, null, null]);
    const frames = decodeFrames(log(w.finish(1)));
    expect(frames[0]!.runs.map((r) => r.args[0])).toEqual(texts);
  });

  it("defines a statement once per log, and again after the log restarts", () => {
    const w = new FrameWriter();
    w.run(0, DELETE, [1]);
    const first = Buffer.from(w.finish(1));
    w.run(0, DELETE, [2]);
    const second = Buffer.from(w.finish(2));
    expect(second.length).toBeLessThan(first.length);
    expect(decodeFrames(log(first, second)).map((f) => f.runs[0]!.args)).toEqual([[1], [2]]);
    // Without the frame that defined it, the statement is unknown: the log ends there.
    expect(decodeFrames(log(second))).toEqual([]);
    w.restart();
    w.run(0, DELETE, [3]);
    expect(decodeFrames(log(w.finish(1)))[0]!.runs).toEqual([{ sql: DELETE, args: [3] }]);
  });

  it("a discarded frame's definitions are made again by the next frame", () => {
    const w = new FrameWriter();
    w.run(0, DELETE, [1]);
    w.discard();
    expect(w.records).toBe(0);
    w.run(0, DELETE, [2]);
    expect(decodeFrames(log(w.finish(1)))[0]!.runs).toEqual([{ sql: DELETE, args: [2] }]);
  });

  it("grows past its first buffer for a large frame, and starts small again after it", () => {
    const w = new FrameWriter();
    const text = "x".repeat(100);
    for (let i = 0; i < 20_000; i++) w.run(0, INSERT, [i, text, null, null]);
    const big = w.finish(1);
    expect(big.length).toBeGreaterThan(1024 * 1024);
    const frames = decodeFrames(log(big));
    expect(frames[0]!.runs).toHaveLength(20_000);
    expect(frames[0]!.runs[19_999]!.args).toEqual([19_999, text, null, null]);
    // The next frame is written in a new, small buffer; the big frame's view is left intact.
    const copy = Buffer.from(big);
    w.run(0, INSERT, [1, "y", null, null]);
    const small = w.finish(2);
    expect(small.buffer).not.toBe(big.buffer);
    expect(Buffer.compare(big, copy)).toBe(0);
    expect(decodeFrames(log(copy, small)).map((f) => f.runs.length)).toEqual([20_000, 1]);
  });

  it("ends at a frame cut short or damaged: the frames before it are whole", () => {
    const w = new FrameWriter();
    w.run(0, DELETE, [1]);
    const a = Buffer.from(w.finish(1));
    w.run(0, DELETE, [2]);
    const b = Buffer.from(w.finish(2));
    const whole = log(a, b);
    expect(decodeFrames(whole).map((f) => f.seq)).toEqual([1, 2]);
    for (let cut = whole.length - 1; cut > REDO_HEADER_BYTES + a.length; cut--)
      expect(decodeFrames(whole.subarray(0, cut)).map((f) => f.seq)).toEqual([1]);
    const flipped = Buffer.from(whole);
    flipped[flipped.length - 2]! ^= 0x40;
    expect(decodeFrames(flipped).map((f) => f.seq)).toEqual([1]);
    expect(decodeFrames(whole)[0]!.end).toBe(REDO_HEADER_BYTES + a.length);
  });

  it("refuses arguments it cannot write back exactly", () => {
    const w = new FrameWriter();
    expect(() => w.run(0, DELETE, [{}])).toThrow(TypeError);
    expect(() => w.run(0, DELETE, [10n])).toThrow(TypeError);
  });
});
