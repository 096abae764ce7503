// Checks a backup: a SQLite file that passes integrity_check and holds chat data.

import { Database } from "bun:sqlite";
import { statSync } from "node:fs";

export type Verdict =
  | { ok: true; bytes: number; accounts: number; queued: number; schema: number }
  | { ok: false; problem: string };

export function verifyBackup(file: string): Verdict {
  let db: Database;
  try {
    db = new Database(file, { readonly: true });
  } catch (error) {
    return { ok: false, problem: `cannot open it: ${(error as Error).message}` };
  }
  try {
    const rows = db.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
    if (rows.length !== 1 || rows[0]!.integrity_check !== "ok")
      return {
        ok: false,
        problem: `integrity check: ${rows[0]?.integrity_check.slice(0, 200) ?? "no answer"}`,
      };
    const schema = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    const count = (sql: string) => (db.query(sql).get() as { n: number }).n;
    return {
      ok: true,
      bytes: statSync(file).size,
      accounts: count("SELECT count(*) AS n FROM accounts"),
      queued: count("SELECT count(*) AS n FROM messages"),
      schema,
    };
  } catch (error) {
    return { ok: false, problem: (error as Error).message };
  } finally {
    db.close();
  }
}
