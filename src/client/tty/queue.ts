// One FIFO of entered lines, shared by the main prompt and sub-prompts: a line entered while
// nobody is reading waits here, so nothing typed or pasted is lost, whatever is running.
// Readers are served in the order they asked; the end of input is sticky.

export interface Take<T> {
  readonly promise: Promise<string | null>;
  /** Gives up waiting: the promise resolves null and the next line goes to the next reader. */
  cancel(): void;
  readonly tag: T;
}

interface Waiter<T> {
  tag: T;
  resolve: (line: string | null) => void;
}

export class LineQueue<T> {
  private readonly lines: string[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private ended = false;

  /** A line entered: to the oldest waiting reader, or queued. Refused (false) after the end. */
  push(line: string): boolean {
    if (this.ended) return false;
    const w = this.waiters.shift();
    if (w) w.resolve(line);
    else this.lines.push(line);
    return true;
  }

  /** The end of input: after the lines already queued, every reader gets null. */
  end(): void {
    this.ended = true;
    if (this.lines.length === 0) for (const w of this.waiters.splice(0)) w.resolve(null);
  }

  /** Stops at once: waiting readers and later ones get null, queued lines are dropped. */
  close(): void {
    this.ended = true;
    this.lines.length = 0;
    for (const w of this.waiters.splice(0)) w.resolve(null);
  }

  /** Ends the input and hands back the lines queued and not read (to say each was not done). */
  drain(): string[] {
    this.end();
    return this.lines.splice(0);
  }

  /** Waits for the next line (or takes the oldest queued one at once). */
  take(tag: T): Take<T> {
    let resolve!: (line: string | null) => void;
    const promise = new Promise<string | null>((r) => {
      resolve = r;
    });
    const w: Waiter<T> = { tag, resolve };
    const queued = this.lines.shift();
    if (queued !== undefined) resolve(queued);
    else if (this.ended) resolve(null);
    else this.waiters.push(w);
    return {
      promise,
      tag,
      cancel: () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          resolve(null);
        }
      },
    };
  }

  /** The reader the next line goes to, if one is waiting. */
  get head(): T | undefined {
    return this.waiters[0]?.tag;
  }

  /** Lines entered and not yet read. */
  get pending(): number {
    return this.lines.length;
  }
}
