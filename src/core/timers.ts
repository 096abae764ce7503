// What happens with time: heartbeats, dead peers, login and confirmation timeouts, the
// close deadline of closing connections, and the renewal of this node's presence leases.

import { Push, Status } from "../wire";
import type { Core } from "./context";
import { CLOSE_WAIT_MS, type Pipeline } from "./pipeline";
import { describeError, formatDuration } from "./text";

export class Timers {
  private renewedAt: number;
  private renewalFailing = false;

  constructor(
    private readonly core: Core,
    private readonly pipeline: Pipeline,
  ) {
    this.renewedAt = core.now();
  }

  /** Call every few hundred ms. */
  tick(): void {
    const core = this.core;
    const now = core.now();
    const o = core.options;
    const deadAfter = o.heartbeatMs * o.heartbeatMisses;
    for (const s of core.sessions) {
      if (s.closing) {
        if (!s.shut && now - s.closingSince >= CLOSE_WAIT_MS) this.pipeline.shut(s);
        continue;
      }
      if (now - s.lastHeard >= deadAfter) {
        core.metrics.heartbeatTimeouts++;
        core.events({
          type: "dead_peer",
          conn: s.id,
          address: s.address,
          silentMs: now - s.lastHeard,
          ...(s.account ? { account: s.account.name } : {}),
        });
        core.notify(
          s,
          Push.LOGGED_OUT,
          Status.HEARTBEAT_TIMEOUT,
          `nothing heard for ${formatDuration(deadAfter)}; closing`,
        );
        core.close(s);
        continue;
      }
      if (!s.account && now - s.anonymousSince >= o.loginTimeoutMs) {
        core.limit(s, "login_timeout", `no login within ${o.loginTimeoutMs} ms`);
        core.notify(
          s,
          Push.LOGGED_OUT,
          Status.LOGIN_TIMEOUT,
          `closing: no login within ${formatDuration(o.loginTimeoutMs)}`,
        );
        core.close(s);
        continue;
      }
      if (now - s.lastSent >= o.heartbeatMs) core.write(s, { opcode: Push.HEARTBEAT });
    }
    core.delivery.checkTimeouts(now);
    this.renewLeases(now);
  }

  /** Claims with a lease are renewed a few times per lease, so one late renewal loses none. */
  private renewLeases(now: number): void {
    const lease = this.core.presence.leaseMs;
    if (!Number.isFinite(lease) || now - this.renewedAt < lease / 3) return;
    this.renewedAt = now;
    const core = this.core;
    core.presence.renew(core.node).then(
      (lapsed) => {
        this.renewalFailing = false;
        if (lapsed) core.resync();
      },
      (error) => {
        // Said once per outage: every third of a lease would flood the log while Redis is away.
        if (!this.renewalFailing)
          core.events({ type: "storage_error", detail: `renewing presence leases: ${describeError(error)}` });
        this.renewalFailing = true;
      },
    );
    // Deletions under way here: the other nodes' marks of them last one lease.
    for (const s of core.sessions)
      if (s.deleting && s.account) core.signals.broadcast({ type: "deleting", key: s.account.key, on: true });
  }
}
