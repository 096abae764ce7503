// ACK (8): the client received these delivered messages; no answer unless refused.

import { MAX_ACK_IDS, Status } from "../../wire";
import type { Handler } from "./handler";

export const ack: Handler = {
  needsLogin: true,
  run(core, s, req, at) {
    // More ids than the cap cannot all be in flight (window and page caps); the reader
    // stopped decoding at the cap, so none of them is applied.
    if (req.ackIdsSkipped > 0) {
      core.fail(
        s,
        req,
        at,
        Status.INVALID_ARGUMENT,
        `an ACK may carry at most ${MAX_ACK_IDS} ids; none was applied`,
      );
      return;
    }
    if ((req.receiptIdsSkipped ?? 0) > 0) {
      core.fail(
        s,
        req,
        at,
        Status.INVALID_ARGUMENT,
        `an ACK may carry at most ${MAX_ACK_IDS} receipt ids; none was applied`,
      );
      return;
    }
    if (req.ackIds.length) core.delivery.ack(s, req.ackIds);
    if (req.receiptIds?.length) core.receipts.confirm(s, req.receiptIds);
  },
};
