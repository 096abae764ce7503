// The protocol's numbers, mirrored from protocol.proto as `as const` objects so the
// rest of the code gets literal types. test/wire/protocol.test.ts checks they match.

export const PROTOCOL_VERSION = "1";

/** Client opcodes. 1-7 are the original design's. */
export const Op = {
  CREATE_ACCOUNT: 1,
  LOG_IN: 2,
  SEND_MESSAGE: 3,
  CHECK_MESSAGES: 4,
  DELETE_ACCOUNT: 5,
  LIST_ACCOUNTS: 6,
  QUIT: 7,
  ACK: 8,
  PING: 9,
  RESUME: 10,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** Server push opcodes: anything >= 100 is a push, below is a response. */
export const Push = {
  DELIVER: 100,
  LOGGED_OUT: 101,
  SHUTDOWN: 102,
  HEARTBEAT: 103,
  HELLO: 104,
  RECEIPT: 105,
} as const;
export type Push = (typeof Push)[keyof typeof Push];

export const FIRST_PUSH_OPCODE = 100;

export const Status = {
  OK: 0,
  BAD_VERSION: 1,
  MALFORMED_FRAME: 2,
  FRAME_TOO_LARGE: 3,
  UNKNOWN_OPCODE: 4,
  NOT_LOGGED_IN: 5,
  INVALID_NAME: 6,
  NAME_TAKEN: 7,
  NO_SUCH_ACCOUNT: 8,
  ALREADY_LOGGED_IN: 9,
  INVALID_TEXT: 10,
  BAD_CREDENTIALS: 11,
  WEAK_PASSWORD: 12,
  RATE_LIMITED: 13,
  SLOW_DOWN: 14,
  MAILBOX_FULL: 15,
  STORAGE_FAILED: 16,
  INVALID_PATTERN: 17,
  INVALID_TOKEN: 18,
  TOO_MANY_CONNECTIONS: 19,
  LOGIN_TIMEOUT: 20,
  SHUTTING_DOWN: 21,
  LOGGED_IN_ELSEWHERE: 22,
  ACK_TIMEOUT: 25,
  HEARTBEAT_TIMEOUT: 26,
  INVALID_ARGUMENT: 27,
  BUSY: 28,
  INTERNAL_ERROR: 29,
  SENDER_QUOTA: 45,
  STORAGE_FULL: 46,
  TOO_MANY_UNANSWERED: 50,
  KICKED: 55,
  BANNED: 56,
  NAME_AVAILABLE: 57,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

export const Delivery = { LIVE: 1, QUEUED: 2 } as const;
export type Delivery = (typeof Delivery)[keyof typeof Delivery];

const statusNames = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k])) as Record<
  number,
  string
>;
const opNames = Object.fromEntries(
  [...Object.entries(Op), ...Object.entries(Push)].map(([k, v]) => [v, k]),
) as Record<number, string>;

export const statusName = (s: number): string => statusNames[s] ?? `STATUS_${s}`;
export const opcodeName = (op: number): string => opNames[op] ?? `OPCODE_${op}`;

/** Most ids one ACK may carry; past it the ACK is refused and its ids are not even decoded. */
export const MAX_ACK_IDS = 10_000;
/** An ACK costs one request token per this many ids it carries (at least one). */
export const ACK_IDS_PER_TOKEN = 64;
/** What an ACK of n ids costs from the request budget. */
export const ackCost = (n: number): number => Math.max(1, Math.ceil(n / ACK_IDS_PER_TOKEN));
