import { describe, expect, it } from "bun:test";
import { FrameTooLargeError, ProtocolError } from "../../src/wire/errors";
import { encodeFrame, FrameDecoder } from "../../src/wire/frame";
import { varintSize, writeVarint } from "../../src/wire/varint";

// --- helpers ---

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
/** n bytes 0, 1, 2, ... (mod 256): a body whose every byte is known. */
const body = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

/** mulberry32: a tiny seeded PRNG, so every run sees the same "random" inputs. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Feeds chunks in order; returns every frame as hex and `waiting` after each chunk. */
function feed(d: FrameDecoder, chunks: Uint8Array[]): { frames: string[]; waiting: number[] } {
  const frames: string[] = [];
  const waiting: number[] = [];
  for (const c of chunks) {
    frames.push(...d.push(c).map(hex));
    waiting.push(d.waiting);
  }
  return { frames, waiting };
}

const bytesOf = (frame: Uint8Array): Uint8Array[] => [...frame].map((b) => Uint8Array.of(b));

function expectThrows(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  message: RegExp,
): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as Error).message).toMatch(message);
}

const MAX = 20_000;

// (name, body, frame hex): the frame is the length prefix, then the body.
const CASES: { name: string; body: Uint8Array; frame: string }[] = [
  { name: "empty body", body: body(0), frame: "00" },
  { name: "one byte", body: unhex("07"), frame: "01 07" },
  {
    name: "a PING request",
    body: unhex("0a0131 1009 3001"),
    frame:
      "07" + // length 7
      "0a 01 31" + // field 1 (version), length 1, "1"
      "10 09" + // field 2 (opcode), 9 = PING
      "30 01", // field 6 (request_id), 1
  },
  { name: "127 bytes: the largest one-byte prefix", body: body(127), frame: `7f${hex(body(127))}` },
  { name: "128 bytes: the smallest two-byte prefix", body: body(128), frame: `8001${hex(body(128))}` },
  { name: "300 bytes", body: body(300), frame: `ac02${hex(body(300))}` },
  { name: "16384 bytes: a three-byte prefix", body: body(16384), frame: `808001${hex(body(16384))}` },
];

describe("FrameDecoder and encodeFrame: fixtures", () => {
  for (const c of CASES) {
    describe(c.name, () => {
      it("decodes", () => {
        const d = new FrameDecoder(MAX);
        expect(d.push(unhex(c.frame)).map(hex)).toEqual([hex(c.body)]);
        expect(d.waiting).toBe(0);
      });

      it("encodes", () => {
        expect(hex(encodeFrame(c.body))).toBe(hex(unhex(c.frame)));
      });

      it("round trips", () => {
        expect(new FrameDecoder(MAX).push(encodeFrame(c.body)).map(hex)).toEqual([hex(c.body)]);
      });

      it("decodes fed byte by byte, waiting one more byte each time", () => {
        const frame = unhex(c.frame);
        const { frames, waiting } = feed(new FrameDecoder(MAX), bytesOf(frame));
        expect(frames).toEqual([hex(c.body)]);
        expect(waiting).toEqual([...Array.from({ length: frame.length - 1 }, (_, i) => i + 1), 0]);
      });

      it("decodes split in three chunks at every pair of cut points", () => {
        const frame = unhex(c.frame);
        // Every cut for small frames; for big ones, the cuts around the prefix and the end.
        const cuts =
          frame.length <= 12 ? [...frame.keys()] : [0, 1, 2, 3, 4, 100, frame.length - 1, frame.length];
        for (const i of cuts) {
          for (const j of cuts.filter((j) => j >= i)) {
            const chunks = [frame.subarray(0, i), frame.subarray(i, j), frame.subarray(j)];
            const { frames, waiting } = feed(new FrameDecoder(MAX), chunks);
            expect(frames).toEqual([hex(c.body)]);
            expect(waiting).toEqual([i, j, 0].map((n) => (n === frame.length ? 0 : n)));
          }
        }
      });
    });
  }
});

describe("FrameDecoder", () => {
  it("returns many frames from one chunk, in order", () => {
    const all = Buffer.concat(CASES.map((c) => unhex(c.frame)));
    const d = new FrameDecoder(MAX);
    expect(d.push(all).map(hex)).toEqual(CASES.map((c) => hex(c.body)));
    expect(d.waiting).toBe(0);
  });

  it("returns zero-length frames between others", () => {
    expect(new FrameDecoder(MAX).push(unhex("00 01 07 00 00")).map(hex)).toEqual(["", "07", "", ""]);
  });

  it("keeps the start of the next frame and finishes it from the next chunk", () => {
    const d = new FrameDecoder(MAX);
    expect(d.push(unhex("02 aabb 03 cc")).map(hex)).toEqual(["aabb"]);
    expect(d.waiting).toBe(2);
    expect(d.push(unhex("dd ee 01 ff")).map(hex)).toEqual(["ccddee", "ff"]);
    expect(d.waiting).toBe(0);
  });

  it("returns a view into the chunk for a whole frame and a copy for a split one", () => {
    const d = new FrameDecoder(MAX);
    const chunk = unhex("02 aabb 02 cc");
    const [whole] = d.push(chunk);
    expect(whole!.buffer).toBe(chunk.buffer);
    const next = unhex("dd");
    const [split] = d.push(next);
    expect(hex(split!)).toBe("ccdd");
    expect(split!.buffer).not.toBe(next.buffer);
    expect(split!.buffer).not.toBe(chunk.buffer);
  });

  it("waits on a truncated prefix instead of failing", () => {
    const d = new FrameDecoder(MAX);
    expect(d.push(unhex("80"))).toEqual([]);
    expect(d.waiting).toBe(1);
    expect(d.push(unhex("01")).length).toBe(0);
    expect(d.waiting).toBe(2);
  });

  it("accepts a padded (non-minimal) prefix as protobuf does", () => {
    expect(new FrameDecoder(MAX).push(unhex("8100 aa 8000")).map(hex)).toEqual(["aa", ""]);
  });

  it("an empty chunk changes nothing", () => {
    const d = new FrameDecoder(MAX);
    d.push(unhex("03 aa"));
    expect(d.push(new Uint8Array(0))).toEqual([]);
    expect(d.waiting).toBe(2);
  });

  it("accepts a frame of exactly maxFrameBytes", () => {
    const d = new FrameDecoder(100);
    expect(d.push(unhex("64"))).toEqual([]);
    expect(d.push(body(100)).map(hex)).toEqual([hex(body(100))]);
  });
});

describe("FrameDecoder: errors", () => {
  it("throws FrameTooLargeError on a one-byte prefix over the limit, before any body", () => {
    const d = new FrameDecoder(100);
    let caught: unknown;
    try {
      d.push(unhex("65")); // 101: only the prefix is fed
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FrameTooLargeError);
    expect(caught).toBeInstanceOf(ProtocolError);
    expect(caught).toMatchObject({ name: "FrameTooLargeError", declared: 101, max: 100 });
    expect((caught as Error).message).toBe("frame of 101 bytes is over the maximum frame size of 100 bytes");
  });

  it("throws at the second prefix byte of a two-byte prefix over the limit", () => {
    const d = new FrameDecoder(1000);
    expect(d.push(unhex("e9"))).toEqual([]); // 105 so far
    expectThrows(() => d.push(unhex("07")), FrameTooLargeError, /1001 bytes .* 1000 bytes/); // 1001
  });

  it("throws as soon as a partial prefix already exceeds the limit", () => {
    // ff ff ff (more to come) announces at least 2^21 - 1 after three bytes, far over 1 MiB.
    const d = new FrameDecoder(1 << 20);
    let caught: unknown;
    try {
      d.push(unhex("ffffff"));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FrameTooLargeError);
    expect(caught).toMatchObject({ declared: 2 ** 21 - 1, max: 1 << 20 });
    expect((caught as Error).message).toBe(
      "frame length prefix announces more than the maximum frame size of 1048576 bytes",
    );
  });

  it("names the exact size when the whole prefix was read", () => {
    expectThrows(
      () => new FrameDecoder(100).push(unhex("808001")), // 16384, three bytes
      FrameTooLargeError,
      /^frame of 16384 bytes is over the maximum frame size of 100 bytes$/,
    );
  });

  it("throws ProtocolError on a prefix longer than 5 bytes", () => {
    const d = new FrameDecoder(2 ** 40);
    expect(d.push(unhex("80808080"))).toEqual([]);
    expect(d.waiting).toBe(4);
    let caught: unknown;
    try {
      d.push(unhex("80 01"));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ProtocolError);
    expect(caught).not.toBeInstanceOf(FrameTooLargeError);
    expect((caught as Error).message).toBe("frame length prefix is longer than 5 bytes");
  });

  it("accepts a five-byte prefix that stays in bounds", () => {
    expect(new FrameDecoder(MAX).push(unhex("8180808000 aa")).map(hex)).toEqual(["aa"]);
  });

  it("starts clean after FrameTooLargeError, dropping the rest of the chunk", () => {
    const d = new FrameDecoder(100);
    expect(() => d.push(unhex("65 01 07"))).toThrow(FrameTooLargeError);
    expect(d.waiting).toBe(0);
    expect(d.push(unhex("01 07")).map(hex)).toEqual(["07"]);
  });

  it("starts clean after a malformed prefix", () => {
    const d = new FrameDecoder(2 ** 40);
    expect(() => d.push(unhex("8080808080"))).toThrow(ProtocolError);
    expect(d.waiting).toBe(0);
    expect(d.push(unhex("02 aabb")).map(hex)).toEqual(["aabb"]);
  });

  it("throws only ProtocolError subclasses on random bytes, and keeps waiting bounded", () => {
    const rand = prng(0xc0ffee);
    let errors = 0;
    let frames = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const max = 1 + Math.floor(rand() * 300);
      const d = new FrameDecoder(max);
      for (let n = 0; n < 4; n++) {
        const chunk = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
        try {
          for (const f of d.push(chunk)) {
            expect(f.length).toBeLessThanOrEqual(max);
            frames++;
          }
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          errors++;
        }
        expect(d.waiting).toBeLessThanOrEqual(max + 5);
      }
    }
    // Both paths were exercised, so the loop proves something.
    expect(errors).toBeGreaterThan(100);
    expect(frames).toBeGreaterThan(100);
  });
});

describe("varint", () => {
  // (n, varint hex)
  const VARINTS: [number, string][] = [
    [0, "00"],
    [1, "01"],
    [127, "7f"],
    [128, "8001"],
    [300, "ac02"],
    [16383, "ff7f"],
    [16384, "808001"],
    [2 ** 21 - 1, "ffff7f"],
    [2 ** 28, "8080808001"],
    [2 ** 31, "8080808008"], // past int32: bit operations must not go negative
    [2 ** 32 + 1, "8180808010"],
    [2 ** 35 - 1, "ffffffff7f"],
  ];

  it.each(VARINTS)("writes %d as %s", (n, bytes) => {
    const out = new Uint8Array(8);
    expect(writeVarint(out, 1, n)).toBe(1 + bytes.length / 2);
    expect(hex(out.subarray(1, 1 + bytes.length / 2))).toBe(bytes);
    expect(out[0]).toBe(0);
  });

  it.each(VARINTS)("varintSize(%d) is the length of %s", (n, bytes) => {
    expect(varintSize(n)).toBe(bytes.length / 2);
  });
});

describe("FrameDecoder.split", () => {
  it("moves a frame in progress to a new decoder and leaves the old one clean", () => {
    const shared = new FrameDecoder(1024);
    const frame = encodeFrame(new Uint8Array([1, 2, 3, 4, 5]));
    expect(shared.push(frame.subarray(0, 3))).toEqual([]);
    const own = shared.split();
    expect(shared.waiting).toBe(0);
    expect(own.waiting).toBe(3);
    expect(shared.push(encodeFrame(new Uint8Array([9])))).toEqual([new Uint8Array([9])]);
    expect(own.push(frame.subarray(3))).toEqual([new Uint8Array([1, 2, 3, 4, 5])]);
    expect(own.waiting).toBe(0);
  });
});
