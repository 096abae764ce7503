// Where a server's control socket is, and how big its data file is.

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { isRedisData } from "../store/redis-url";

/** Where `chat serve` with these options listens for `chat admin`, if anywhere. */
export function controlSocketPath(o: { data: string; controlSocket?: string }): string | undefined {
  if (o.controlSocket) return resolve(o.controlSocket);
  // Beside a data file only: a memory store or a Redis URL has no place of its own for one.
  return o.data === ":memory:" || isRedisData(o.data) ? undefined : `${resolve(o.data)}.sock`;
}

/** Size of the data file with its write-ahead log, for `chat admin stats`. */
export function dataFileStats(path: string): Record<string, number | string> {
  const size = (f: string) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  return { data_file: path, data_bytes: size(path), wal_bytes: size(`${path}-wal`) };
}
