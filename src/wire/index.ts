export {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  type Reply,
  type ReplyInit,
  type Request,
  type RequestInit,
  type ServerInfo,
  type WireAccount,
  type WireMessage,
  type WireReceipt,
} from "./codec";
export { FrameTooLargeError, ProtocolError } from "./errors";
export { encodeFrame, FrameDecoder } from "./frame";
export { FrameQueue } from "./frame-queue";
export {
  ACK_IDS_PER_TOKEN,
  ackCost,
  Delivery,
  FIRST_PUSH_OPCODE,
  MAX_ACK_IDS,
  Op,
  opcodeName,
  PROTOCOL_VERSION,
  Push,
  Status,
  statusName,
} from "./protocol";
export {
  accountFieldSize,
  messageFieldSize,
  receiptFieldSize,
  replySize,
  utf8Length,
  writeReply,
} from "./reply-writer";
export { UNSAFE_ID } from "./request-reader";
export { varintSize, writeVarint } from "./varint";
