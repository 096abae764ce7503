import { describe, expect, test } from "bun:test";
import {
  acceptFor,
  checkUpgrade,
  maskedBound,
  maskFrames,
  readServerFrame,
  upgradeRequest,
} from "../../src/bench/ws-wire";
import { writeVarint } from "../../src/wire";

/** Length-prefixed frames, as the bench client writes them. */
function prefixed(...bodies: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(bodies.reduce((n, b) => n + b.length + 5, 0));
  let p = 0;
  for (const b of bodies) {
    p = writeVarint(out, p, b.length);
    out.set(b, p);
    p += b.length;
  }
  return out.subarray(0, p);
}

/** Unmasks one client frame at buf[p] (RFC 6455 §5.2): [opcode, payload, next offset]. */
function unmask(buf: Uint8Array, p: number): [number, Uint8Array, number] {
  expect(buf[p]! & 0x80).toBe(0x80); // FIN
  expect(buf[p + 1]! & 0x80).toBe(0x80); // MASK: every client frame is masked
  let len = buf[p + 1]! & 0x7f;
  let q = p + 2;
  if (len === 126) {
    len = (buf[q]! << 8) | buf[q + 1]!;
    q += 2;
  }
  const key = buf.subarray(q, q + 4);
  q += 4;
  const body = new Uint8Array(len);
  for (let i = 0; i < len; i++) body[i] = buf[q + i]! ^ key[i & 3]!;
  return [buf[p]! & 0x0f, body, q + len];
}

test("the accept key is RFC 6455's example", () => {
  expect(acceptFor("dGhlIHNhbXBsZSBub25jZQ==")).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("the upgrade request names /ws, the host and the server's own origin", () => {
  const r = upgradeRequest("[::1]:8081", "k", "http://[::1]:8081");
  expect(r).toStartWith("GET /ws HTTP/1.1\r\nHost: [::1]:8081\r\n");
  expect(r).toContain("\r\nOrigin: http://[::1]:8081\r\n");
  expect(r).toContain("\r\nSec-WebSocket-Version: 13\r\n");
  expect(r).toEndWith("\r\n\r\n");
});

describe("checkUpgrade", () => {
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  test("101 with the matching accept key is accepted", () => {
    const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${acceptFor(key)}`;
    expect(checkUpgrade(head, key)).toBeNull();
  });
  test("another status, a wrong key or not HTTP says why", () => {
    expect(checkUpgrade("HTTP/1.1 403 Forbidden\r\nx: y", key)).toBe("the server answered 403 Forbidden");
    expect(checkUpgrade("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: nope", key)).toContain("does not match");
    expect(checkUpgrade("SSH-2.0-OpenSSH", key)).toBe("the answer is not HTTP/1.1");
  });
});

test("maskFrames: one masked binary frame per length-prefixed frame, bodies intact", () => {
  const small = new Uint8Array(5).fill(7);
  const big = new Uint8Array(300).map((_, i) => i & 0xff);
  const frames = prefixed(small, big, new Uint8Array(0));
  const out = new Uint8Array(maskedBound(frames));
  let m = 0x12345678;
  const end = maskFrames(frames, out, 0, () => (m = (m * 31 + 7) >>> 0));
  let p = 0;
  const bodies: Uint8Array[] = [];
  while (p < end) {
    const [op, body, next] = unmask(out, p);
    expect(op).toBe(2);
    bodies.push(body);
    p = next;
  }
  expect(bodies).toEqual([small, big, new Uint8Array(0)]);
});

describe("readServerFrame", () => {
  test("short, 16-bit and 64-bit lengths; incomplete frames wait", () => {
    const f1 = new Uint8Array([0x82, 3, 1, 2, 3]);
    expect(readServerFrame(f1, 0, f1.length)).toEqual({ opcode: 2, fin: true, start: 2, end: 5, next: 5 });
    expect(readServerFrame(f1, 0, 4)).toBeNull();
    const f2 = new Uint8Array(4 + 200);
    f2.set([0x02, 126, 0, 200]);
    expect(readServerFrame(f2, 0, f2.length)).toMatchObject({ opcode: 2, fin: false, start: 4, end: 204 });
    const f3 = new Uint8Array(10 + 70_000);
    f3.set([0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    expect(readServerFrame(f3, 0, f3.length)).toMatchObject({ opcode: 8, start: 10, end: 70_010 });
    expect(readServerFrame(f3, 0, 9)).toBeNull();
  });
  test("a masked server frame is refused", () => {
    expect(() => readServerFrame(new Uint8Array([0x82, 0x81, 0, 0, 0, 0, 1]), 0, 7)).toThrow("masked");
  });
});
