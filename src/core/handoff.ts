// What is being handed to one logged-in session (see delivery.ts), kept on the Session.

/** What is being handed to one logged-in session. Replaced (not reused) when the account changes. */
export class Handoff {
  /** Highest message id handed over (pushed or returned by CHECK). */
  handedUpTo = 0;
  caughtUp: boolean;
  /** A drain has started and continues as the window frees, until caught up. */
  pushing = false;
  draining = false;
  drainAgain = false;
  /** Handed over, not yet confirmed: id → time handed. Insertion order = id order. */
  inflight: Map<number, number> | null = null;
  /** The last of the session's serialized handoffs (CHECK, drains, DELETE), while one runs. */
  chain: Promise<unknown> | null = null;
  /** Waiting for every handed message to be confirmed (DELETE_ACCOUNT). */
  confirmWaiters: (() => void)[] | null = null;

  constructor(caughtUp: boolean) {
    this.caughtUp = caughtUp;
  }

  get unconfirmed(): number {
    return this.inflight?.size ?? 0;
  }

  /** Nothing to remember: the session may drop this object. */
  get idle(): boolean {
    return (
      this.caughtUp &&
      !this.pushing &&
      !this.draining &&
      !this.inflight &&
      !this.chain &&
      !this.confirmWaiters
    );
  }
}
