// The only module that touches protobufjs messages: typed encode and decode of the two
// message types. Decode failures become ProtocolError with the library's error as cause.
// The server's hot path has its own encoder for replies (reply-writer.ts) and decoder
// for requests (request-reader.ts), both checked against protobufjs in the tests.

import protobuf from "protobufjs";
import { ProtocolError } from "./errors";
import { PROTOCOL_VERSION } from "./protocol";
import { replySize, writeReply } from "./reply-writer";
import { readRequest } from "./request-reader";
import { Client2Server, Server2Client } from "./schema";

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

/** Decodes a request body (request-reader.ts: the server's hot path), at most maxAckIds ACK ids. */
export function decodeRequest(body: Uint8Array, maxAckIds?: number): Request {
  return readRequest(body, maxAckIds);
}

export function decodeReply(body: Uint8Array): Reply {
  try {
    return Server2Client.decode(body) as unknown as Reply;
  } catch (cause) {
    throw new ProtocolError(`frame is not a valid Server2Client message (${describe(cause)})`, { cause });
  }
}

/** Encodes a request body; without a version, this protocol's is written. */
export function encodeRequest(init: RequestInit): Uint8Array {
  return Client2Server.encode(init, versioned(init)).finish();
}

/** Encodes a reply body; without a version, this protocol's is written. */
export function encodeReply(init: ReplyInit): Uint8Array {
  const out = new Uint8Array(replySize(init));
  writeReply(out, 0, init);
  return out;
}

/** A writer that already holds field 1 (version) unless the message sets it. */
function versioned(init: { version?: string }): protobuf.Writer {
  const w = protobuf.Writer.create();
  if (init.version === undefined) w.uint32(VERSION_TAG).string(PROTOCOL_VERSION);
  return w;
}

/** Field 1, wire type 2 (length-delimited): the version string. */
const VERSION_TAG = (1 << 3) | 2;

function describe(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  // protobufjs says e.g. "index out of range: 12 + 40 > 20"; keep it short and single-line.
  return text.split("\n")[0]!.slice(0, 120);
}
