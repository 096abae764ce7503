import { describe, expect, it } from "bun:test";
import { Batches } from "../../src/store/redis-batch";

/** One call, its answer as a promise (the batch itself answers by callback). */
const add = (b: Batches<string, string>, key: number, item: string) =>
  new Promise<string>((resolve, reject) =>
    b.add(key, item, (error, answer) => (error === null ? resolve(answer!) : reject(error))),
  );

describe("Batches (the calls of one turn per key, as one command)", () => {
  it("answers a batch's calls in call order, all in the one settlement of its command", async () => {
    let answer: (r: string[]) => void = () => {};
    const b = new Batches<string, string>(
      (_key, items) =>
        new Promise<readonly string[]>((resolve) => (answer = () => resolve(items.map((x) => `${x}!`)))),
      10,
    );
    const told: string[] = [];
    for (const x of ["a", "b", "c"]) b.add(1, x, (error, r) => told.push(error === null ? r! : "error"));
    await Promise.resolve(); // the batch leaves
    expect(told).toEqual([]);
    answer([]);
    await Promise.resolve();
    await Promise.resolve();
    // Told together: nothing ran between the calls' callbacks.
    expect(told).toEqual(["a!", "b!", "c!"]);
  });

  it("sends the calls of one turn per key together, in call order, each answered by its place", async () => {
    const sent: [number, string[]][] = [];
    const b = new Batches<string, string>(async (key, items) => {
      sent.push([key, [...items]]);
      return items.map((x) => `${x}!`);
    }, 10);
    const turn = [add(b, 1, "a"), add(b, 2, "x"), add(b, 1, "b"), add(b, 1, "c")];
    expect(sent).toEqual([]); // nothing leaves before the microtask queue runs
    expect(await Promise.all(turn)).toEqual(["a!", "x!", "b!", "c!"]);
    expect(sent).toEqual([
      [1, ["a", "b", "c"]],
      [2, ["x"]],
    ]);
    // A later turn opens new batches.
    expect(await add(b, 1, "d")).toBe("d!");
    expect(sent.at(-1)).toEqual([1, ["d"]]);
  });

  it("sends a full batch at once and opens the next, keeping the order", async () => {
    const sent: string[][] = [];
    const b = new Batches<string, string>(async (_key, items) => {
      sent.push([...items]);
      return [...items];
    }, 2);
    const all = ["a", "b", "c", "d", "e"].map((x) => add(b, 7, x));
    expect(sent).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(await Promise.all(all)).toEqual(["a", "b", "c", "d", "e"]);
    expect(sent).toEqual([["a", "b"], ["c", "d"], ["e"]]);
  });

  it("fails every call of a batch whose command fails, or that is answered short, and goes on", async () => {
    let fail = true;
    const b = new Batches<string, string>(async (_key, items) => {
      if (fail) throw new Error("Redis is away");
      return items.slice(1);
    }, 10);
    const failed = await Promise.allSettled([add(b, 1, "a"), add(b, 1, "b")]);
    expect(failed.map((r) => (r.status === "rejected" ? (r.reason as Error).message : "ok"))).toEqual([
      "Redis is away",
      "Redis is away",
    ]);
    fail = false;
    const short = await Promise.allSettled([add(b, 1, "a"), add(b, 1, "b")]);
    expect(short[0]).toEqual({ status: "fulfilled", value: "b" });
    expect(short[1]!.status).toBe("rejected");
    expect(((short[1] as PromiseRejectedResult).reason as Error).message).toBe(
      "a batch of 2 was answered 1 times",
    );
  });

  it("fails the batch's calls when sending throws instead of rejecting", async () => {
    const b = new Batches<string, string>(() => {
      throw new Error("no connection");
    }, 10);
    expect(await add(b, 1, "a").catch((e: Error) => e.message)).toBe("no connection");
  });
});
