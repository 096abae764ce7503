// Calls for one key made in one turn of the event loop, sent as one command: the appends to
// one recipient that a turn's SEND requests make become one script call (one round trip,
// one EVALSHA, the recipient's checks read once) instead of one each. A batch leaves on the
// microtask queue, so batches of one key leave in the order they were opened, and at most
// `max` calls go in one (a fuller batch leaves at once and the next call opens another).

interface Batch<T, R> {
  items: T[];
  settle: { resolve: (r: R) => void; reject: (e: unknown) => void }[];
}

export class Batches<T, R> {
  private readonly open = new Map<number, Batch<T, R>>();

  constructor(
    /** Sends the calls of one key; answers one result per call, in their order. */
    private readonly send: (key: number, items: readonly T[]) => Promise<readonly R[]>,
    private readonly max: number,
  ) {}

  add(key: number, item: T): Promise<R> {
    let b = this.open.get(key);
    if (!b) {
      const opened: Batch<T, R> = { items: [], settle: [] };
      b = opened;
      this.open.set(key, opened);
      queueMicrotask(() => this.flush(key, opened));
    }
    const batch = b;
    const p = new Promise<R>((resolve, reject) => batch.settle.push({ resolve, reject }));
    batch.items.push(item);
    if (batch.items.length >= this.max) this.flush(key, batch);
    return p;
  }

  private flush(key: number, b: Batch<T, R>): void {
    if (this.open.get(key) !== b) return; // left already (it was full)
    this.open.delete(key);
    let sent: Promise<readonly R[]>;
    try {
      sent = this.send(key, b.items);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (answers) => {
        b.settle.forEach((s, i) => {
          if (i < answers.length) s.resolve(answers[i]!);
          else s.reject(new Error(`a batch of ${b.items.length} was answered ${answers.length} times`));
        });
      },
      (error) => {
        for (const s of b.settle) s.reject(error);
      },
    );
  }
}
