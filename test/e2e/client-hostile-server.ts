// A fake server that sends hostile text: escape sequences, OSC (title, clipboard), bidi
// controls, zero-width and separator characters, and a newline followed by a forged line, in
// its HELLO, in a delivered message, in names and in every answer. It records the ACKs.

import {
  decodeRequest,
  encodeFrame,
  encodeReply,
  FrameDecoder,
  Op,
  Push,
  type ReplyInit,
  Status,
} from "../../src/wire";

export const EVIL_NAME = "\u202eevil\x1b]0;pwned\x07";
export const EVIL_TEXT =
  "hi \x1b]52;c;cGF5bG9hZA==\x07 \x1b[2J \u2067x\u2069 zero\u200bwidth \x9b31m\u2028sep\n[14:05] bob: forged line";

/** A fake server: HELLO, then a DELIVER of hostile text before answering LOG_IN, hostile names in LIST. */
export function hostileServer() {
  const acks: number[] = [];
  const listener = Bun.listen<{ decoder: FrameDecoder }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { decoder: new FrameDecoder(1 << 20) };
        const hello: ReplyInit = {
          opcode: Push.HELLO,
          status: Status.OK,
          msg: "hello\x1b[2J",
          info: {
            serverVersion: "6.6.6\x1b]0;title\x07",
            heartbeatMs: 15_000,
            maxFrameBytes: 1 << 20,
            maxNameChars: 25,
            maxTextChars: 100,
            minPasswordChars: 8,
            maxPageSize: 100,
            ackTimeoutMs: 10_000,
            loginTimeoutMs: 10_000,
            heartbeatMisses: 3,
            deliveryWindow: 256,
            maxBacklogBytes: 1 << 20,
            maxAckIds: 10_000,
            requestRate: 20_000,
            requestBurst: 20_000,
            ackIdsPerToken: 64,
            maxSlowDowns: 100,
            maxPasswordBytes: 1024,
            maxQueuedPerAccount: 10_000,
            sessionTtlMs: 86_400_000,
            maxPatternChars: 64,
            maxUnansweredSends: 128,
          },
        };
        s.write(encodeFrame(encodeReply(hello)));
      },
      data(s, chunk) {
        for (const body of s.data.decoder.push(chunk)) {
          const req = decodeRequest(body);
          const answer = (r: Omit<ReplyInit, "opcode" | "requestId">) =>
            s.write(encodeFrame(encodeReply({ opcode: req.opcode, requestId: req.requestId, ...r })));
          if (req.opcode === Op.ACK) acks.push(...req.ackIds);
          else if (req.opcode === Op.LOG_IN) {
            s.write(
              encodeFrame(
                encodeReply({
                  opcode: Push.DELIVER,
                  status: Status.OK,
                  messages: [{ id: 7, sender: EVIL_NAME, text: EVIL_TEXT, sentAt: Date.now() }],
                }),
              ),
            );
            answer({
              status: Status.OK,
              name: EVIL_NAME,
              token: "t",
              msg: `logged in as ${EVIL_NAME}\x1b[2J`,
            });
          } else if (req.opcode === Op.LIST_ACCOUNTS) {
            answer({ status: Status.OK, accounts: [{ name: EVIL_NAME, online: true }], msg: "1 account" });
          } else answer({ status: Status.OK, msg: "fine\x1b[31m" });
        }
      },
    },
  });
  return { port: listener.port, acks, stop: () => listener.stop(true) };
}
