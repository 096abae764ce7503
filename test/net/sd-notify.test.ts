import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { notifyAddress, sdNotify } from "../../src/net/sd-notify";
import { DatagramReceiver } from "./datagram-receiver";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function receiver(path: string): DatagramReceiver {
  const r = new DatagramReceiver(path);
  cleanup.push(() => r.close());
  return r;
}

describe("sdNotify", () => {
  test("does nothing without NOTIFY_SOCKET", () => {
    expect(sdNotify("READY=1", {})).toBe(false);
    expect(sdNotify("READY=1", { NOTIFY_SOCKET: "" })).toBe(false);
  });

  test("sends one datagram to a socket path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-notify-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = receiver(join(dir, "notify"));
    expect(sdNotify("READY=1\nSTATUS=serving", { NOTIFY_SOCKET: r.path })).toBe(true);
    expect(await r.next(() => true)).toBe("READY=1\nSTATUS=serving");
  });

  test("sends to an abstract socket (@name)", async () => {
    const r = receiver(`@chat-notify-test-${process.pid}-${Date.now()}`);
    expect(sdNotify("STOPPING=1", { NOTIFY_SOCKET: r.path })).toBe(true);
    expect(await r.next(() => true)).toBe("STOPPING=1");
  });

  test("says why when the socket is not there", () => {
    expect(() => sdNotify("READY=1", { NOTIFY_SOCKET: "/nonexistent/notify" })).toThrow(
      "cannot notify systemd: sendto /nonexistent/notify failed",
    );
    expect(() => notifyAddress("x".repeat(200))).toThrow("is not a usable socket address");
  });
});
