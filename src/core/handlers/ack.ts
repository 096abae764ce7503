// ACK (8): the client received these delivered messages; no answer unless malformed.

import { Status } from "../../wire";
import type { Handler } from "./handler";

/** More ids than this in one ACK cannot all be in flight (window and queue caps). */
const MAX_ACK_IDS = 10_000;

export const ack: Handler = {
  needsLogin: true,
  run(core, s, req, at) {
    if (req.ackIds.length > MAX_ACK_IDS) {
      core.fail(s, req, at, Status.INVALID_ARGUMENT, `an ACK may carry at most ${MAX_ACK_IDS} ids`);
      return;
    }
    core.delivery.ack(s, req.ackIds);
  },
};
