// The line a reconnection prints names the server when the client moved to another one.

import { expect, test } from "bun:test";
import { Output } from "../../src/client/output";

test("a reconnection to another server says which, in text and in JSON", async () => {
  const lines: string[] = [];
  const text = new Output("text", async (l) => void lines.push(l));
  const json = new Output("json", async (l) => void lines.push(l));
  const moved = { type: "reconnected", resumed: "bob", unread: 0, resent: 0, showing: false } as const;
  await text.event({ ...moved, address: "host2:8080" });
  await text.event(moved);
  await json.event({ ...moved, address: "[::1]:8080" });
  expect(lines[0]).toBe("✓ reconnected to host2:8080 as bob — no unread");
  expect(lines[1]).toBe("✓ reconnected as bob — no unread");
  expect(JSON.parse(lines[2]!)).toMatchObject({ type: "reconnected", resumed: "bob", address: "[::1]:8080" });
});
