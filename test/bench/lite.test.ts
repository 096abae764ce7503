// The load generator's hand-written wire code against the real codec: RECEIPT pushes read,
// receipt confirmations written.
import { describe, expect, test } from "bun:test";
import { ackFrameBound, framePrefix, newLiteReply, parseReply, writeReceiptAck } from "../../src/bench/lite";
import { decodeRequest, encodeReply, Op, Push } from "../../src/wire";

describe("bench lite wire: receipts", () => {
  test("reads every receipt's message id from a RECEIPT push, whatever its other fields hold", () => {
    const receipts = Array.from({ length: 300 }, (_, i) => ({
      messageId: i === 0 ? 2 ** 53 - 1 : 1000 + i * 7,
      // Names of several lengths and non-ASCII: a length read wrongly would misplace what follows.
      recipient: i % 3 === 0 ? "bob" : "zoë-".repeat(i % 40),
      confirmedAt: 1_767_225_600_000 + i,
      clientMsgId: i % 2 ? 2 ** 50 + i : 0,
    }));
    const body = encodeReply({ opcode: Push.RECEIPT, receipts, more: true });
    const r = newLiteReply(4);
    parseReply(body, 0, body.length, r);
    expect(r.opcode).toBe(Push.RECEIPT);
    expect(r.more).toBe(true);
    expect(r.count).toBe(0);
    expect(Array.from(r.receiptIds.subarray(0, r.receiptCount))).toEqual(receipts.map((x) => x.messageId));
    // A later frame without receipts reads none.
    const answer = encodeReply({ opcode: Op.SEND_MESSAGE, requestId: 9 });
    parseReply(answer, 0, answer.length, r);
    expect([r.opcode, r.requestId, r.receiptCount]).toEqual([Op.SEND_MESSAGE, 9, 0]);
  });

  test("an ACK of receipt ids decodes to exactly those ids, within its bound", () => {
    const ids = new Float64Array([1, 127, 128, 300, 2 ** 32 + 5, 2 ** 53 - 1]);
    const out = new Uint8Array(ackFrameBound(ids.length) + 1);
    const end = writeReceiptAck(out, 0, ids, ids.length);
    const prefix = framePrefix(out, 0, end);
    expect(prefix).not.toBeNull();
    const [len, at] = prefix!;
    expect(at + len).toBe(end);
    const req = decodeRequest(out.subarray(at, end));
    expect(req.opcode).toBe(Op.ACK);
    expect(req.ackIds).toEqual([]);
    expect(req.receiptIds).toEqual(Array.from(ids));
  });
});
