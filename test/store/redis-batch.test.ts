import { describe, expect, it } from "bun:test";
import { Batches } from "../../src/store/redis-batch";

describe("Batches (the calls of one turn per key, as one command)", () => {
  it("sends the calls of one turn per key together, in call order, each answered by its place", async () => {
    const sent: [number, string[]][] = [];
    const b = new Batches<string, string>(async (key, items) => {
      sent.push([key, [...items]]);
      return items.map((x) => `${x}!`);
    }, 10);
    const turn = [b.add(1, "a"), b.add(2, "x"), b.add(1, "b"), b.add(1, "c")];
    expect(sent).toEqual([]); // nothing leaves before the microtask queue runs
    expect(await Promise.all(turn)).toEqual(["a!", "x!", "b!", "c!"]);
    expect(sent).toEqual([
      [1, ["a", "b", "c"]],
      [2, ["x"]],
    ]);
    // A later turn opens new batches.
    expect(await b.add(1, "d")).toBe("d!");
    expect(sent.at(-1)).toEqual([1, ["d"]]);
  });

  it("sends a full batch at once and opens the next, keeping the order", async () => {
    const sent: string[][] = [];
    const b = new Batches<string, string>(async (_key, items) => {
      sent.push([...items]);
      return [...items];
    }, 2);
    const all = ["a", "b", "c", "d", "e"].map((x) => b.add(7, x));
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
    const failed = await Promise.allSettled([b.add(1, "a"), b.add(1, "b")]);
    expect(failed.map((r) => (r.status === "rejected" ? (r.reason as Error).message : "ok"))).toEqual([
      "Redis is away",
      "Redis is away",
    ]);
    fail = false;
    const short = await Promise.allSettled([b.add(1, "a"), b.add(1, "b")]);
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
    expect(await b.add(1, "a").catch((e: Error) => e.message)).toBe("no connection");
  });
});
