// PING (9): answered at once; also the client's heartbeat.

import type { Handler } from "./handler";

export const ping: Handler = {
  needsLogin: false,
  run(core, s, req, at) {
    core.reply(s, req, at, { msg: "pong" });
  },
};
