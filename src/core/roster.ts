// Who is logged in on this node, kept in step with Presence (shared by every node), and
// what the node does with the signals it receives. Forced logout and live delivery go
// through Presence and Signals even on one server, so one core serves both deployments.

import type { Account } from "../store/store";
import { Push, Status } from "../wire";
import type { Core } from "./context";
import { type Holder, sameHolder } from "./presence";
import type { Session } from "./session";
import type { Signal } from "./signals";

export class Roster {
  /** Account id → its session on this node. */
  private readonly here = new Map<number, Session>();
  private readonly unsubscribe: () => void;

  constructor(private readonly core: Core) {
    this.unsubscribe = core.signals.subscribe(core.node, (signal) => this.received(signal));
  }

  /** The account's session on this node. */
  local(accountId: number): Session | undefined {
    return this.here.get(accountId);
  }

  /** Accounts claimed by this node (lease renewal, tests). */
  get size(): number {
    return this.here.size;
  }

  /**
   * Makes s the session of account: ends what s was logged in as, claims the account and
   * forces out whoever held it (told why, by a signal to its node; its token revoked,
   * unless it is the token s resumed with: a RESUME replacing its own half-open connection).
   * False when s closed while the claim was made: it then holds nothing.
   */
  async begin(s: Session, account: Account, tokenHash: string, resumed: boolean): Promise<boolean> {
    const core = this.core;
    if (s.account) this.end(s, `switched to ${account.name}`, true);
    const me: Holder = { node: core.node, session: s.id };
    const before = await core.presence.claim(account.id, me);
    if (before && !sameHolder(before, me)) {
      core.signals.send(before.node, {
        type: "force_logout",
        accountId: account.id,
        session: before.session,
        byAddress: s.address,
        resumed,
        tokenHash,
      });
    }
    if (s.closing || s.account) {
      // Closed (or logged in by another path) while claiming: give the claim back.
      core.background(core.presence.release(account.id, me), "releasing a session claim");
      return false;
    }
    s.account = account;
    s.tokenHash = tokenHash;
    core.delivery.reset(s, false);
    core.receipts.reset(s);
    this.here.set(account.id, s);
    core.metrics.sessions++;
    core.background(core.store.recordLogin(account.id, core.now()), "recording a login");
    core.events({ type: "login", conn: s.id, address: s.address, account: account.name, resumed });
    return true;
  }

  /** Logs s out (if logged in); revoke=true also invalidates its session token. */
  end(s: Session, reason: string, revoke: boolean): void {
    const account = s.account;
    if (!account) return;
    const core = this.core;
    if (this.here.get(account.id) === s) {
      this.here.delete(account.id);
      core.background(
        core.presence.release(account.id, { node: core.node, session: s.id }),
        "releasing a session claim",
      );
    }
    if (revoke && s.tokenHash)
      core.background(core.store.deleteToken(s.tokenHash), "revoking a session token");
    s.account = null;
    s.tokenHash = null;
    s.anonymousSince = core.now();
    if (s.deleting) {
      // The deletion did not complete: the account takes messages again.
      s.deleting = false;
      core.signals.broadcast({ type: "deleting", key: account.key, on: false });
      core.background(core.presence.unmarkDeleting(account.id), "clearing a deletion mark");
    }
    core.delivery.reset(s, true);
    core.receipts.reset(s);
    core.metrics.sessions--;
    core.events({ type: "logout", conn: s.id, address: s.address, account: account.name, reason });
  }

  /** The node holding an account: this one if the session is here, else presence's answer. */
  holderNode(accountId: number): string | null | Promise<string | null> {
    if (this.here.has(accountId)) return this.core.node;
    const presence = this.core.presence;
    if (presence.holderNow) return presence.holderNow(accountId)?.node ?? null;
    return presence.holder(accountId).then((h) => h?.node ?? null);
  }

  /**
   * Signals to this node may have been lost: each session here checks that its claim still
   * holds (claiming again what nobody holds, ending what another session took) and re-reads
   * its queue, so no deliver is missed.
   */
  resync(): void {
    const core = this.core;
    for (const [accountId, s] of this.here) {
      const me: Holder = { node: core.node, session: s.id };
      const check = core.presence.holder(accountId).then(async (h) => {
        if (this.here.get(accountId) !== s || s.closing) return;
        if (h === null) await core.presence.claim(accountId, me);
        else if (!sameHolder(h, me)) {
          const name = s.account?.name ?? "";
          core.notify(
            s,
            Push.LOGGED_OUT,
            Status.LOGGED_IN_ELSEWHERE,
            `logged out: ${name} logged in elsewhere`,
          );
          this.end(s, "logged in elsewhere", false);
          return;
        }
        core.delivery.arrived(s, Number.MAX_SAFE_INTEGER);
        // Receipt signals may have been lost too: what waits in the store is read again.
        core.receipts.loggedIn(s);
      });
      core.background(check, "checking a session's claim after signals may have been lost");
    }
  }

  /** Stops taking signals (the core is going away). */
  detach(): void {
    this.unsubscribe();
  }

  private received(signal: Signal): void {
    const core = this.core;
    switch (signal.type) {
      case "deliver": {
        const s = this.here.get(signal.accountId);
        if (!s) return; // logged out meanwhile: the message waits in the queue
        if (signal.message && core.signals.inOrder) core.delivery.live(s, signal.message);
        else core.delivery.arrived(s, signal.fromId);
        return;
      }
      case "force_logout": {
        const other = this.here.get(signal.accountId);
        if (!other || other.id !== signal.session || !other.account) return;
        const name = other.account.name;
        const how = signal.resumed ? "resumed" : "logged in";
        core.notify(
          other,
          Push.LOGGED_OUT,
          Status.LOGGED_IN_ELSEWHERE,
          `logged out: ${name} ${how} elsewhere (${signal.byAddress})`,
        );
        core.events({
          type: "forced_logout",
          conn: other.id,
          address: other.address,
          account: name,
          byAddress: signal.byAddress,
        });
        this.end(other, "logged in elsewhere", other.tokenHash !== signal.tokenHash);
        return;
      }
      case "deleting":
        if (signal.on) core.deleting.add(signal.key);
        else core.deleting.delete(signal.key);
        return;
      case "account_deleted":
        core.deleting.delete(signal.key);
        return;
      case "resync":
        this.resync();
        return;
      case "receipt": {
        const s = this.here.get(signal.accountId);
        if (s) core.receipts.live(s, signal.receipts); // else they wait for its next login
        return;
      }
    }
  }
}
