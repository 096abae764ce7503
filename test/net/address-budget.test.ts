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

/** A budget whose addresses together have a total of `total` per second (and as burst). */
function withTotal(total: number) {
  const clock = { now: 0 };
  const b = new AddressBudget(
    1000,
    1000,
    () => 1,
    () => clock.now,
    { rate: total, burst: total },
  );
  budgets.push(b);
  return { b, clock };
}

test("many addresses together get the total's worth; past it, each goes on only within its fair part", () => {
  const { b, clock } = withTotal(1000);
  const share = () => newShare(clock.now);
  // Ten addresses, each far within its own budget, spend the total between them.
  for (let i = 1; i <= 10; i++) b.charge(`10.0.0.${i}`, 100);
  expect(b.totalInDebt()).toBe(false); // exactly spent
  expect(b.inDebt("10.0.0.1")).toBe(false);
  // One of them goes on: the total is in debt, and what it spends from then on is taken
  // from its fair part of it (as with a connection's share, not the frame that crossed).
  b.charge("10.0.0.1", 50);
  expect(b.totalInDebt()).toBe(true);
  expect(b.mayGo("10.0.0.1", share())).toBe(true);
  b.charge("10.0.0.1", 50);
  expect(b.mayGo("10.0.0.1", share())).toBe(false);
  // The others spent nothing while the total was in debt: they go on (within 1000/10 per s).
  expect(b.mayGo("10.0.0.2", share())).toBe(true);
  // So does an address that has not spent at all.
  expect(b.mayGo("10.0.0.99", share())).toBe(true);
  // The flooding address waits for whichever comes first: the total out of debt (100 ms at
  // 1000/s) or its fair part (50 tokens at 100/s: 500 ms).
  expect(b.goWaitMs("10.0.0.1", share())).toBe(100);
  clock.now = 100;
  expect(b.totalInDebt()).toBe(false);
  expect(b.mayGo("10.0.0.1", share())).toBe(true);
});

test("while the total is in debt, a flood from many addresses is held to the total's rate", () => {
  const { b, clock } = withTotal(1000);
  const shares = Array.from({ length: 20 }, () => newShare(0));
  let spent = 0;
  // 20 addresses each try to spend 100 tokens every 10 ms (10,000/s each) for one second.
  for (let t = 0; t <= 1000; t += 10) {
    clock.now = t;
    for (let i = 0; i < 20; i++) {
      const address = `10.0.1.${i}`;
      for (let k = 0; k < 100 && b.mayGo(address, shares[i]!); k++) {
        b.charge(address, 1, shares[i]);
        spent++;
      }
    }
  }
  // The burst, one second of the rate, and at most one token per address per look past it.
  expect(spent).toBeGreaterThan(1500);
  expect(spent).toBeLessThan(1000 + 1000 + 20 * 101);
});

test("whenMayGo wakes a connection held by the total once the total has paid", async () => {
  const b = new AddressBudget(1_000_000, 1_000_000, () => 1, undefined, { rate: 1000, burst: 10 });
  budgets.push(b);
  const share = newShare(performance.now());
  b.charge("10.0.0.1", 10);
  b.charge("10.0.0.1", 30); // the total 30 in debt
  b.charge("10.0.0.1", 30); // and this address's fair part: 30 ms at 1000/s
  expect(b.inDebt("10.0.0.1")).toBe(false);
  expect(b.mayGo("10.0.0.1", share)).toBe(false);
  const started = performance.now();
  await Promise.race([
    new Promise<void>((r) => b.whenMayGo("10.0.0.1", share, r)),
    Bun.sleep(2000).then(() => Promise.reject(new Error("not woken"))),
  ]);
  expect(performance.now() - started).toBeGreaterThanOrEqual(20);
  expect(b.mayGo("10.0.0.1", share)).toBe(true);
});

test("a connection's share keeps its address's bucket, and finds the new one after the old was forgotten", () => {
  const { b, clock } = budget(1000, 100);
  const share = newShare(0);
  b.charge("10.0.0.1", 150, share);
  expect(b.inDebt("10.0.0.1")).toBe(true);
  // Another address's connection keeps its own bucket.
  const other = newShare(0);
  b.charge("10.0.0.2", 10, other);
  expect(b.inDebt("10.0.0.2")).toBe(false);
  // Paid off and full again: the sweep forgets both buckets.
  clock.now = 1000;
  (b as unknown as { sweep(): void }).sweep();
  expect(b.size).toBe(0);
  // The share's next charge goes to a new bucket the budget knows, not to the forgotten one.
  b.charge("10.0.0.1", 150, share);
  expect(b.size).toBe(1);
  expect(b.inDebt("10.0.0.1")).toBe(true);
  expect(b.waitMs("10.0.0.1")).toBe(50);
});
