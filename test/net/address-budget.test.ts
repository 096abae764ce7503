import { afterEach, expect, test } from "bun:test";
import { AddressBudget, newShare } from "../../src/net/address-budget";

let budgets: AddressBudget[] = [];
afterEach(() => {
  for (const b of budgets) b.stop();
  budgets = [];
});

/** A budget on a clock the test moves. */
function budget(rate: number, burst: number) {
  const clock = { now: 0 };
  const b = new AddressBudget(
    rate,
    burst,
    () => 1,
    () => clock.now,
  );
  budgets.push(b);
  return { b, clock };
}

test("an address spends its burst, goes into debt, and is out of it once the rate has paid", () => {
  const { b, clock } = budget(1000, 100);
  b.charge("10.0.0.1", 100);
  expect(b.inDebt("10.0.0.1")).toBe(false); // exactly spent
  b.charge("10.0.0.1", 50);
  expect(b.inDebt("10.0.0.1")).toBe(true);
  expect(b.waitMs("10.0.0.1")).toBe(50);
  clock.now = 49;
  expect(b.inDebt("10.0.0.1")).toBe(true);
  clock.now = 50;
  expect(b.inDebt("10.0.0.1")).toBe(false);
});

test("connections of one address share its budget; other addresses are untouched", () => {
  const { b } = budget(1000, 100);
  for (let conn = 0; conn < 200; conn++) b.charge("10.0.0.1", 1);
  expect(b.inDebt("10.0.0.1")).toBe(true);
  expect(b.waitMs("10.0.0.1")).toBe(100);
  expect(b.inDebt("10.0.0.2")).toBe(false);
  expect(b.waitMs("10.0.0.2")).toBe(0);
});

test("refills never bank more than the burst", () => {
  const { b, clock } = budget(1000, 100);
  b.charge("10.0.0.1", 1);
  clock.now = 60_000;
  b.charge("10.0.0.1", 101);
  expect(b.inDebt("10.0.0.1")).toBe(true);
});

test("whenPaid wakes every waiter once the debt is paid, and at once when there is none", async () => {
  const b = new AddressBudget(1000, 10);
  budgets.push(b);
  let woken = 0;
  b.whenPaid("10.0.0.9", () => woken++);
  expect(woken).toBe(1);
  b.charge("10.0.0.1", 30); // 20 in debt: 20 ms at 1000/s
  const started = performance.now();
  const both = Promise.all([
    new Promise<void>((r) => b.whenPaid("10.0.0.1", r)),
    new Promise<void>((r) => b.whenPaid("10.0.0.1", r)),
  ]);
  await Promise.race([both, Bun.sleep(2000).then(() => Promise.reject(new Error("not woken")))]);
  expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  expect(b.inDebt("10.0.0.1")).toBe(false);
});

test("while its address is in debt, a connection within its share (rate / connections) still goes on", () => {
  const clock = { now: 0 };
  const b = new AddressBudget(
    1000,
    100,
    () => 10,
    () => clock.now,
  );
  budgets.push(b);
  const flood = newShare(0);
  const quiet = newShare(0);
  b.charge("10.0.0.1", 500, flood); // the flood spends the burst and more
  expect(b.inDebt("10.0.0.1")).toBe(true);
  b.charge("10.0.0.1", 50, flood); // and goes on spending while the address is in debt
  expect(b.mayGo("10.0.0.1", flood)).toBe(false);
  // The quiet connection's share refills at 1000/10 = 100/s: after 10 ms it has 1 token.
  clock.now = 10;
  expect(b.mayGo("10.0.0.1", quiet)).toBe(true);
  b.charge("10.0.0.1", 2, quiet);
  expect(b.mayGo("10.0.0.1", quiet)).toBe(false);
  expect(b.shareWaitMs("10.0.0.1", quiet)).toBe(10);
  // The flood's share is in debt as deep as the address's burst at most: it is not starved for ever.
  expect(b.shareWaitMs("10.0.0.1", flood)).toBeLessThanOrEqual(1000);
});

test("what a connection spends while its address has tokens to spare is not held against its share", () => {
  const clock = { now: 0 };
  const b = new AddressBudget(
    1000,
    2000,
    () => 8,
    () => clock.now,
  );
  budgets.push(b);
  const busy = newShare(0);
  const others = newShare(0);
  // One connection uses the idle address's burst, and then some.
  for (let i = 0; i < 2004 / 4; i++) b.charge("10.0.0.1", 4, busy);
  expect(b.inDebt("10.0.0.1")).toBe(true);
  // The other connections keep the address in debt, each within its share (1000/8 per second).
  clock.now = 100;
  b.charge("10.0.0.1", 100, others);
  expect(b.inDebt("10.0.0.1")).toBe(true);
  // The busy connection owes its share only the frame that crossed into debt: it waits
  // tens of milliseconds for its share, not the burst's 16 s.
  expect(b.shareWaitMs("10.0.0.1", busy)).toBeLessThanOrEqual(50);
});
