// One node's appends to one recipient, kept in call order when ids go stale.
//
// Ids come from blocks of a shared counter (redis-ids.ts), and the recipient's script refuses
// an id at or below the recipient's highest as stale. Within one block that refusal is
// ordered: if an append with id a is stale, the highest id stored there came from a block
// entirely above a's (one of our own ids of that block above a was taken, and so sent, after
// a), so every later append of ours with an id of the same block is stale too. The hazard is
// a block boundary: an append with an id of a new block can be accepted while an earlier one
// with an id of the old block is refused, and the retry then lands after it. So, per
// recipient:
// - appends in flight all carry ids of one block; an append whose id is of another block
//   waits (holding its id) until those in flight are answered: a round trip once per block,
//   pipelining otherwise;
// - a stale answer halts the lane: ids held by waiting appends are dropped, the rest in
//   flight are answered (stale too, by the argument above), and then every refused append
//   is sent again first, in call order, with ids of a fresh block, followed by the rest.

/**
 * How an attempt reports: once, with (null, answer) or (error). A callback rather than a
 * promise: a turn's appends are answered by one settled batch (redis-batch.ts), with no
 * promise of their own on the way. It must not throw.
 */
export type Answered<R> = (error: unknown, answer?: R) => void;

/** An id and the number of its block (IdBlocks.takeInBlock). */
export interface BlockId {
  id: number;
  block: number;
}

interface Entry<R> {
  seq: number;
  attempt: (id: number, answered: Answered<R>) => void;
  id: number | null;
  block: number;
  retries: number;
  resolve: (v: { id: number; answer: R }) => void;
  reject: (e: unknown) => void;
}

interface Lane<R> {
  /** Not sent yet, in call order. */
  waiting: Entry<R>[];
  /** Sent, not answered (a count: answers need no search). */
  sent: number;
  /** Answered stale during a halt, to be sent again first. */
  refused: Entry<R>[];
  /** The block of the ids in flight. */
  block: number;
  halted: boolean;
  /** Counts halts, so that an id taken across one is dropped. */
  epoch: number;
  pumping: boolean;
}

export class AppendLanes<R> {
  private readonly lanes = new Map<number, Lane<R>>();
  private seq = 0;
  /** Stale answers seen (each sent again, or given up on). */
  stale = 0;

  constructor(
    /** The next id: at once when it can (the appends of one turn are then sent in that turn). */
    private readonly take: () => BlockId | Promise<BlockId>,
    private readonly isStale: (answer: R) => boolean,
    /** Called once per halt: the next ids must come from a fresh block. */
    private readonly onStale: () => void,
    /** Times one append is sent again after a stale answer; then its stale answer is returned. */
    private readonly maxRetries: number,
  ) {}

  /**
   * Runs attempt(id, answered) for this recipient with an id above those of this node's
   * earlier appends to it, and again with a newer id while the answer is stale (up to
   * maxRetries). attempt must send its command when called, or on the microtask queue
   * (redis-batch.ts): either way after the earlier attempts of this lane.
   */
  append(
    recipientId: number,
    attempt: (id: number, answered: Answered<R>) => void,
  ): Promise<{ id: number; answer: R }> {
    let lane = this.lanes.get(recipientId);
    if (!lane) {
      lane = { waiting: [], sent: 0, refused: [], block: -1, halted: false, epoch: 0, pumping: false };
      this.lanes.set(recipientId, lane);
    }
    const l = lane;
    return new Promise((resolve, reject) => {
      l.waiting.push({ seq: this.seq++, attempt, id: null, block: -1, retries: 0, resolve, reject });
      this.pump(recipientId, l);
    });
  }

  /** Recipients with appends under way (for tests: lanes go when idle). */
  get size(): number {
    return this.lanes.size;
  }

  /**
   * Sends what the lane may send now. Synchronous while ids come at once (most calls):
   * an append costs no promise of its own here. While an id is awaited, the lane stays
   * pumping and resumes when it comes.
   */
  private pump(recipientId: number, lane: Lane<R>): void {
    if (lane.pumping) return;
    lane.pumping = true;
    while (!lane.halted && lane.waiting.length > 0) {
      const e = lane.waiting[0]!;
      if (e.id === null) {
        let t: BlockId | Promise<BlockId>;
        try {
          t = this.take();
        } catch (error) {
          lane.waiting.shift();
          e.reject(error);
          continue;
        }
        if (t instanceof Promise) {
          this.resumeWith(recipientId, lane, e, t);
          return;
        }
        e.id = t.id;
        e.block = t.block;
      }
      // Another block than the appends in flight: wait for their answers.
      if (lane.sent > 0 && e.block !== lane.block) break;
      lane.waiting.shift();
      lane.block = e.block;
      lane.sent++;
      const id = e.id;
      e.attempt(id, (error, answer) => {
        if (error === null) {
          this.answered(recipientId, lane, e, id, answer as R);
          return;
        }
        lane.sent--;
        e.reject(error);
        this.settle(recipientId, lane);
      });
    }
    lane.pumping = false;
    this.dropIfIdle(recipientId, lane);
  }

  /** An id for e was not at hand: the lane pumps on once it comes (still pumping till then). */
  private resumeWith(recipientId: number, lane: Lane<R>, e: Entry<R>, t: Promise<BlockId>): void {
    const epoch = lane.epoch;
    t.then(
      (b) => {
        // A halt meanwhile: this id may be below the retries' ids; take again.
        if (lane.epoch === epoch && lane.waiting[0] === e) {
          e.id = b.id;
          e.block = b.block;
        }
      },
      (error) => {
        remove(lane.waiting, e);
        e.reject(error);
      },
    ).then(() => {
      lane.pumping = false;
      this.pump(recipientId, lane);
    });
  }

  private answered(recipientId: number, lane: Lane<R>, e: Entry<R>, id: number, answer: R): void {
    lane.sent--;
    if (!this.isStale(answer)) {
      e.resolve({ id, answer });
    } else {
      if (!lane.halted) {
        lane.halted = true;
        lane.epoch++;
        for (const w of lane.waiting) w.id = null;
        this.onStale();
      }
      this.stale++;
      e.retries++;
      if (e.retries > this.maxRetries) e.resolve({ id, answer });
      else {
        e.id = null;
        lane.refused.push(e);
      }
    }
    this.settle(recipientId, lane);
  }

  /** After an answer: a halt ends once nothing is in flight, the refused going first. */
  private settle(recipientId: number, lane: Lane<R>): void {
    if (lane.halted && lane.sent === 0) {
      lane.halted = false;
      lane.refused.sort((a, b) => a.seq - b.seq);
      lane.waiting = [...lane.refused, ...lane.waiting];
      lane.refused = [];
    }
    this.pump(recipientId, lane);
  }

  private dropIfIdle(recipientId: number, lane: Lane<R>): void {
    const idle = !lane.pumping && lane.waiting.length + lane.sent + lane.refused.length === 0;
    if (idle && this.lanes.get(recipientId) === lane) this.lanes.delete(recipientId);
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
