// A Store that settles its promises out of order, as a networked store does: every call
// reaches the wrapped store at once (so calls apply in the order they were made), and its
// result is handed back after a random number of event-loop turns (seeded, repeatable).

import type { Store } from "../../src/store/store";

/** A small seeded generator (mulberry32): the same seed gives the same delays. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Scrambled {
  readonly store: Store;
  /** Results the wrapped store has given and the caller has not been handed yet. */
  readonly holding: () => number;
}

/** Wraps store: each result waits 0..maxTurns event-loop turns, drawn from seed. */
export function scrambled(store: Store, seed: number, maxTurns = 4): Scrambled {
  const random = seeded(seed);
  let holding = 0;
  const later = <T>(settle: () => T, turns: number): Promise<T> => {
    holding++;
    return new Promise<T>((resolve, reject) => {
      const step = (left: number) => {
        if (left > 0) {
          setImmediate(() => step(left - 1));
          return;
        }
        holding--;
        try {
          resolve(settle());
        } catch (error) {
          reject(error);
        }
      };
      step(turns);
    });
  };
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: Promise<unknown> = value.apply(target, args);
        return result.then(
          (v) => later(() => v, Math.floor(random() * (maxTurns + 1))),
          (error) =>
            later(
              () => {
                throw error;
              },
              Math.floor(random() * (maxTurns + 1)),
            ),
        );
      };
    },
  });
  return { store: wrapped, holding: () => holding };
}
