// Every test of this folder again, on a store whose promises settle out of order (as a
// networked store's do): answers, pushes and hand-overs must come out the same.

import { expect, test } from "bun:test";
import { join } from "node:path";
import { track } from "../processes";

const SEEDS = [1, 7];

test.skipIf(process.env.CHAT_CORE_SCRAMBLE !== undefined).each(SEEDS)(
  "test/core passes with store results settling out of order (seed %d)",
  async (seed) => {
    const root = join(import.meta.dir, "../..");
    const run = track(
      Bun.spawn([process.execPath, "test", "--timeout", "30000", "./test/core"], {
        cwd: root,
        env: { ...process.env, CHAT_CORE_SCRAMBLE: String(seed) },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const [out, err, code] = await Promise.all([
      new Response(run.stdout).text(),
      new Response(run.stderr).text(),
      run.exited,
    ]);
    const report = `${out}\n${err}`;
    const failed = report.split("\n").filter((line) => line.startsWith("(fail)"));
    expect(failed).toEqual([]);
    expect(report).toMatch(/\b0 fail\b/);
    expect(Number(/(\d+) pass/.exec(report)?.[1] ?? 0)).toBeGreaterThan(100);
    expect(code).toBe(0);
  },
  60_000,
);
