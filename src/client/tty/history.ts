// The command history file: $XDG_STATE_HOME/chat/history (~/.local/state/chat/history), one
// line per entry, oldest first, readable by its owner only (mode 0600), bounded in entries and
// bytes. Several clients may share it: each addition re-reads the file, so none loses the
// other's lines, and the file is replaced whole (write + rename), never left half-written.

import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const HISTORY_MAX_ENTRIES = 1000;
export const HISTORY_MAX_BYTES = 100 * 1024;

/** The history file for this user, or null when there is no home to put it in. */
export function defaultHistoryFile(env: Record<string, string | undefined> = process.env): string | null {
  const state = env.XDG_STATE_HOME;
  if (state?.startsWith("/")) return join(state, "chat", "history");
  const home = env.HOME || homedir();
  return home ? join(home, ".local", "state", "chat", "history") : null;
}

/** Keeps the newest entries within both bounds. */
export function bound(
  entries: readonly string[],
  maxEntries = HISTORY_MAX_ENTRIES,
  maxBytes = HISTORY_MAX_BYTES,
) {
  const kept: string[] = [];
  let bytes = 0;
  for (let i = entries.length - 1; i >= 0 && kept.length < maxEntries; i--) {
    const size = Buffer.byteLength(entries[i]!) + 1;
    if (bytes + size > maxBytes) break;
    bytes += size;
    kept.push(entries[i]!);
  }
  return kept.reverse();
}

/** Adds a line unless it is empty or the same as the newest entry. */
export function withEntry(entries: readonly string[], line: string): string[] {
  if (line.trim() === "" || line.includes("\n")) return [...entries];
  if (entries[entries.length - 1] === line) return [...entries];
  return bound([...entries, line]);
}

export class HistoryFile {
  constructor(readonly path: string) {}

  /** The entries in the file; none when it does not exist yet. */
  load(): string[] {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    return bound(text.split("\n").filter((l) => l !== ""));
  }

  /** Adds a line to the file and returns all its entries. */
  add(line: string): string[] {
    const entries = withEntry(this.load(), line);
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temp, entries.length ? `${entries.join("\n")}\n` : "", { mode: 0o600 });
    chmodSync(temp, 0o600); // in case an old temp file had other bits
    renameSync(temp, this.path);
    return entries;
  }
}
