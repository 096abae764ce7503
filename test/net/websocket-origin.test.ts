import { describe, expect, test } from "bun:test";
import { checkOrigin, originOf, parseAllowedOrigins } from "../../src/net/websocket-origin";
import { securityHeaders, staticFiles } from "../../src/net/websocket-server";

describe("checkOrigin", () => {
  test("no Origin (not a browser) is let in", () => {
    expect(checkOrigin(null, "chat.example:8081", false, [])).toEqual({ ok: true });
  });
  test("the server's own origin, by scheme and Host, is let in; default ports and case do not matter", () => {
    expect(checkOrigin("http://chat.example:8081", "chat.example:8081", false, []).ok).toBe(true);
    expect(checkOrigin("https://Chat.Example", "chat.example:443", true, []).ok).toBe(true);
    expect(checkOrigin("http://[::1]:8081", "[::1]:8081", false, []).ok).toBe(true);
  });
  test("another scheme, host or port of the same name is refused", () => {
    expect(checkOrigin("https://chat.example:8081", "chat.example:8081", false, []).ok).toBe(false);
    expect(checkOrigin("http://chat.example:8082", "chat.example:8081", false, []).ok).toBe(false);
    expect(checkOrigin("http://evil.example", "chat.example:8081", false, [])).toEqual({
      ok: false,
      reason:
        "pages from http://evil.example may not connect (allowed: this server's own origin; see --web-allowed-origin)",
    });
  });
  test("opaque and non-http origins are refused", () => {
    expect(checkOrigin("null", "chat.example", false, []).ok).toBe(false);
    expect(checkOrigin("file:///x", "chat.example", false, []).ok).toBe(false);
    expect(checkOrigin("http://chat.example", null, false, []).ok).toBe(false);
  });
  test("listed origins are let in", () => {
    const allowed = parseAllowedOrigins("https://a.example, http://b.example:8000/");
    expect(allowed).toEqual(["https://a.example", "http://b.example:8000"]);
    expect(checkOrigin("https://a.example", "chat.example", false, allowed).ok).toBe(true);
    expect(checkOrigin("http://b.example:8000", "chat.example", false, allowed).ok).toBe(true);
    expect(checkOrigin("http://b.example", "chat.example", false, allowed).ok).toBe(false);
  });
});

describe("parseAllowedOrigins", () => {
  test("empty is none", () => {
    expect(parseAllowedOrigins(undefined)).toEqual([]);
    expect(parseAllowedOrigins(" ")).toEqual([]);
  });
  test("an entry that is not an origin is refused by name", () => {
    expect(() => parseAllowedOrigins("https://a.example/path")).toThrow('got "https://a.example/path"');
    expect(() => parseAllowedOrigins("a.example")).toThrow("--web-allowed-origin wants origins");
    expect(() => parseAllowedOrigins("ftp://a.example")).toThrow("--web-allowed-origin");
  });
  test("originOf", () => {
    expect(originOf("HTTP://A.EXAMPLE:80/x")).toBe("http://a.example");
    expect(originOf("nonsense")).toBeNull();
  });
});

describe("securityHeaders", () => {
  test("no inline script, no eval, connections only back to this host", () => {
    const h = securityHeaders("chat.example:8081", true);
    expect(h["content-security-policy"]).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' wss://chat.example:8081; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
  });
  test("a Host header that is not a plain host[:port] stays out of the policy", () => {
    const h = securityHeaders("evil.example; script-src *", false);
    expect(h["content-security-policy"]).toContain("connect-src 'self';");
    expect(h["content-security-policy"]).not.toContain("evil");
  });
});

describe("staticFiles", () => {
  test("maps the page to / and its chunks by name; a bundle without files (not prebuilt) is null", () => {
    const files = staticFiles({
      index: "/$bunfs/root/index-1.html",
      files: [
        {
          path: "/$bunfs/root/index-1.html",
          loader: "html",
          isEntry: true,
          headers: { etag: "a", "content-type": "text/html" },
        },
        {
          path: "/$bunfs/root/chunk-2.js",
          loader: "js",
          isEntry: true,
          headers: { etag: "b", "content-type": "text/javascript" },
        },
      ],
    });
    expect([...files!.keys()]).toEqual(["/", "/chunk-2.js"]);
    expect(staticFiles({ index: "x.html" })).toBeNull();
  });
});
