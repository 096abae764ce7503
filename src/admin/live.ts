// The running server's side of the admin actions: its sessions and connections.

import type { ChatCore } from "../core/chat";
import type { Ban } from "../store/store";
import { Push, Status } from "../wire";
import type { LiveServer } from "./actions";
import type { BanList } from "./banlist";

export function liveServer(
  core: ChatCore,
  bans: BanList,
  info: { version: string; startedAt: number },
): LiveServer {
  return {
    isOnline: (id) => core.isOnline(id),
    kick(id, why) {
      const s = core.onlineSession(id);
      if (!s) return false;
      core.notify(s, Push.LOGGED_OUT, Status.KICKED, why);
      core.endSession(s, "ended by the operator", true);
      core.close(s);
      return true;
    },
    applyBans(list: readonly Ban[]) {
      bans.set(list);
      const now = Date.now();
      let closed = 0;
      for (const s of core.sessions) {
        if (s.closing || !bans.covering(s.address, now)) continue;
        core.notify(s, Push.LOGGED_OUT, Status.BANNED, "your address is banned from this server");
        core.endSession(s, "address banned", false);
        core.close(s);
        closed++;
      }
      return closed;
    },
    stats: () => ({
      server: `running, version ${info.version}`,
      uptime_seconds: Math.round((Date.now() - info.startedAt) / 1000),
      connections: core.sessions.size,
      online: core.metrics.sessions,
      messages_accepted: core.metrics.messagesAccepted,
    }),
  };
}
