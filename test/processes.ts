// Preloaded for every test file (bunfig.toml): the processes tests start are tracked here,
// so none outlives its test (or, if started outside a test, the whole run), whatever the
// test did. Frozen (SIGSTOP'd) ones are killed and continued after each test.

import { afterAll, afterEach, beforeEach } from "bun:test";
import type { Subprocess } from "bun";

const perTest = new Set<Subprocess>();
const perRun = new Set<Subprocess>();
const frozen = new Set<Subprocess>();
const cleanups: (() => void)[] = [];
let inTest = false;

beforeEach(() => {
  inTest = true;
});

afterEach(() => {
  inTest = false;
  for (const p of frozen) {
    p.kill("SIGKILL");
    p.kill("SIGCONT");
  }
  frozen.clear();
  for (const p of perTest) p.kill("SIGKILL");
  perTest.clear();
});

afterAll(() => {
  for (const p of perRun) p.kill("SIGKILL");
  for (const fn of cleanups) fn();
});

/** Kills p when the current test ends, or at the end of the run if no test is running. */
export function track<T extends Subprocess>(p: T): T {
  const set = inTest ? perTest : perRun;
  set.add(p);
  void p.exited.then(() => set.delete(p));
  return p;
}

/** Stops p (SIGSTOP), as a hung machine would; it is killed after the test. */
export function freeze(p: Subprocess): void {
  frozen.add(p);
  p.kill("SIGSTOP");
}

/** Runs fn at the end of the run (e.g. removing temporary directories). */
export function atEnd(fn: () => void): void {
  cleanups.push(fn);
}
