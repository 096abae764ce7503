import { describe, expect, test } from "bun:test";
import {
  decodeSignal,
  decodeSignals,
  encodeSignal,
  encodeSignals,
  MAX_SIGNAL_BYTES,
} from "../../src/cluster/signal-codec";
import type { Signal } from "../../src/core/signals";

describe("signals on the wire between nodes", () => {
  test("every signal type crosses as it is, with its sender", () => {
    const signals: Signal[] = [
      {
        type: "deliver",
        accountId: 7,
        fromId: 42,
        message: { id: 42, recipientId: 7, senderName: "alice", text: "hi ✓", sentAt: 1_900_000_000_000 },
      },
      { type: "force_logout", accountId: 7, session: 3, byAddress: "::1", resumed: true, tokenHash: "ab" },
      { type: "deleting", key: "bob", on: true },
      { type: "account_deleted", accountId: 7, key: "bob" },
    ];
    for (const signal of signals)
      expect(decodeSignal(encodeSignal("n1", signal))).toEqual({ from: "n1", signal });
  });

  test("a type this bus has never heard of crosses too (the core ignores what it does not know)", () => {
    const future = { type: "receipt", accountId: 1, upTo: 9 } as unknown as Signal;
    expect(decodeSignal(encodeSignal("n2", future))).toEqual({ from: "n2", signal: future });
  });

  test("several signals cross as one message, in order; one alone as a single signal", () => {
    const a: Signal = { type: "deliver", accountId: 7, fromId: 1 };
    const b: Signal = { type: "deleting", key: "bob", on: true };
    expect(decodeSignals(encodeSignals("n1", [a, b, a]))).toEqual({ from: "n1", signals: [a, b, a] });
    expect(encodeSignals("n1", [a])).toBe(encodeSignal("n1", a));
    expect(decodeSignals(encodeSignal("n1", b))).toEqual({ from: "n1", signals: [b] });
    expect(decodeSignals('{"v":1,"from":"n","signals":[]}')).toEqual({ error: "an empty list of signals" });
    expect(decodeSignals('{"v":1,"from":"n","signals":[{"type":"deliver"},{}]}')).toEqual({
      error: "a signal without a type",
    });
    expect(decodeSignals('{"v":2,"from":"n","signals":[{"type":"deliver"}]}')).toEqual({
      error: "a signal of version 2",
    });
  });

  test("what is not a signal is refused, saying why", () => {
    expect(decodeSignal("{")).toEqual({ error: "a signal that is not JSON" });
    expect(decodeSignal("3")).toEqual({ error: "a signal that is not an object" });
    expect(decodeSignal('{"v":2,"from":"n","signal":{"type":"deliver"}}')).toEqual({
      error: "a signal of version 2",
    });
    expect(decodeSignal('{"v":1,"signal":{"type":"deliver"}}')).toEqual({
      error: "a signal without its sender",
    });
    expect(decodeSignal('{"v":1,"from":"n","signal":{}}')).toEqual({ error: "a signal without a type" });
    expect(decodeSignal("x".repeat(MAX_SIGNAL_BYTES + 1))).toEqual({
      error: `a signal of ${MAX_SIGNAL_BYTES + 1} characters`,
    });
  });
});
