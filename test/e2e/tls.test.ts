// TLS: `chat serve --tls-cert/--tls-key` and `chat connect --tls [--ca] [--insecure]`,
// with a self-signed certificate made for this run.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type ChatServer, runChat, startClient, startServer, tempDir } from "./harness";

let dir: string;
let server: ChatServer;

beforeAll(async () => {
  dir = tempDir();
  const openssl = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    { stderr: "pipe" },
  );
  if (openssl.exitCode !== 0) throw new Error(`openssl failed: ${openssl.stderr.toString()}`);
  server = await startServer(["--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem")]);
});
afterAll(async () => {
  await server.stop();
});

async function firstEvent(args: string[], lines: string[] = []) {
  const c = startClient(server.port, args);
  if (lines.length) c.say(...lines);
  c.end();
  const code = await c.exited;
  return { code, events: c.events };
}

describe("TLS", () => {
  test("a client trusting the certificate chats over TLS", async () => {
    const { code, events } = await firstEvent(
      ["--tls", "--ca", join(dir, "cert.pem")],
      ["/create tls_user", "correct horse"],
    );
    expect(code).toBe(0);
    expect(events.find((e) => e.type === "reply" && e.command === "login")).toMatchObject({
      ok: true,
      name: "tls_user",
    });
    expect(server.out.all.join("\n")).toContain("listening on port");
    expect(server.out.all.join("\n")).toContain("(TLS)");
  });

  test("the certificate is verified by default", async () => {
    const { code, events } = await firstEvent(["--tls"]);
    expect(code).toBe(1);
    expect(String(events[0]?.msg)).toContain(
      "TLS certificate is not trusted (self signed certificate); pass --ca FILE",
    );
  });

  test("--insecure skips verification", async () => {
    const { code, events } = await firstEvent(["--tls", "--insecure"], ["/login tls_user", "correct horse"]);
    expect(code).toBe(0);
    expect(events.find((e) => e.type === "reply")).toMatchObject({ command: "login", ok: true });
  });

  test("a plain client at a TLS port is told it may need --tls", async () => {
    const { code, events } = await firstEvent(["--connect-timeout", "500ms"]);
    expect(code).toBe(1);
    expect(String(events[0]?.msg)).toContain("(if the server uses TLS, add --tls)");
  });

  test("a missing key file is a clear start-up error", async () => {
    const { code, out, err } = await runChat([
      "serve",
      "--port",
      "0",
      "--data",
      ":memory:",
      "--tls-cert",
      join(dir, "cert.pem"),
      "--tls-key",
      join(dir, "nope.pem"),
    ]);
    expect(code).toBe(1);
    expect(out + err).toContain(`cannot read TLS key ${join(dir, "nope.pem")}: ENOENT`);
  });
});
