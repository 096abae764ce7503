import { describe, expect, test } from "bun:test";
import { KeyDecoder, type KeyEvent } from "../../../src/client/tty/keys";

const enc = (s: string) => new TextEncoder().encode(s);

/** Feeds the bytes one at a time: every split point at once. */
function byteByByte(bytes: Uint8Array): KeyEvent[] {
  const d = new KeyDecoder();
  const out: KeyEvent[] = [];
  for (const b of bytes) out.push(...d.feed(Uint8Array.of(b)));
  return out;
}

/** Adjacent text and paste events merged, so split and whole reads compare equal. */
function merged(events: KeyEvent[]): KeyEvent[] {
  const out: KeyEvent[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (last && (e.type === "text" || e.type === "paste") && last.type === e.type) last.text += e.text;
    else out.push(e.type === "text" || e.type === "paste" ? { ...e } : e);
  }
  return out;
}

describe("KeyDecoder", () => {
  test("text, Enter, Backspace, Tab and Ctrl keys", () => {
    expect(new KeyDecoder().feed(enc("hi\r\x7f\t\x01\x03\x04\x17"))).toEqual([
      { type: "text", text: "hi" },
      { type: "key", name: "enter" },
      { type: "key", name: "backspace" },
      { type: "key", name: "tab" },
      { type: "ctrl", key: "a" },
      { type: "ctrl", key: "c" },
      { type: "ctrl", key: "d" },
      { type: "ctrl", key: "w" },
    ]);
  });

  test("arrows, Home/End, Delete, word moves in their CSI and SS3 forms", () => {
    const keys = new KeyDecoder()
      .feed(
        enc("\x1b[A\x1b[B\x1b[C\x1b[D\x1bOH\x1bOF\x1b[1~\x1b[4~\x1b[3~\x1b[1;5C\x1b[1;5D\x1bb\x1bf\x1b\x7f"),
      )
      .map((e) => (e.type === "key" ? e.name : e.type));
    expect(keys).toEqual([
      "up",
      "down",
      "right",
      "left",
      "home",
      "end",
      "home",
      "end",
      "delete",
      "word-right",
      "word-left",
      "word-left",
      "word-right",
      "word-rubout",
    ]);
  });

  test("every sequence split byte by byte decodes as it does whole", () => {
    const input = enc("héllo 世界 🙂\x1b[D\x1b[1;5C\x1b[200~pasted\nlines 😀\x1b[201~end\r");
    const whole = merged(new KeyDecoder().feed(input));
    expect(merged(byteByByte(input))).toEqual(whole);
    expect(whole).toEqual([
      { type: "text", text: "héllo 世界 🙂" },
      { type: "key", name: "left" },
      { type: "key", name: "word-right" },
      { type: "paste", text: "pasted\nlines 😀" },
      { type: "text", text: "end" },
      { type: "key", name: "enter" },
    ]);
  });

  test("bracketed paste: line breaks of any kind become LF, controls are not keys, the end marker may be split", () => {
    const d = new KeyDecoder();
    const events = [...d.feed(enc("\x1b[200~a\r\nb\rc\x03\x1b[2")), ...d.feed(enc("01~x"))];
    expect(merged(events)).toEqual([
      { type: "paste", text: "a\nb\nc\x03" },
      { type: "text", text: "x" },
    ]);
  });

  test("a paste stays a paste across a pause, even one in the middle of its end marker", () => {
    const d = new KeyDecoder();
    expect(d.feed(enc("\x1b[200~one\ntwo\x1b[2"))).toEqual([{ type: "paste", text: "one\ntwo" }]);
    expect(d.waiting).toBe(false);
    expect(d.flush()).toEqual([]);
    expect(d.feed(enc("01~\r"))).toEqual([{ type: "key", name: "enter" }]);
  });

  test("CR LF from one Enter is one line break, even across reads", () => {
    const d = new KeyDecoder();
    const events = [...d.feed(enc("a\r")), ...d.feed(enc("\nb\n\n"))];
    expect(events.filter((e) => e.type === "key").length).toBe(3);
  });

  test("invalid UTF-8 becomes U+FFFD and the text around it is kept", () => {
    const events = merged(byteByByte(Uint8Array.of(0x61, 0xff, 0x62, 0xc3, 0x28, 0xe4, 0xb8, 0x63)));
    expect(events).toEqual([{ type: "text", text: "a\ufffdb\ufffd(\ufffdc" }]);
  });

  test("ESC ESC [ A (Alt+Up in some terminals) is Escape then Up, nothing inserted", () => {
    expect(new KeyDecoder().feed(enc("\x1b\x1b[A"))).toEqual([
      { type: "key", name: "escape" },
      { type: "key", name: "up" },
    ]);
  });

  test("a lone ESC waits, then flush() makes it the Escape key; unknown sequences are not text", () => {
    const d = new KeyDecoder();
    expect(d.feed(enc("\x1b"))).toEqual([]);
    expect(d.waiting).toBe(true);
    expect(d.flush()).toEqual([{ type: "key", name: "escape" }]);
    expect(d.feed(enc("\x1b[15~\x1b[<0;1;2M"))).toEqual([
      { type: "unknown", sequence: "\x1b[15~" },
      { type: "unknown", sequence: "\x1b[<0;1;2M" },
    ]);
  });

  test("random bytes never throw and never lose a printable character", () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 200; round++) {
      const bytes = Uint8Array.from({ length: 64 }, () => rand() & 0xff);
      const d = new KeyDecoder();
      const events: KeyEvent[] = [];
      let i = 0;
      while (i < bytes.length) {
        const n = 1 + (rand() % 8);
        events.push(...d.feed(bytes.slice(i, i + n)));
        i += n;
      }
      events.push(...d.flush());
      for (const e of events) expect(["text", "paste", "key", "ctrl", "unknown"]).toContain(e.type);
    }
    // Plain ASCII text survives any split.
    const text = "the quick brown fox jumps over the lazy dog";
    const got = merged(byteByByte(enc(text)));
    expect(got).toEqual([{ type: "text", text }]);
  });
});
