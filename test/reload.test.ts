import { describe, expect, test } from "bun:test";
import { createConsola } from "consola";
import { serveOptions } from "../src/cli/serve";
import type { Listener } from "../src/net/listener";
import { LOG_LEVELS } from "../src/net/log";
import { reloader } from "../src/reload";
import type { ServeOptions } from "../src/server";

function setup(tls?: { cert: string; key: string }) {
  const o = serveOptions({}, "/tmp/chat.db");
  const swapped: { cert: string; key: string }[] = [];
  let refuse = false;
  const listener: Listener = {
    port: 1,
    host: "127.0.0.1",
    stop() {},
    reloadTls(t) {
      if (refuse) throw new Error("bad PEM");
      swapped.push(t);
    },
  };
  const log = createConsola({ level: LOG_LEVELS.info });
  const files = new Map<string, string>();
  const readTls = (n: ServeOptions) =>
    n.tlsCert ? { cert: files.get(n.tlsCert)!, key: files.get(n.tlsKey!)! } : undefined;
  const reload = reloader({ o, listener, tls, readTls, loggers: [log] });
  return { o, reload, swapped, log, files, refuseNext: () => (refuse = true) };
}

describe("reloader", () => {
  test("applies the reloadable settings to the running options and names the others", () => {
    const { o, reload, log } = setup();
    const flags = { "request-rate": "50", "log-level": "debug", "max-queued": "5", port: "9000" };
    const next = serveOptions(flags, "/tmp/chat.db");
    expect(reload(next, Object.keys(flags))).toEqual({
      applied: ["log-level = debug", "request-rate = 50"],
      needRestart: ["max-queued", "port"],
    });
    expect([o.requestRate, o.logLevel, o.maxQueuedPerAccount, o.port]).toEqual([50, "debug", 10_000, 8080]);
    expect(log.level).toBe(LOG_LEVELS.debug);
    expect(reload(next, [])).toEqual({ applied: [], needRestart: [] });
  });

  test("swaps the certificate when the files' contents changed, and keeps it when the new one fails", () => {
    const { reload, swapped, files, refuseNext } = setup({ cert: "A", key: "a" });
    const next = serveOptions({ "tls-cert": "/c", "tls-key": "/k" }, "/tmp/chat.db");
    files.set("/c", "A").set("/k", "a");
    expect(reload(next, []).applied).toEqual([]);
    files.set("/c", "B").set("/k", "b");
    expect(reload(next, []).applied).toEqual(["tls certificate"]);
    expect(swapped).toEqual([{ cert: "B", key: "b" }]);
    files.set("/c", "C");
    refuseNext();
    expect(() => reload(next, ["tls-cert"])).toThrow(
      "cannot use the new TLS certificate (still serving the old one): bad PEM",
    );
    expect(reload(serveOptions({}, "/tmp/chat.db"), ["tls-cert", "tls-key"]).needRestart).toEqual([
      "tls-cert (turning TLS off)",
    ]);
  });
});
