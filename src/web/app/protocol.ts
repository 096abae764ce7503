// The page's protocol adapter: requests and replies as plain objects, encoded with the
// codec generated from protocol.proto, and the protocol's numbers by name.

import type { Reply, Request } from "../../wire/messages";
import { Codec } from "./pb";
import { ENUMS, MESSAGES } from "./schema.generated";

export const PROTOCOL_VERSION = "1";

const codec = new Codec(MESSAGES);

function named(e: string): Record<string, number> {
  const values = ENUMS[e];
  if (!values) throw new Error(`no enum ${e} in the schema`);
  return values;
}
const opcodes = named("Opcode");
const pushes = named("Push");
const statuses = named("Status");
const deliveries = named("Delivery");
const num = (table: Record<string, number>, name: string) => {
  const v = table[name];
  if (v === undefined) throw new Error(`no ${name} in the schema`);
  return v;
};

export const Op = {
  CREATE_ACCOUNT: num(opcodes, "CREATE_ACCOUNT"),
  LOG_IN: num(opcodes, "LOG_IN"),
  SEND_MESSAGE: num(opcodes, "SEND_MESSAGE"),
  CHECK_MESSAGES: num(opcodes, "CHECK_MESSAGES"),
  DELETE_ACCOUNT: num(opcodes, "DELETE_ACCOUNT"),
  LIST_ACCOUNTS: num(opcodes, "LIST_ACCOUNTS"),
  QUIT: num(opcodes, "QUIT"),
  ACK: num(opcodes, "ACK"),
  PING: num(opcodes, "PING"),
  RESUME: num(opcodes, "RESUME"),
};
export const Push = {
  DELIVER: num(pushes, "DELIVER"),
  LOGGED_OUT: num(pushes, "LOGGED_OUT"),
  SHUTDOWN: num(pushes, "SHUTDOWN"),
  HEARTBEAT: num(pushes, "HEARTBEAT"),
  HELLO: num(pushes, "HELLO"),
  RECEIPT: num(pushes, "RECEIPT"),
};
export const Status = {
  OK: num(statuses, "OK"),
  BAD_CREDENTIALS: num(statuses, "BAD_CREDENTIALS"),
  INVALID_TOKEN: num(statuses, "INVALID_TOKEN"),
  LOGGED_IN_ELSEWHERE: num(statuses, "LOGGED_IN_ELSEWHERE"),
  LOGIN_TIMEOUT: num(statuses, "LOGIN_TIMEOUT"),
  SHUTTING_DOWN: num(statuses, "SHUTTING_DOWN"),
  TOO_MANY_CONNECTIONS: num(statuses, "TOO_MANY_CONNECTIONS"),
  ACK_TIMEOUT: num(statuses, "ACK_TIMEOUT"),
  HEARTBEAT_TIMEOUT: num(statuses, "HEARTBEAT_TIMEOUT"),
  SLOW_DOWN: num(statuses, "SLOW_DOWN"),
  RATE_LIMITED: num(statuses, "RATE_LIMITED"),
  BUSY: num(statuses, "BUSY"),
  NOT_LOGGED_IN: num(statuses, "NOT_LOGGED_IN"),
  ALREADY_LOGGED_IN: num(statuses, "ALREADY_LOGGED_IN"),
};
export const Delivery = { LIVE: num(deliveries, "LIVE"), QUEUED: num(deliveries, "QUEUED") };

export function statusName(status: number): string {
  for (const [name, v] of Object.entries(statuses)) if (v === status) return name;
  return `status ${status}`;
}

// The decoded shapes are the server's own (src/wire/messages.ts, types only: nothing of the
// server's code enters the page's bundle).
export type {
  Reply,
  ServerInfo as Info,
  WireAccount as Account,
  WireMessage as Message,
  WireReceipt as Receipt,
} from "../../wire/messages";

/** What the page sends: a request's fields on the wire (the version is added here). */
export type RequestInit = Partial<Omit<Request, "version" | "ackIdsSkipped" | "receiptIdsSkipped">> & {
  opcode: number;
};

export function encodeRequest(init: RequestInit): Uint8Array {
  return codec.encode("Client2Server", { version: PROTOCOL_VERSION, ...init });
}

export function decodeReply(bytes: Uint8Array): Reply {
  return codec.decode("Server2Client", bytes) as unknown as Reply;
}
