import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AdminRequest, AdminResponse } from "../../src/admin/actions";
import { callControl, NoServer } from "../../src/admin/control-client";
import { type ControlSocket, startControlSocket } from "../../src/admin/control-server";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), "chat-control-"));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function start(
  path: string,
  handle: (r: AdminRequest) => Promise<AdminResponse> = async (r) => ({ ok: true, text: r.action }),
): ControlSocket {
  const s = startControlSocket(path, handle);
  cleanup.push(() => s.stop());
  return s;
}

/** Writes raw bytes to the socket and collects what comes back until it closes. */
async function raw(path: string, bytes: string | Uint8Array): Promise<string> {
  let out = "";
  let closed: () => void = () => {};
  const done = new Promise<void>((r) => {
    closed = r;
  });
  const s = await Bun.connect({
    unix: path,
    socket: {
      data: (_s, d) => {
        out += Buffer.from(d).toString();
      },
      close: () => closed(),
      error: () => closed(),
    },
  });
  s.write(bytes);
  await done;
  return out;
}

describe("control socket", () => {
  test("answers one request per connection, and is mode 0600", async () => {
    const path = join(dir(), "c.sock");
    start(path);
    expect(await callControl(path, { action: "stats" })).toEqual({ ok: true, text: "stats" });
    expect((statSync(path).mode & 0o777).toString(8)).toBe("600");
  });

  test("answers bad input with a reason and stays up", async () => {
    const path = join(dir(), "c.sock");
    start(path);
    expect(JSON.parse(await raw(path, "not json\n"))).toEqual({
      ok: false,
      error: "a request is one line of JSON",
    });
    expect(JSON.parse(await raw(path, '{"action":"rm"}\n')).error).toMatch(/^unknown action/);
    expect(JSON.parse(await raw(path, "x".repeat(70_000)))).toEqual({ ok: false, error: "request too long" });
    expect(JSON.parse(await raw(path, new Uint8Array([0xff, 0xfe, 10]))).ok).toBe(false);
    expect(await callControl(path, { action: "bans" })).toEqual({ ok: true, text: "bans" });
  });

  test("writes a long answer whole", async () => {
    const path = join(dir(), "c.sock");
    const text = "y".repeat(3_000_000);
    start(path, async () => ({ ok: true, text }));
    const r = await callControl(path, { action: "accounts" });
    expect(r.ok && r.text.length).toBe(text.length);
  });

  test("replaces a stale socket, refuses to replace another file, and is gone after stop", async () => {
    const d = dir();
    const path = join(d, "c.sock");
    start(path).stop();
    expect(() => statSync(path)).toThrow();
    const notASocket = join(d, "file");
    writeFileSync(notASocket, "keep me");
    expect(() => start(notASocket)).toThrow("a file that is not a socket is there");
    await expect(callControl(join(d, "none.sock"), { action: "stats" })).rejects.toBeInstanceOf(NoServer);
  });
});
