// Address ranges for bans: "203.0.113.7", "203.0.113.0/24", "2001:db8::/32". Parsed to
// bytes, so matching is a byte comparison and every spelling of a range has one canonical
// form (the key a ban is stored and removed under).

import { isIPv4, isIPv6 } from "node:net";

export interface Prefix {
  /** 4 bytes (IPv4) or 16 (IPv6), host bits zeroed. */
  readonly bytes: Uint8Array;
  readonly bits: number;
}

export class PrefixError extends Error {
  override name = "PrefixError";
}

/** Parses ADDRESS or ADDRESS/BITS; throws PrefixError saying what is wrong. */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const bytes = addressBytes(address);
  if (!bytes)
    throw new PrefixError(
      `${JSON.stringify(text.slice(0, 60))} is not an IP address or ADDRESS/PREFIX range (e.g. 203.0.113.7, 203.0.113.0/24, 2001:db8::/32)`,
    );
  const max = bytes.length * 8;
  let bits = max;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b) || Number(b) > max)
      throw new PrefixError(`prefix length in ${JSON.stringify(text.slice(0, 60))} must be 0 to ${max}`);
    bits = Number(b);
  }
  return { bytes: mask(bytes, bits), bits };
}

/** The canonical spelling: host bits cleared, IPv6 compressed. */
export function formatPrefix(p: Prefix): string {
  if (p.bytes.length === 4) return `${[...p.bytes].join(".")}/${p.bits}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((p.bytes[i]! << 8) | p.bytes[i + 1]!).toString(16));
  // The URL parser writes IPv6 in its RFC 5952 compressed form.
  const compressed = new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
  return `${compressed}/${p.bits}`;
}

/** Whether a client's address (as the socket reports it) is inside the range. */
export function contains(p: Prefix, address: string): boolean {
  const bytes = addressBytes(address);
  if (!bytes || bytes.length !== p.bytes.length) return false;
  const full = p.bits >> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== p.bytes[i]) return false;
  const rest = p.bits & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (bytes[full]! & m) === p.bytes[full];
}

// --- internal ---

/** 4 bytes for IPv4 (also when written IPv4-mapped, ::ffff:a.b.c.d), 16 for IPv6, else null. */
function addressBytes(address: string): Uint8Array | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return addressBytes(mapped[1]!);
  if (isIPv4(address)) return Uint8Array.from(address.split(".").map(Number));
  if (!isIPv6(address) || address.includes("%")) return null;
  let text = address;
  const out = new Uint8Array(16);
  // A trailing dotted quad (::1.2.3.4) is the last two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad[1]!.split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

function mask(bytes: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}
