// Turning option strings into checked values; a bad value is a UsageError (exit 2).

export class UsageError extends Error {
  override name = "UsageError";
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "15s", "500ms", "2m", "24h" or a bare number of seconds → milliseconds. */
export function duration(flag: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined || value === "") return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  if (!m)
    throw new UsageError(
      `--${flag} wants a duration such as 500ms, 15s, 2m or 24h; got ${JSON.stringify(value)}`,
    );
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
  if (ms <= 0) throw new UsageError(`--${flag} must be more than zero`);
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
    throw new UsageError(`--${flag} wants a whole number; got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${flag} must be between ${min} and ${max}; got ${n}`);
  return n;
}

export function port(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  if (!/^\d+$/.test(value.trim()) || Number(value) > 65535) {
    throw new UsageError(`${flag} must be a port number (0-65535); got ${JSON.stringify(value)}`);
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
    throw new UsageError(`--${flag} must be one of ${options.join(", ")}; got ${JSON.stringify(value)}`);
  }
  return value as T;
}
