// The shape every operation shares: a state gate and one function.

import { type Request, Status } from "../../wire";
import type { Core } from "../context";
import type { Session } from "../session";

export interface Handler {
  /** Refused with NOT_LOGGED_IN before run() when the session has no account. */
  readonly needsLogin: boolean;
  /**
   * Handles one request. A returned promise holds the session's later requests until it
   * settles (they must see its effect); a handler that answers later without blocking
   * (SEND) returns nothing and keeps the answer order itself.
   */
  run(core: Core, s: Session, req: Request, at: number): void | Promise<void>;
}

/** A requested page size, or undefined (after answering) when it is out of range. */
export function pageSize(core: Core, s: Session, req: Request, at: number): number | undefined {
  const { defaultPageSize, maxPageSize } = core.options;
  if (req.pageSize === 0) return defaultPageSize;
  if (req.pageSize > maxPageSize) {
    core.fail(
      s,
      req,
      at,
      Status.INVALID_ARGUMENT,
      `page_size ${req.pageSize} is over the maximum of ${maxPageSize}`,
    );
    return undefined;
  }
  return req.pageSize;
}
