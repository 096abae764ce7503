// Where a server's control socket is, and how big its data file is.

import { statSync } from "node:fs";
import { resolve } from "node:path";

/** Where `chat serve` with these options listens for `chat admin`, if anywhere. */
export function controlSocketPath(o: { data: string; controlSocket?: string }): string | undefined {
  if (o.controlSocket) return resolve(o.controlSocket);
  return o.data === ":memory:" ? undefined : `${resolve(o.data)}.sock`;
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
