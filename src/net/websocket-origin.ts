// Which pages may open a WebSocket to the server. A browser sends `Origin` with every
// WebSocket handshake and lets any page open one to any server, so without this check a
// page elsewhere could drive a visitor's browser to talk to this server from the visitor's
// address (its per-address budgets). Clients that are not browsers send no Origin and are
// let in: they could connect over TCP anyway.

/** The origin (scheme://host[:port], lower case, default port dropped) of a URL, or null. */
export function originOf(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return u.origin;
  } catch {
    return null;
  }
}

/**
 * Parses a --web-allowed-origin list (comma-separated origins such as
 * https://chat.example.org); throws with the offending entry if one is not an origin.
 */
export function parseAllowedOrigins(list: string | undefined): string[] {
  if (!list?.trim()) return [];
  return list.split(",").map((raw) => {
    const entry = raw.trim();
    const origin = originOf(entry);
    // An origin has no path, query or fragment: "https://a.example/" is accepted as https://a.example.
    if (!origin || !/^https?:\/\/[^/?#]+\/?$/i.test(entry))
      throw new Error(
        `--web-allowed-origin wants origins such as https://chat.example.org, comma-separated; got ${JSON.stringify(entry)}`,
      );
    return origin;
  });
}

export type OriginVerdict = { ok: true } | { ok: false; reason: string };

/**
 * origin: the request's Origin header (null if absent); host: its Host header; secure:
 * whether the web port serves HTTPS. The server's own origin is the one the page was
 * loaded from, scheme and Host of this request.
 */
export function checkOrigin(
  origin: string | null,
  host: string | null,
  secure: boolean,
  allowed: readonly string[],
): OriginVerdict {
  if (origin === null) return { ok: true };
  const from = originOf(origin);
  if (!from) return { ok: false, reason: "the Origin header is not an http(s) origin" };
  const own = host ? originOf(`${secure ? "https" : "http"}://${host}`) : null;
  if (from === own || allowed.includes(from)) return { ok: true };
  return {
    ok: false,
    reason: `pages from ${from} may not connect (allowed: this server's own origin${allowed.length ? ` and ${allowed.join(", ")}` : ""}; see --web-allowed-origin)`,
  };
}
