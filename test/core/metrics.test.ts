import { describe, expect, test } from "bun:test";
import { Op } from "../../src/wire";
import { Harness, pw } from "./helpers";

/** alice and bob chat: 2 queued, 1 live, 1 resent, 3 of 4 confirmed, and a few errors. */
async function scenario(h: Harness): Promise<void> {
  await h.offline("bob");
  const alice = await h.user("alice");
  await alice.sendTo("bob", "queued 1");
  await alice.sendTo("bob", "queued 2");
  await alice.sendTo("ghost", "nobody");
  await alice.sendTo("bob", "");
  await h.connect().login("bob", "wrong-password");
  const bob = h.connect();
  await bob.login("bob", pw("bob"));
  await alice.sendTo("bob", "live 1");
  await alice.sendTo("bob", "live 2", { clientMsgId: 9 });
  await alice.sendTo("bob", "live 2", { clientMsgId: 9 });
  await bob.ack(
    bob
      .delivered()
      .slice(0, 3)
      .map((m) => m.id),
  );
}

describe("metrics", () => {
  test("counts match a scripted scenario", async () => {
    const h = new Harness();
    await scenario(h);
    const m = h.metrics;
    expect({
      accepted: m.messagesAccepted,
      queued: m.messagesQueued,
      pushed: m.messagesPushed,
      confirmed: m.messagesConfirmed,
      loginsFailed: m.loginsFailed,
      sessions: m.sessions,
      opened: m.connectionsOpened,
    }).toEqual({ accepted: 4, queued: 2, pushed: 4, confirmed: 3, loginsFailed: 1, sessions: 2, opened: 4 });
    const text = m.render();
    for (const line of [
      "chat_messages_accepted_total 4",
      "chat_messages_queued_total 2",
      "chat_messages_pushed_total 4",
      "chat_messages_delivered_total 3",
      "chat_logins_failed_total 1",
      "chat_sessions 2",
      'chat_errors_total{status="NO_SUCH_ACCOUNT"} 1',
      'chat_errors_total{status="INVALID_TEXT"} 1',
      'chat_errors_total{status="BAD_CREDENTIALS"} 1',
    ]) {
      expect(text.split("\n")).toContain(line);
    }
    expect(text).not.toContain('status="OK"');
  });

  test("open connections go down as they close", async () => {
    const h = new Harness();
    const a = h.connect();
    h.connect();
    expect(h.metrics.connections).toBe(2);
    await a.request({ opcode: Op.QUIT });
    expect(h.metrics.connections).toBe(1);
    expect(h.metrics.render()).toContain("\nchat_connections 1\n");
  });

  test("render() is valid Prometheus text: declared families, well-formed samples, sane histogram", async () => {
    const h = new Harness();
    await scenario(h);
    const text = h.metrics.render();
    expect(text.endsWith("\n")).toBe(true);
    const types = new Map<string, string>();
    const samples: [string, string, number][] = [];
    for (const line of text.slice(0, -1).split("\n")) {
      const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
      if (meta) {
        if (meta[1] === "TYPE") {
          expect(["counter", "gauge", "histogram"]).toContain(meta[3]!);
          expect(types.has(meta[2]!)).toBe(false);
          types.set(meta[2]!, meta[3]!);
        }
        continue;
      }
      const sample =
        /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_]\w*="[^"\\\n]*"(,[a-zA-Z_]\w*="[^"\\\n]*")*\})? (\S+)$/.exec(
          line,
        );
      expect(sample, line).not.toBeNull();
      const family = sample![1]!.replace(/_(bucket|sum|count)$/, "");
      expect(types.has(sample![1]!) || types.get(family) === "histogram", line).toBe(true);
      expect(Number.isFinite(Number(sample![4])), line).toBe(true);
      samples.push([sample![1]!, sample![2] ?? "", Number(sample![4])]);
    }
    const buckets = samples.filter(([n]) => n === "chat_request_duration_seconds_bucket").map(([, , v]) => v);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    const count = samples.find(([n]) => n === "chat_request_duration_seconds_count")![2];
    expect(buckets.at(-1)).toBe(count);
    expect(count).toBeGreaterThan(10);
    expect(samples.some(([n, labels]) => n.endsWith("_bucket") && labels === '{le="+Inf"}')).toBe(true);
  });
});
