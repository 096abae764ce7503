// What the server reports about itself: the logger and the tests subscribe to these.
// Per-message work is counted in Metrics instead, to keep the hot path free of events.
// String fields (name, reason, detail, …) may carry client input of any length or content:
// sinks must treat them as untrusted (the logger escapes and bounds them: src/net/log.ts).

export type ServerEvent =
  | { type: "connect"; conn: number; address: string }
  | { type: "disconnect"; conn: number; address: string; account?: string; reason: string }
  | { type: "login"; conn: number; address: string; account: string; resumed: boolean }
  | { type: "logout"; conn: number; address: string; account: string; reason: string }
  | { type: "forced_logout"; conn: number; address: string; account: string; byAddress: string }
  | { type: "login_failed"; conn: number; address: string; name: string; reason: string }
  | { type: "account_created"; conn: number; address: string; account: string }
  | { type: "account_deleted"; conn: number; address: string; account: string; handedOver: number }
  | { type: "limit"; conn: number; address: string; account?: string; limit: string; detail: string }
  | { type: "dead_peer"; conn: number; address: string; account?: string; silentMs: number }
  | { type: "protocol_error"; conn: number; address: string; status: string; detail: string }
  | { type: "storage_error"; detail: string }
  | { type: "internal_error"; detail: string; error: unknown };

export type EventSink = (event: ServerEvent) => void;
