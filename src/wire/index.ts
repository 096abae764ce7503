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
} from "./codec";
export { FrameTooLargeError, ProtocolError } from "./errors";
export { encodeFrame, FrameDecoder } from "./frame";
export {
  Delivery,
  FIRST_PUSH_OPCODE,
  Op,
  opcodeName,
  PROTOCOL_VERSION,
  Push,
  Status,
  statusName,
} from "./protocol";
export { accountFieldSize, messageFieldSize, replySize, utf8Length, writeReply } from "./reply-writer";
export { varintSize, writeVarint } from "./varint";
