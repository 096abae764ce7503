import { describe, expect, test } from "bun:test";
import { clientPlace, pairPlace } from "../../src/bench/spread";

describe("pairPlace", () => {
  test("one node: sender and receiver share it", () => {
    for (let i = 0; i < 5; i++) expect(pairPlace(i, 1)).toEqual({ sender: 0, receiver: 0 });
  });

  test("several nodes: every sender's receiver sits on another node", () => {
    for (const n of [2, 3, 5])
      for (let i = 0; i < 50; i++) {
        const p = pairPlace(i, n);
        expect(p.sender).not.toBe(p.receiver);
        expect(p.sender).toBeLessThan(n);
        expect(p.receiver).toBeLessThan(n);
      }
    expect([0, 1, 2, 3].map((i) => pairPlace(i, 2))).toEqual([
      { sender: 0, receiver: 1 },
      { sender: 1, receiver: 0 },
      { sender: 0, receiver: 1 },
      { sender: 1, receiver: 0 },
    ]);
  });

  test("each node carries as many senders as receivers, evenly", () => {
    for (const n of [2, 3, 4]) {
      const senders = new Array(n).fill(0);
      const receivers = new Array(n).fill(0);
      for (let i = 0; i < n * 7; i++) {
        const p = pairPlace(i, n);
        senders[p.sender]++;
        receivers[p.receiver]++;
      }
      expect(senders).toEqual(new Array(n).fill(7));
      expect(receivers).toEqual(new Array(n).fill(7));
    }
  });
});

test("clientPlace goes round robin", () => {
  expect([0, 1, 2, 3, 4].map((i) => clientPlace(i, 3))).toEqual([0, 1, 2, 0, 1]);
  expect(clientPlace(7, 1)).toBe(0);
});
