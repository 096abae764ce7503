// What `chat admin` and `chat backup` can do, against a store: the running server's (with
// its sessions, through the control socket) or the data file opened directly while no
// server runs. One implementation for both, so they cannot drift apart.

import { randomBytes } from "node:crypto";
import type { PasswordHasher } from "../core/auth";
import { compileGlob } from "../rules/glob";
import { nameKey } from "../rules/names";
import { checkPassword } from "../rules/password";
import type { Account, Ban, Store } from "../store/store";
import { formatPrefix, PrefixError, parsePrefix } from "./prefix";

export type AdminRequest =
  | { action: "accounts"; pattern?: string }
  | { action: "delete"; name: string }
  | { action: "reset-password"; name: string; password?: string }
  | { action: "kick"; name: string }
  | { action: "ban"; address: string; forMs?: number }
  | { action: "unban"; address: string }
  | { action: "bans" }
  | { action: "stats" }
  | { action: "backup"; file: string };

export type AdminAction = AdminRequest["action"];

export type AdminResponse = { ok: true; text: string; data?: unknown } | { ok: false; error: string };

export interface AccountRow {
  name: string;
  createdAt: number;
  lastLoginAt: number | null;
  queued: number;
  online: boolean;
}

/** What only a running server has: its sessions and connections. */
export interface LiveServer {
  isOnline(accountId: number): boolean;
  /** Tells the account's session why and ends it; false when it was not online. */
  kick(accountId: number, why: string): boolean;
  /** Puts bans in force; closes the connections they cover and answers how many. */
  applyBans(bans: readonly Ban[]): number;
  stats(): Record<string, number | string>;
}

export interface AdminContext {
  store: Store;
  passwords: PasswordHasher;
  now(): number;
  /** A deleted account's name stays reserved this long (0: not at all), as after DELETE_ACCOUNT. */
  nameReuseAfterMs: number;
  /** Absent when working on the data file while no server runs. */
  live?: LiveServer;
  /** Writes a consistent copy of the data to file (absolute); absent for a memory store. */
  backup?: (file: string) => void;
  /** Stats of the data file itself (size). */
  dataStats?: () => Record<string, number | string>;
  /** Called once for every action that changed something, in words for the log. */
  log(line: string): void;
}

/** Longest list `accounts` answers with; a pattern narrows it. */
export const MAX_ACCOUNT_ROWS = 10_000;

export const ACTIONS: readonly AdminAction[] = [
  "accounts",
  "delete",
  "reset-password",
  "kick",
  "ban",
  "unban",
  "bans",
  "stats",
  "backup",
];

/** Checks a request read off the control socket (JSON of any shape). */
export function parseRequest(value: unknown): AdminRequest | string {
  if (typeof value !== "object" || value === null) return "a request is a JSON object";
  const r = value as Record<string, unknown>;
  const action = r.action;
  if (typeof action !== "string" || !ACTIONS.includes(action as AdminAction))
    return `unknown action; expected one of ${ACTIONS.join(", ")}`;
  const str = (k: string, optional = false): string | undefined | Error => {
    const v = r[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== "string" || v.length === 0 || v.length > 4096)
      return new Error(`${action} needs ${k} (a string)`);
    return v;
  };
  const fields: Record<AdminAction, [string, boolean][]> = {
    accounts: [["pattern", true]],
    delete: [["name", false]],
    "reset-password": [
      ["name", false],
      ["password", true],
    ],
    kick: [["name", false]],
    ban: [["address", false]],
    unban: [["address", false]],
    bans: [],
    stats: [],
    backup: [["file", false]],
  };
  const out: Record<string, unknown> = { action };
  for (const [k, optional] of fields[action as AdminAction]) {
    const v = str(k, optional);
    if (v instanceof Error) return v.message;
    if (v !== undefined) out[k] = v;
  }
  if (action === "ban" && r.forMs !== undefined) {
    if (typeof r.forMs !== "number" || !Number.isSafeInteger(r.forMs) || r.forMs <= 0)
      return "ban forMs must be a positive whole number of milliseconds";
    out.forMs = r.forMs;
  }
  return out as AdminRequest;
}

/** Runs one request. Never throws: failures are answers. */
export async function runAdmin(c: AdminContext, req: AdminRequest): Promise<AdminResponse> {
  try {
    return await dispatch(c, req);
  } catch (error) {
    if (error instanceof AdminError || error instanceof PrefixError)
      return { ok: false, error: error.message };
    return {
      ok: false,
      error: `${req.action} failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

// --- internal ---

class AdminError extends Error {}

async function dispatch(c: AdminContext, req: AdminRequest): Promise<AdminResponse> {
  switch (req.action) {
    case "accounts":
      return accounts(c, req.pattern ?? "");
    case "delete": {
      const a = await account(c, req.name);
      const wasOnline = c.live?.kick(a.id, "your account was deleted by the server's operator") ?? false;
      const queued = await c.store.countPending(a.id);
      await c.store.deleteAccount(a.id, c.nameReuseAfterMs > 0 ? c.now() + c.nameReuseAfterMs : undefined);
      const what = `deleted account ${a.name} with ${plural(queued, "waiting message")}${wasOnline ? " (its session was logged out)" : ""}`;
      c.log(what);
      return { ok: true, text: what, data: { name: a.name, queued, wasOnline } };
    }
    case "reset-password": {
      const a = await account(c, req.name);
      const generated = req.password === undefined;
      const password = req.password ?? newPassword();
      const check = checkPassword(password);
      if (!check.ok) throw new AdminError(`password not changed: ${check.reason}`);
      await c.store.resetPassword(a.id, await c.passwords.hash(password));
      const wasOnline =
        c.live?.kick(a.id, "your password was reset by the server's operator; log in again") ?? false;
      const what = `reset the password of ${a.name}; its sessions were revoked${wasOnline ? " and it was logged out" : ""}`;
      c.log(what);
      return {
        ok: true,
        text: generated ? `${what}\nnew password (shown once): ${password}` : what,
        data: { name: a.name, wasOnline, ...(generated ? { password } : {}) },
      };
    }
    case "kick": {
      const a = await account(c, req.name);
      if (!c.live) throw new AdminError(`${a.name} is not online: no server is running`);
      if (!c.live.kick(a.id, "logged out by the server's operator"))
        throw new AdminError(`${a.name} is not online`);
      const what = `kicked ${a.name}`;
      c.log(what);
      return { ok: true, text: what, data: { name: a.name } };
    }
    case "ban": {
      const prefix = formatPrefix(parsePrefix(req.address));
      const now = c.now();
      const until = req.forMs === undefined ? null : now + req.forMs;
      await c.store.saveBan({ prefix, until, createdAt: now });
      const closed = c.live?.applyBans(await c.store.listBans(now)) ?? 0;
      const how = until === null ? "until unbanned" : `for ${span(req.forMs!)} (until ${iso(until)})`;
      const what = `banned ${prefix} ${how}${c.live ? `; closed ${plural(closed, "connection")}` : "; in force from the next start"}`;
      c.log(what);
      return { ok: true, text: what, data: { prefix, until, closed } };
    }
    case "unban": {
      const prefix = formatPrefix(parsePrefix(req.address));
      if (!(await c.store.deleteBan(prefix))) {
        const bans = await c.store.listBans(c.now());
        const known = bans.length ? ` (bans: ${bans.map((b) => b.prefix).join(", ")})` : " (there are none)";
        throw new AdminError(`no ban on ${prefix}${known}`);
      }
      c.live?.applyBans(await c.store.listBans(c.now()));
      const what = `unbanned ${prefix}`;
      c.log(what);
      return { ok: true, text: what, data: { prefix } };
    }
    case "bans": {
      const bans = await c.store.listBans(c.now());
      const text = bans.length
        ? bans
            .map((b) => `${b.prefix}  ${b.until === null ? "until unbanned" : `until ${iso(b.until)}`}`)
            .join("\n")
        : "no bans";
      return { ok: true, text, data: bans };
    }
    case "stats": {
      const s = await c.store.stats();
      const bans = (await c.store.listBans(c.now())).length;
      const data: Record<string, number | string> = {
        accounts: s.accounts,
        queued: s.queued,
        bans,
        ...(c.dataStats?.() ?? {}),
        ...(c.live?.stats() ?? { server: "not running" }),
      };
      return {
        ok: true,
        text: Object.entries(data)
          .map(([k, v]) => `${k}: ${v}`)
          .join("\n"),
        data,
      };
    }
    case "backup": {
      if (!c.backup)
        throw new AdminError(
          "the server keeps its data in memory (--data :memory:): there is nothing to back up",
        );
      try {
        c.backup(req.file);
      } catch (error) {
        const m = error instanceof Error ? error.message : String(error);
        if (/output file already exists/i.test(m))
          throw new AdminError(`${req.file} already exists; choose a new file name`);
        throw new AdminError(`could not write the backup to ${req.file}: ${m}`);
      }
      c.log(`backed up the data to ${req.file}`);
      return { ok: true, text: `backed up to ${req.file}`, data: { file: req.file } };
    }
  }
}

async function accounts(c: AdminContext, pattern: string): Promise<AdminResponse> {
  const glob = compileGlob(pattern);
  if (!glob.ok) throw new AdminError(`invalid pattern: ${glob.reason}`);
  // The operator's own listing: page through the store's bounded calls until enough matched.
  const found: Account[] = [];
  let afterKey = "";
  for (;;) {
    const page = await c.store.listAccounts({
      afterKey,
      pattern: glob.glob,
      limit: MAX_ACCOUNT_ROWS + 1 - found.length,
      maxExamined: 10_000,
    });
    found.push(...page.accounts);
    if (found.length > MAX_ACCOUNT_ROWS || page.examinedTo === null) break;
    afterKey = page.examinedTo;
  }
  const rows: AccountRow[] = [];
  for (const a of found.slice(0, MAX_ACCOUNT_ROWS)) {
    rows.push({
      name: a.name,
      createdAt: a.createdAt,
      lastLoginAt: await c.store.lastLogin(a.id),
      queued: await c.store.countPending(a.id),
      online: c.live?.isOnline(a.id) ?? false,
    });
  }
  const what = pattern ? ` matching ${JSON.stringify(pattern)}` : "";
  if (!rows.length) return { ok: true, text: `no accounts${what}`, data: rows };
  const table = [
    ["NAME", "CREATED", "LAST LOGIN", "QUEUED", "ONLINE"],
    ...rows.map((r) => [
      r.name,
      iso(r.createdAt),
      r.lastLoginAt === null ? "never" : iso(r.lastLoginAt),
      String(r.queued),
      r.online ? "yes" : "no",
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd(),
  );
  const more =
    found.length > MAX_ACCOUNT_ROWS ? [`(first ${MAX_ACCOUNT_ROWS} shown; narrow with a pattern)`] : [];
  return { ok: true, text: [...lines, ...more].join("\n"), data: rows };
}

async function account(c: AdminContext, name: string): Promise<Account> {
  const a = await c.store.findAccount(nameKey(name));
  if (!a) throw new AdminError(`no account named ${JSON.stringify(name.slice(0, 60))}`);
  return a;
}

/** 20 characters from an alphabet without look-alikes (0/O, 1/l/I): about 100 bits. */
function newPassword(): string {
  const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = randomBytes(40);
  let out = "";
  for (const b of bytes) {
    // Rejection sampling keeps every character equally likely.
    if (b >= 256 - (256 % alphabet.length)) continue;
    out += alphabet[b % alphabet.length];
    if (out.length === 20) return out;
  }
  return out.length >= 16 ? out : newPassword();
}

/** "90 s", "30 min", "1 h", "1.5 h", "7 d". */
function span(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
  ];
  for (const [size, name] of units) if (ms >= size) return `${Math.round((ms / size) * 10) / 10} ${name}`;
  return `${Math.round(ms / 100) / 10} s`;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
