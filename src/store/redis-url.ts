// `--data redis://[user:password@]host:port[/db]` (or rediss:// for TLS): recognising such a
// value, checking it, adding the password from CHAT_REDIS_PASSWORD, and a description of it
// that never shows the password. Pure: no connection is made here.

export interface RedisTarget {
  /** The URL handed to the client, with the password when there is one. */
  readonly url: string;
  /** For logs and errors: scheme, user, host, port and database, no password. */
  readonly display: string;
  readonly tls: boolean;
}

export type RedisTargetCheck = { ok: true; target: RedisTarget } | { ok: false; reason: string };

/** Whether a --data value names a Redis server rather than a file. */
export function isRedisData(data: string): boolean {
  return /^rediss?:\/\//i.test(data);
}

/** Checks a redis:// or rediss:// URL; envPassword (CHAT_REDIS_PASSWORD) fills in a missing password. */
export function parseRedisTarget(data: string, envPassword?: string): RedisTargetCheck {
  let u: URL;
  try {
    u = new URL(data);
  } catch {
    return {
      ok: false,
      reason: `${redact(data)} is not a valid URL (expected redis://[user:password@]host:port[/db])`,
    };
  }
  const scheme = u.protocol.toLowerCase();
  if (scheme !== "redis:" && scheme !== "rediss:")
    return { ok: false, reason: `${redact(data)}: the scheme must be redis:// or rediss://` };
  if (!u.hostname) return { ok: false, reason: `${redact(data)}: the URL has no host` };
  if (u.search || u.hash)
    return { ok: false, reason: `${redact(data)}: query parameters and fragments are not supported` };
  const db = u.pathname.replace(/^\//, "");
  if (db !== "" && !/^(?:0|[1-9]\d{0,4})$/.test(db))
    return { ok: false, reason: `${redact(data)}: the database must be a number, as in redis://host:6379/0` };
  if (!u.password && envPassword) u.password = encodeURIComponent(envPassword);
  const port = u.port || "6379";
  const user = u.username ? `${decodeURIComponent(u.username)}@` : "";
  return {
    ok: true,
    target: {
      url: u.toString(),
      display: `${scheme}//${user}${u.hostname}:${port}/${db || "0"}`,
      tls: scheme === "rediss:",
    },
  };
}

/** The URL with any password replaced by "***", for error messages. */
export function redact(data: string): string {
  return data.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/i, "$1***@");
}
