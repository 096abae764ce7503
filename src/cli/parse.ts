// Turning option strings into checked values; a bad value is a UsageError (exit 2).

import { quote } from "../net/clip";

export class UsageError extends Error {
  override name = "UsageError";
  /** The option (flag name without dashes) the error is about, when there is one. */
  readonly option: string | undefined;
  constructor(message: string, option?: string) {
    super(message);
    this.option = option;
  }
}

/** How an option is named in a message: "--heartbeat", or "WORKLOAD" for a positional. */
const label = (flag: string) => (/^[A-Z]/.test(flag) ? flag : `--${flag}`);

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "15s", "500ms", "2m", "24h" or a bare number of seconds → milliseconds. */
export function duration(flag: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined || value === "") return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  if (!m)
    throw new UsageError(
      `${label(flag)} wants a duration such as 500ms, 15s, 2m or 24h; got ${quote(value, 40)}`,
      flag,
    );
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
  if (ms <= 0) throw new UsageError(`${label(flag)} must be more than zero; got ${quote(value, 40)}`, flag);
  return ms;
}

export function integer(
  flag: string,
  value: string | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value.trim()))
    throw new UsageError(
      `${label(flag)} wants a whole number of at least ${min}; got ${quote(value, 40)}`,
      flag,
    );
  const n = Number(value);
  if (n < min || n > max)
    throw new UsageError(`${label(flag)} must be between ${min} and ${max}; got ${value.trim()}`, flag);
  return n;
}

/** A TCP port; `min` 0 where 0 means "pick a free port". `flag` is shown as given. */
export function port(flag: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value.trim()) || Number(value) > 65535 || Number(value) < min) {
    throw new UsageError(
      `${flag} must be a port number (${min}-65535); got ${quote(value, 40)}`,
      flag.replace(/^-+/, ""),
    );
  }
  return Number(value);
}

export function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  options: readonly T[],
  fallback: T,
): T {
  if (value === undefined || value === "") return fallback;
  if (!(options as readonly string[]).includes(value)) {
    throw new UsageError(
      `${label(flag)} must be one of ${options.join(", ")}; got ${quote(value, 40)}`,
      flag,
    );
  }
  return value as T;
}
