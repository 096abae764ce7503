// The decoded shapes of the two message types (protocol.proto), apart from the code that
// reads and writes them, so the codec and its hand-written reader and writer all import
// them from here and none imports another's types.

/** A decoded Client2Server. Absent fields read as their proto3 defaults. */
export interface Request {
  version: string;
  opcode: number;
  sender: string;
  receiver: string;
  msg: string;
  requestId: number;
  password: string;
  /** UNSAFE_ID (-1) when the wire value is 2^53 or more (request-reader.ts). */
  clientMsgId: number;
  /** Decoded up to the reader's cap; an id of 2^53 or more reads as UNSAFE_ID. */
  ackIds: number[];
  /** ACK ids past the cap, skipped undecoded: an upper bound on their number; 0 when none. */
  ackIdsSkipped: number;
  token: string;
  pageSize: number;
  cursor: string;
  /** ACK receipt ids, decoded up to the same cap as ackIds (a cap of their own). */
  receiptIds?: number[];
  /** Receipt ids past the cap, counted like ackIdsSkipped. */
  receiptIdsSkipped?: number;
}

export interface WireMessage {
  id: number;
  sender: string;
  text: string;
  sentAt: number;
}

export interface WireReceipt {
  messageId: number;
  recipient: string;
  confirmedAt: number;
  clientMsgId: number;
}

export interface WireAccount {
  name: string;
  online: boolean;
}

export interface ServerInfo {
  serverVersion: string;
  heartbeatMs: number;
  maxFrameBytes: number;
  maxNameChars: number;
  maxTextChars: number;
  minPasswordChars: number;
  maxPageSize: number;
  ackTimeoutMs: number;
  loginTimeoutMs: number;
  heartbeatMisses: number;
  deliveryWindow: number;
  maxBacklogBytes: number;
  maxAckIds: number;
  requestRate: number;
  requestBurst: number;
  ackIdsPerToken: number;
  maxSlowDowns: number;
  maxPasswordBytes: number;
  maxQueuedPerAccount: number;
  sessionTtlMs: number;
  maxPatternChars: number;
  maxUnansweredSends: number;
  /** Absent from servers before receipts. */
  maxReceipts?: number;
}

/** A decoded Server2Client. */
export interface Reply {
  version: string;
  opcode: number;
  msg: string;
  status: number;
  requestId: number;
  messages: WireMessage[];
  accounts: WireAccount[];
  unread: number;
  more: boolean;
  messageId: number;
  sentAt: number;
  delivery: number;
  retryAfterMs: number;
  name: string;
  token: string;
  duplicate: boolean;
  nextCursor: string;
  info: ServerInfo | null;
  /** RECEIPT push (decoded replies always have it, maybe empty). */
  receipts?: WireReceipt[];
}

export type RequestInit = Partial<Request> & { opcode: number };
export type ReplyInit = Partial<Omit<Reply, "info">> & { opcode: number; info?: ServerInfo };
