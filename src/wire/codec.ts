// The only module that touches protobufjs messages: typed encode and decode of the two
// message types. Decode failures become ProtocolError with the library's error as cause.
// The server's hot path has its own encoder for replies (reply-writer.ts) and decoder
// for requests (request-reader.ts), both checked against protobufjs in the tests.

import protobuf from "protobufjs";
import { ProtocolError } from "./errors";
import type { Reply, ReplyInit, Request, RequestInit } from "./messages";
import { PROTOCOL_VERSION } from "./protocol";
import { replySize, writeReply } from "./reply-writer";
import { readRequest } from "./request-reader";
import { Client2Server, Server2Client } from "./schema";

export type {
  Reply,
  ReplyInit,
  Request,
  RequestInit,
  ServerInfo,
  WireAccount,
  WireMessage,
  WireReceipt,
} from "./messages";

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
