// Signals on the wire between nodes: JSON with a version, the sending node and the signal
// as it is, so a new Signal type crosses the bus without a change here. A receiver ignores
// what it cannot read (and says why), and the core ignores types it does not know.

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

export function decodeSignal(text: string): Envelope | { error: string } {
  if (text.length > MAX_SIGNAL_BYTES) return { error: `a signal of ${text.length} characters` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: "a signal that is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null) return { error: "a signal that is not an object" };
  const { v, from, signal } = parsed as { v?: unknown; from?: unknown; signal?: unknown };
  if (v !== SIGNAL_VERSION) return { error: `a signal of version ${JSON.stringify(v)}` };
  if (typeof from !== "string") return { error: "a signal without its sender" };
  if (
    typeof signal !== "object" ||
    signal === null ||
    typeof (signal as { type?: unknown }).type !== "string"
  )
    return { error: "a signal without a type" };
  return { from, signal: signal as Signal };
}
