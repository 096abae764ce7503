// Signals on the wire between nodes: JSON with a version, the sending node and the signal
// as it is, so a new Signal type crosses the bus without a change here. A receiver ignores
// what it cannot read (and says why), and the core ignores types it does not know.
// Several signals for one channel sent in one turn of the event loop cross as one message: `signals` holds
// them in order (a single one still crosses as `signal`).

import type { Signal } from "../core/signals";

export const SIGNAL_VERSION = 1;

/** Larger payloads are refused: a deliver carries one message of at most a few KiB. */
export const MAX_SIGNAL_BYTES = 1 << 20;

export interface Envelope {
  /** The sending node. */
  from: string;
  signal: Signal;
}

export function encodeSignal(from: string, signal: Signal): string {
  return JSON.stringify({ v: SIGNAL_VERSION, from, signal });
}

/** The one signal of a message from encodeSignal. */
export function decodeSignal(text: string): Envelope | { error: string } {
  const got = decodeSignals(text);
  if ("error" in got) return got;
  if (got.signals.length !== 1) return { error: `${got.signals.length} signals where one was expected` };
  return { from: got.from, signal: got.signals[0]! };
}

/** One message for several signals, in order (a single one as encodeSignal makes it). */
export function encodeSignals(from: string, signals: readonly Signal[]): string {
  if (signals.length === 1) return encodeSignal(from, signals[0]!);
  return JSON.stringify({ v: SIGNAL_VERSION, from, signals });
}

/** The signals of a message from encodeSignal or encodeSignals, in order. */
export function decodeSignals(text: string): { from: string; signals: Signal[] } | { error: string } {
  if (text.length > MAX_SIGNAL_BYTES) return { error: `a signal of ${text.length} characters` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: "a signal that is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null) return { error: "a signal that is not an object" };
  const { v, from, signal, signals } = parsed as {
    v?: unknown;
    from?: unknown;
    signal?: unknown;
    signals?: unknown;
  };
  if (v !== SIGNAL_VERSION) return { error: `a signal of version ${JSON.stringify(v)}` };
  if (typeof from !== "string") return { error: "a signal without its sender" };
  const list = Array.isArray(signals) ? (signals as unknown[]) : [signal];
  if (list.length === 0) return { error: "an empty list of signals" };
  for (const x of list)
    if (typeof x !== "object" || x === null || typeof (x as { type?: unknown }).type !== "string")
      return { error: "a signal without a type" };
  return { from, signals: list as Signal[] };
}
