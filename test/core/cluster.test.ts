// The cross-node contract on the in-process backend: cores sharing one memory store,
// one LocalPresence, one LocalSignals bus and one set of budgets.

import { DEFAULT_OPTIONS } from "../../src/core/options";
import { clusterContract } from "./cluster-contract";
import { Harness, sharedBackend } from "./helpers";

clusterContract("cores sharing one process's backend", (n, overrides = {}) => {
  const shared = sharedBackend({ ...DEFAULT_OPTIONS, ...overrides });
  return Array.from({ length: n }, (_, i) => new Harness(overrides, shared, `node${i + 1}`));
});
