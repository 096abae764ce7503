import { describe, expect, test } from "bun:test";
import { Metrics } from "../../src/core/metrics";
import { lintExposition } from "./exposition";

describe("lintExposition (the promtool check metrics rules)", () => {
  test("passes a well-formed family of each type", () => {
    const text = [
      "# HELP a_total Things.",
      "# TYPE a_total counter",
      'a_total{kind="x"} 3',
      'a_total{kind="y"} 4',
      "# HELP b_seconds Time.",
      "# TYPE b_seconds histogram",
      'b_seconds_bucket{le="0.1"} 1',
      'b_seconds_bucket{le="+Inf"} 2',
      "b_seconds_sum 0.3",
      "b_seconds_count 2",
      "",
    ].join("\n");
    expect(lintExposition(text)).toEqual([]);
  });

  test("finds each kind of mistake", () => {
    const cases: [string, string][] = [
      ["# HELP a Things.\n# TYPE a counter\na 1\n", 'a: counter metrics should have "_total" suffix'],
      [
        "# HELP a_total Things.\n# TYPE a_total gauge\na_total 1\n",
        'non-counter metrics should not have "_total"',
      ],
      [
        "# HELP t_milliseconds T.\n# TYPE t_milliseconds gauge\nt_milliseconds 1\n",
        'use base unit "seconds"',
      ],
      ["# HELP g G.\n# TYPE g gauge\ng 1\ng 2\n", "duplicate series g{}"],
      ["g 1\n", "g has no HELP/TYPE before it"],
      ["# TYPE g gauge\ng 1\n", "g: no HELP"],
      ["# HELP g G.\n# TYPE g gauge\ng one\n", "bad value one"],
      ["# HELP g G.\n# TYPE g gauge\ng 1", "must end with a newline"],
      [
        '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
        "bucket counts not cumulative",
      ],
      ['# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n', "without a +Inf bucket"],
    ];
    for (const [text, problem] of cases) expect(lintExposition(text).join("\n")).toContain(problem);
  });

  test("Metrics.render passes, with process metrics and the build info", () => {
    const m = new Metrics();
    m.version = 'v"1\\';
    m.process = () => ({
      cpuSeconds: 1.5,
      residentBytes: 1024,
      openFds: 9,
      maxFds: 1024,
      virtualBytes: 4096,
      startTimeSeconds: 1.7e9,
    });
    m.error(16);
    m.error(16);
    m.error(11);
    m.latency(3);
    m.latency(3000);
    const text = m.render();
    expect(lintExposition(text)).toEqual([]);
    expect(text).toContain('chat_build_info{version="v\\"1\\\\"} 1\n');
    expect(text).toContain("process_cpu_seconds_total 1.5\n");
    expect(text).toContain('chat_errors_total{status="STORAGE_FAILED"} 2\n');
  });
});
