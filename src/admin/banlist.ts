// The bans in force, as the listener checks them at every accept.

import type { Ban } from "../store/store";
import { contains, type Prefix, parsePrefix } from "./prefix";

export class BanList {
  private entries: { prefix: Prefix; ban: Ban }[] = [];

  /** Replaces the list (bans come from the store, already canonical). */
  set(bans: readonly Ban[]): void {
    this.entries = bans.map((ban) => ({ prefix: parsePrefix(ban.prefix), ban }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The ban covering address at now, if any. */
  covering(address: string, now: number): Ban | undefined {
    for (const e of this.entries) {
      if (e.ban.until !== null && e.ban.until <= now) continue;
      if (contains(e.prefix, address)) return e.ban;
    }
    return undefined;
  }
}
