// Work that finishes in any order, acted on in the order it began. A networked store
// settles its promises out of order; what the core does with the results (push to the
// recipient, answer the sender) must follow the order of the calls, which is the order
// the store applied them in and so the order of the ids it gave out.

export class InOrder {
  private issued = 0;
  private next = 1;
  /** Finished out of turn, waiting for the ones before: ticket → what to do. */
  private waiting: Map<number, () => void> | null = null;

  /** onError hears of a callback that threw; the ones after it still run. */
  constructor(private readonly onError: (error: unknown) => void) {}

  /** A ticket for work about to begin; tickets are handed out in order. */
  ticket(): number {
    return ++this.issued;
  }

  /** The work of ticket finished: runs fn now if it is its turn, else once the earlier ones ran. */
  done(ticket: number, fn: () => void): void {
    if (ticket !== this.next) {
      this.waiting ??= new Map();
      this.waiting.set(ticket, fn);
      return;
    }
    this.run(fn);
    const waiting = this.waiting;
    if (!waiting) return;
    for (let f = waiting.get(this.next); f; f = waiting.get(this.next)) {
      waiting.delete(this.next);
      this.run(f);
    }
    if (waiting.size === 0) this.waiting = null;
  }

  /** Tickets whose work has not been acted on yet. */
  get outstanding(): number {
    return this.issued - this.next + 1;
  }

  private run(fn: () => void): void {
    this.next++;
    try {
      fn();
    } catch (error) {
      this.onError(error);
    }
  }
}
