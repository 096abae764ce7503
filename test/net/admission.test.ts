import { describe, expect, test } from "bun:test";
import { Admission, Deadlines, OncePerInterval } from "../../src/net/admission";

describe("Admission", () => {
  test("counts in total and per address; the global cap is checked first", () => {
    const a = new Admission(3, 2);
    expect(a.admit("x")).toBeNull();
    expect(a.admit("x")).toBeNull();
    expect(a.admit("x")).toEqual({ kind: "per_address", detail: "too many connections from x (limit 2)" });
    expect(a.admit("y")).toBeNull();
    expect(a.total).toBe(3);
    expect(a.admit("z")).toEqual({ kind: "global", detail: "the server is at its limit of 3 connections" });
    a.release("x");
    expect(a.from("x")).toBe(1);
    expect(a.admit("z")).toBeNull();
  });

  test("releasing an address never admitted changes nothing", () => {
    const a = new Admission(1, 1);
    a.release("nobody");
    expect(a.total).toBe(0);
    expect(a.admit("x")).toBeNull();
    a.release("x");
    a.release("x");
    expect(a.total).toBe(0);
  });
});

describe("Deadlines", () => {
  test("expired returns what is due, oldest first, once", () => {
    const d = new Deadlines<string>(100);
    d.add("a", 0);
    d.add("b", 50);
    d.add("c", 60);
    expect(d.delete("b")).toBe(true);
    expect(d.expired(99)).toEqual([]);
    expect(d.expired(160)).toEqual(["a", "c"]);
    expect(d.expired(1000)).toEqual([]);
    expect(d.size).toBe(0);
    expect(d.delete("a")).toBe(false);
  });
});

describe("OncePerInterval", () => {
  test("the first is logged, the rest counted and reported after the interval", () => {
    const o = new OncePerInterval(10_000);
    expect(o.note(0)).toBe(true);
    for (let t = 1; t <= 500; t++) expect(o.note(t)).toBe(false);
    expect(o.due(9_999)).toBe(0);
    expect(o.due(10_000)).toBe(500);
    expect(o.due(30_000)).toBe(0); // nothing new
    expect(o.note(30_001)).toBe(true);
  });
});
