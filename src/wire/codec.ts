// The only module that touches protobufjs messages: typed encode and decode of the two
// message types. Decode failures become ProtocolError with the library's error as cause.

import { ProtocolError } from "./errors";
import { PROTOCOL_VERSION } from "./protocol";
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
  clientMsgId: number;
  ackIds: number[];
  token: string;
  pageSize: number;
  cursor: string;
}

export interface WireMessage {
  id: number;
  sender: string;
  text: string;
  sentAt: number;
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
}

export type RequestInit = Partial<Request> & { opcode: number };
export type ReplyInit = Partial<Omit<Reply, "info">> & { opcode: number; info?: ServerInfo };

export function decodeRequest(body: Uint8Array): Request {
  try {
    return Client2Server.decode(body) as unknown as Request;
  } catch (cause) {
    throw new ProtocolError(`frame is not a valid Client2Server message (${describe(cause)})`, { cause });
  }
}

export function decodeReply(body: Uint8Array): Reply {
  try {
    return Server2Client.decode(body) as unknown as Reply;
  } catch (cause) {
    throw new ProtocolError(`frame is not a valid Server2Client message (${describe(cause)})`, { cause });
  }
}

/** Encodes a request body; version defaults to this protocol's. */
export function encodeRequest(init: RequestInit): Uint8Array {
  if (init.version === undefined) init.version = PROTOCOL_VERSION;
  return Client2Server.encode(init).finish();
}

/** Encodes a reply body; version defaults to this protocol's. */
export function encodeReply(init: ReplyInit): Uint8Array {
  if (init.version === undefined) init.version = PROTOCOL_VERSION;
  return Server2Client.encode(init).finish();
}

function describe(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  // protobufjs says e.g. "index out of range: 12 + 40 > 20"; keep it short and single-line.
  return text.split("\n")[0]!.slice(0, 120);
}
