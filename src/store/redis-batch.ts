// Calls for one key made in one turn of the event loop, sent as one command: the appends
// that a turn's SEND requests make (on a Redis Cluster, those of one slot) become one
// script call (one round trip, one EVALSHA) instead of one each. A batch leaves on the
// microtask queue, so batches of one key leave in the order they were opened, and at most
// `max` calls go in one (a fuller batch leaves at once and the next call opens another).
// Each call is told its answer by a callback, all of a batch's in call order when its
// command settles: no promise per call.

/** Told once: (null, answer) or (error). Must not throw. */
export type Done<R> = (error: unknown, answer?: R) => void;

interface Batch<T, R> {
  items: T[];
  done: Done<R>[];
}

export class Batches<T, R> {
  private readonly open = new Map<number, Batch<T, R>>();

  constructor(
    /** Sends the calls of one key; answers one result per call, in their order. */
    private readonly send: (key: number, items: readonly T[]) => Promise<readonly R[]>,
    private readonly max: number,
  ) {}

  add(key: number, item: T, done: Done<R>): void {
    let b = this.open.get(key);
    if (!b) {
      const opened: Batch<T, R> = { items: [], done: [] };
      b = opened;
      this.open.set(key, opened);
      queueMicrotask(() => this.flush(key, opened));
    }
    b.done.push(done);
    b.items.push(item);
    if (b.items.length >= this.max) this.flush(key, b);
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
        const { done } = b;
        for (let i = 0; i < done.length; i++) {
          if (i < answers.length) done[i]!(null, answers[i]!);
          else done[i]!(new Error(`a batch of ${b.items.length} was answered ${answers.length} times`));
        }
      },
      (error) => {
        for (const d of b.done) d(error ?? new Error("a batch failed"));
      },
    );
  }
}
