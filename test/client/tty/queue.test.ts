import { describe, expect, test } from "bun:test";
import { LineQueue } from "../../../src/client/tty/queue";

describe("LineQueue", () => {
  test("lines entered while nobody reads wait, and come out in order", async () => {
    const q = new LineQueue<string>();
    for (let i = 1; i <= 3; i++) q.push(`line ${i}`);
    expect(q.pending).toBe(3);
    expect(await q.take("a").promise).toBe("line 1");
    expect(await q.take("b").promise).toBe("line 2");
    expect(await q.take("c").promise).toBe("line 3");
  });

  test("readers are served in the order they asked; head is the next one", async () => {
    const q = new LineQueue<string>();
    const first = q.take("main");
    const second = q.take("ask");
    expect(q.head).toBe("main");
    q.push("x");
    expect(q.head).toBe("ask");
    q.push("y");
    expect(await first.promise).toBe("x");
    expect(await second.promise).toBe("y");
  });

  test("a cancelled reader gets null and the next line goes to the next reader", async () => {
    const q = new LineQueue<string>();
    const ask = q.take("ask");
    const main = q.take("main");
    ask.cancel();
    expect(await ask.promise).toBeNull();
    q.push("z");
    expect(await main.promise).toBe("z");
  });

  test("the end of input comes after the queued lines and stays", async () => {
    const q = new LineQueue<string>();
    q.push("last");
    q.end();
    expect(q.push("too late")).toBe(false);
    expect(await q.take("a").promise).toBe("last");
    expect(await q.take("a").promise).toBeNull();
    expect(await q.take("a").promise).toBeNull();
  });

  test("close() answers every waiting reader with null", async () => {
    const q = new LineQueue<string>();
    const a = q.take("a");
    q.close();
    expect(await a.promise).toBeNull();
    expect(await q.take("b").promise).toBeNull();
  });

  test("drain() hands back the lines not read and refuses later ones", async () => {
    const q = new LineQueue<string>();
    q.push("read");
    q.push("left 1");
    q.push("left 2");
    expect(await q.take("a").promise).toBe("read");
    expect(q.drain()).toEqual(["left 1", "left 2"]);
    expect(q.push("after")).toBe(false);
    expect(await q.take("a").promise).toBeNull();
  });
});
