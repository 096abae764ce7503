// A checker for the Prometheus text exposition format and the naming rules that
// `promtool check metrics` applies, for tests (promtool itself is ~100 MB to install).
// Returns the problems found, one sentence each; [] means the text passes.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
/** Units promtool refuses in names, with the base unit to use instead. */
const NON_BASE_UNITS: Record<string, string> = {
  milliseconds: "seconds",
  microseconds: "seconds",
  nanoseconds: "seconds",
  minutes: "seconds",
  hours: "seconds",
  days: "seconds",
  kilobytes: "bytes",
  megabytes: "bytes",
  gigabytes: "bytes",
  kibibytes: "bytes",
  mebibytes: "bytes",
  bits: "bytes",
  percent: "ratio",
};

interface Family {
  type?: string;
  help?: string;
  samples: number;
}

export function lintExposition(text: string): string[] {
  const problems: string[] = [];
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const buckets = new Map<string, { le: number; v: number }[]>();
  const values = new Map<string, number>();
  if (!text.endsWith("\n")) problems.push("the text must end with a newline");
  const family = (name: string) => {
    const f = families.get(name) ?? { samples: 0 };
    families.set(name, f);
    return f;
  };
  for (const [i, line] of text.split("\n").entries()) {
    const at = `line ${i + 1}`;
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string | undefined];
      if (!NAME.test(name)) problems.push(`${at}: bad metric name ${name}`);
      const f = family(name);
      if (f.samples) problems.push(`${at}: ${kind} for ${name} after its samples`);
      if (kind === "TYPE") {
        if (f.type) problems.push(`${at}: second TYPE for ${name}`);
        if (!rest || !TYPES.has(rest)) problems.push(`${at}: unknown type ${rest} for ${name}`);
        f.type = rest;
      } else {
        if (f.help !== undefined) problems.push(`${at}: second HELP for ${name}`);
        if (!rest) problems.push(`${at}: empty HELP for ${name}`);
        f.help = rest ?? "";
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!sample) {
      problems.push(`${at}: not a sample line: ${line}`);
      continue;
    }
    const [, name, labelText, valueText] = sample as unknown as [string, string, string | undefined, string];
    const labels = new Map<string, string>();
    if (labelText) {
      const re = /([^=,]+)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let end = 0;
      for (let m = re.exec(labelText); m; m = re.exec(labelText)) {
        if (!LABEL.test(m[1]!)) problems.push(`${at}: bad label name ${m[1]}`);
        if (labels.has(m[1]!)) problems.push(`${at}: label ${m[1]} twice`);
        labels.set(m[1]!, m[2]!);
        end = re.lastIndex;
      }
      if (end !== labelText.length) problems.push(`${at}: bad labels {${labelText}}`);
    }
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== "NaN") problems.push(`${at}: bad value ${valueText}`);
    const key = `${name}{${[...labels]
      .sort()
      .map(([k, v]) => `${k}="${v}"`)
      .join(",")}}`;
    if (series.has(key)) problems.push(`${at}: duplicate series ${key}`);
    series.add(key);
    values.set(key, value);
    const base = [...families.keys()].find(
      (f) =>
        f === name ||
        (families.get(f)!.type === "histogram" && /^(.*)_(bucket|sum|count)$/.exec(name)?.[1] === f),
    );
    if (!base) {
      problems.push(`${at}: ${name} has no HELP/TYPE before it`);
      continue;
    }
    const f = families.get(base)!;
    f.samples++;
    if (f.type === "histogram" && name === `${base}_bucket`) {
      const le = labels.get("le");
      if (le === undefined) problems.push(`${at}: histogram bucket without le`);
      else {
        const list = buckets.get(base) ?? [];
        list.push({ le: le === "+Inf" ? Infinity : Number(le), v: value });
        buckets.set(base, list);
      }
    }
  }
  for (const [name, f] of families) {
    if (!f.type) problems.push(`${name}: no TYPE`);
    if (f.help === undefined) problems.push(`${name}: no HELP`);
    if (f.type === "counter" && !name.endsWith("_total"))
      problems.push(`${name}: counter metrics should have "_total" suffix`);
    if (f.type !== "counter" && name.endsWith("_total"))
      problems.push(`${name}: non-counter metrics should not have "_total" suffix`);
    if (/[a-z][A-Z]/.test(name)) problems.push(`${name}: metric names should be snake_case, not camelCase`);
    for (const [unit, instead] of Object.entries(NON_BASE_UNITS))
      if (new RegExp(`(^|_)${unit}(_|$)`).test(name))
        problems.push(`${name}: use base unit "${instead}" instead of "${unit}"`);
    if (f.type === "histogram") {
      const list = buckets.get(name) ?? [];
      if (!list.some((b) => b.le === Infinity)) problems.push(`${name}: histogram without a +Inf bucket`);
      for (let i = 1; i < list.length; i++) {
        if (list[i]!.le <= list[i - 1]!.le) problems.push(`${name}: buckets not in increasing le order`);
        if (list[i]!.v < list[i - 1]!.v) problems.push(`${name}: bucket counts not cumulative`);
      }
      const count = values.get(`${name}_count{}`);
      if (count === undefined || values.get(`${name}_sum{}`) === undefined)
        problems.push(`${name}: histogram without _sum and _count`);
      else if (list.length && list.at(-1)!.v !== count) problems.push(`${name}: +Inf bucket is not _count`);
    }
  }
  return problems;
}
