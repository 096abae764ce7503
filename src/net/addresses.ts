// Where clients can reach a server listening on host:port.

import { networkInterfaces } from "node:os";

const ANY = new Set(["0.0.0.0", "::", ""]);

/** host:port strings, one per external address (or the host itself when it is specific). */
export function reachableAt(host: string, port: number): { external: string[]; local: string[] } {
  const fmt = (addr: string, family: string) => (family === "IPv6" ? `[${addr}]:${port}` : `${addr}:${port}`);
  if (!ANY.has(host)) return { external: [fmt(host, host.includes(":") ? "IPv6" : "IPv4")], local: [] };
  const external: string[] = [];
  const local: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (host === "0.0.0.0" && a.family !== "IPv4") continue;
      (a.internal ? local : external).push(fmt(a.address, a.family));
    }
  }
  return { external, local };
}
