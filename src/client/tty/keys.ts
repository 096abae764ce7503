// Bytes from a raw-mode terminal → key events. Pure: a read may end in the middle of a UTF-8
// character, an escape sequence or a paste's end marker, and the rest arrives with the next
// read. Invalid UTF-8 becomes U+FFFD; nothing typed is dropped.

export type KeyName =
  | "enter"
  | "tab"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "up"
  | "down"
  | "home"
  | "end"
  | "word-left"
  | "word-right"
  | "word-rubout"
  | "escape";

export type KeyEvent =
  /** Text to insert (one or more characters, no controls but those typed as such). */
  | { type: "text"; text: string }
  /** A pasted block as it was pasted: line breaks included. */
  | { type: "paste"; text: string }
  | { type: "key"; name: KeyName }
  /** Ctrl+letter, e.g. "c" for Ctrl+C. */
  | { type: "ctrl"; key: string }
  /** The terminal's answer to a cursor position request (ESC [ 6 n), 1-based. */
  | { type: "position"; row: number; col: number }
  /** An escape sequence we do not use (F-keys, mouse): ignored, never inserted. */
  | { type: "unknown"; sequence: string };

const ESC = "\x1b";
const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

/** CSI sequences by their parameters and final byte. */
const CSI_KEYS: Record<string, KeyName> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  "1~": "home",
  "7~": "home",
  "4~": "end",
  "8~": "end",
  "3~": "delete",
  "1;5C": "word-right",
  "1;5D": "word-left",
  "1;3C": "word-right",
  "1;3D": "word-left",
};

/** Alt (ESC-prefixed) keys. */
const ALT_KEYS: Record<string, KeyName> = {
  b: "word-left",
  f: "word-right",
  "\x7f": "word-rubout",
  "\b": "word-rubout",
};

export class KeyDecoder {
  private readonly utf8 = new TextDecoder("utf-8", { fatal: false });
  /** Decoded text not yet turned into events: the start of an unfinished escape sequence. */
  private pending = "";
  private pasting = false;
  /** The last thing was a CR: a LF right after it is the same line break (CR LF). */
  private afterCR = false;

  /** Events for one read's bytes. An unfinished sequence at the end waits for the next read. */
  feed(bytes: Uint8Array | string): KeyEvent[] {
    const text = typeof bytes === "string" ? bytes : this.utf8.decode(bytes, { stream: true });
    this.pending += text;
    return this.drain(false);
  }

  /** True while the input ends in something unfinished (call flush() after a short pause). */
  get waiting(): boolean {
    // Inside a paste, a partial end marker waits for the rest however long it takes.
    return this.pending !== "" && !this.pasting;
  }

  /**
   * No more bytes came for a while: a lone ESC was the Escape key, and an unfinished
   * sequence is taken for what it is so far.
   */
  flush(): KeyEvent[] {
    return this.drain(true);
  }

  /** Paste text with every line break (CR LF, CR, LF) as one LF, also across reads. */
  private lineBreaks(text: string): string {
    let out = "";
    for (const c of text) {
      const cr = this.afterCR;
      this.afterCR = c === "\r";
      if (c === "\n" && cr) continue;
      out += c === "\r" ? "\n" : c;
    }
    return out;
  }

  private drain(final: boolean): KeyEvent[] {
    const out: KeyEvent[] = [];
    let s = this.pending;
    let text = "";
    const emitText = () => {
      if (text) out.push({ type: "text", text });
      text = "";
    };
    while (s.length) {
      if (this.pasting) {
        const end = s.indexOf(PASTE_END);
        if (end >= 0) {
          if (end > 0) out.push({ type: "paste", text: this.lineBreaks(s.slice(0, end)) });
          s = s.slice(end + PASTE_END.length);
          this.pasting = false;
          continue;
        }
        // Keep back what may be the start of the end marker.
        const keep = partialSuffix(s, PASTE_END);
        if (s.length > keep) out.push({ type: "paste", text: this.lineBreaks(s.slice(0, s.length - keep)) });
        s = s.slice(s.length - keep);
        break;
      }
      const c = s[0]!;
      if (c === ESC) {
        const seq = escapeSequence(s);
        if (seq === null) {
          // Unfinished: wait for more bytes, unless none are coming.
          if (!final) break;
          emitText();
          if (s.length === 1) out.push({ type: "key", name: "escape" });
          else out.push({ type: "unknown", sequence: s });
          s = "";
          break;
        }
        emitText();
        this.afterCR = false;
        s = s.slice(seq.length);
        if (seq === PASTE_START) {
          this.pasting = true;
          continue;
        }
        out.push(keyFor(seq));
        continue;
      }
      const code = c.charCodeAt(0);
      const cr = this.afterCR;
      this.afterCR = code === 0x0d;
      if (code === 0x0a && cr) {
        s = s.slice(1);
        continue;
      }
      if (code < 0x20 || code === 0x7f) {
        emitText();
        out.push(controlKey(code));
        s = s.slice(1);
        continue;
      }
      text += c;
      s = s.slice(1);
    }
    emitText();
    this.pending = s;
    return out;
  }
}

/** The whole escape sequence at the start of s, or null when s ends before it does. */
function escapeSequence(s: string): string | null {
  if (s.length < 2) return null;
  const second = s[1]!;
  if (second === "[") {
    // CSI: parameter and intermediate bytes 0x20-0x3f, then one final byte 0x40-0x7e.
    for (let i = 2; i < s.length; i++) {
      const b = s.charCodeAt(i);
      if (b >= 0x40 && b <= 0x7e) return s.slice(0, i + 1);
      if (b < 0x20 || b > 0x3f) return s.slice(0, i); // malformed: stop before the stray byte
      if (i > 32) return s.slice(0, i + 1); // absurdly long: give up on it
    }
    return null;
  }
  if (second === "O") return s.length < 3 ? null : s.slice(0, 3); // SS3: ESC O A etc.
  if (second === ESC) return ESC; // Escape, then whatever the next ESC starts (Alt+arrow)
  // Alt+key: ESC and one character (a whole code point).
  const cp = s.codePointAt(1)!;
  return s.slice(0, cp > 0xffff ? 3 : 2);
}

function keyFor(seq: string): KeyEvent {
  if (seq === ESC) return { type: "key", name: "escape" };
  if (seq.startsWith("\x1b[")) {
    const report = /^(\d{1,5});(\d{1,5})R$/.exec(seq.slice(2));
    if (report) return { type: "position", row: Number(report[1]), col: Number(report[2]) };
    const name = CSI_KEYS[seq.slice(2)];
    return name ? { type: "key", name } : { type: "unknown", sequence: seq };
  }
  if (seq.startsWith("\x1bO")) {
    const name = CSI_KEYS[seq.slice(2)];
    return name ? { type: "key", name } : { type: "unknown", sequence: seq };
  }
  const name = ALT_KEYS[seq.slice(1)];
  return name ? { type: "key", name } : { type: "unknown", sequence: seq };
}

function controlKey(code: number): KeyEvent {
  switch (code) {
    case 0x0d:
    case 0x0a:
      return { type: "key", name: "enter" };
    case 0x09:
      return { type: "key", name: "tab" };
    case 0x7f:
    case 0x08:
      return { type: "key", name: "backspace" };
    default:
      return { type: "ctrl", key: String.fromCharCode(code + 0x60) };
  }
}

/** The length of the longest end of s that is a proper prefix of marker. */
function partialSuffix(s: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, s.length); n > 0; n--) {
    if (s.endsWith(marker.slice(0, n))) return n;
  }
  return 0;
}
