import { describe, expect, it } from "bun:test";
import { checkPassword, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS } from "../../src/rules/password";

const TOO_SHORT = { ok: false, reason: "the password must be at least 8 characters" };
const TOO_LONG = { ok: false, reason: "the password must be at most 1024 bytes" };

describe("checkPassword", () => {
  it("has the documented limits", () => {
    expect([MIN_PASSWORD_CHARS, MAX_PASSWORD_BYTES]).toEqual([8, 1024]);
  });

  it.each([
    ["exactly 8 characters", "12345678"],
    ["a passphrase with spaces", "correct horse battery staple"],
    ["8 astral characters", "👋".repeat(8)],
    ["8 accented characters", "éééééééé"],
    ["exactly 1024 ASCII bytes", "a".repeat(1024)],
    ["512 two-byte characters: 1024 bytes", "é".repeat(512)],
    ["341 three-byte characters: 1023 bytes", "€".repeat(341)],
  ])("accepts %s", (_, pw) => expect(checkPassword(pw)).toEqual({ ok: true }));

  it.each([
    ["empty", ""],
    ["7 characters", "1234567"],
    ["7 emoji (14 UTF-16 units, still 7 characters)", "👋".repeat(7)],
  ])("refuses %s as too short", (_, pw) => expect(checkPassword(pw)).toEqual(TOO_SHORT));

  it.each([
    ["1025 ASCII bytes", "a".repeat(1025)],
    ["513 two-byte characters: 1026 bytes", "é".repeat(513)],
    ["342 three-byte characters: 1026 bytes", "€".repeat(342)],
    ["257 four-byte characters: 1028 bytes", "👋".repeat(257)],
    ["a megabyte", "x".repeat(1 << 20)],
  ])("refuses %s as too long", (_, pw) => expect(checkPassword(pw)).toEqual(TOO_LONG));
});
