// The cross-node contract on the in-process backend: cores sharing one memory store,
// one LocalPresence, one LocalSignals bus and one set of budgets.

import { describe, expect, test } from "bun:test";
import { DEFAULT_OPTIONS } from "../../src/core/options";
import { StorageError } from "../../src/store/store";
import { Delivery, Op, Status } from "../../src/wire";
import { clusterContract, settleAll } from "./cluster-contract";
import { Harness, pw, sharedBackend } from "./helpers";

clusterContract("cores sharing one process's backend", (n, overrides = {}) => {
  const shared = sharedBackend({ ...DEFAULT_OPTIONS, ...overrides });
  return Array.from({ length: n }, (_, i) => new Harness(overrides, shared, `node${i + 1}`));
});

describe("a deletion that fails midway", () => {
  test("leaves the account taking messages again on every node, its marks gone", async () => {
    const shared = sharedBackend(DEFAULT_OPTIONS);
    const a = new Harness({}, shared, "node1");
    const b = new Harness({}, shared, "node2");
    const bob = await a.user("bob");
    const alice = await b.user("alice");
    shared.store.deleteAccount = async () => {
      throw new StorageError("the message store is unavailable (test)");
    };
    expect(await bob.request({ opcode: Op.DELETE_ACCOUNT, password: pw("bob") })).toMatchObject({
      status: Status.STORAGE_FAILED,
    });
    await settleAll([a, b]);
    expect(a.core.deleting.has("bob")).toBe(false);
    expect(b.core.deleting.has("bob")).toBe(false);
    expect(await alice.sendTo("bob", "still here?")).toMatchObject({
      status: Status.OK,
      delivery: Delivery.LIVE,
    });
  });
});
