// Ratio table from the JSON lines of bench/compare.sh: chat (driven with client_msg_id, the
// reference client's way) against each peer, per round, median over rounds, with the
// targets of the performance goals (issue 11). "chat [no-msg-ids]" is listed as one more
// column, so chat ÷ it is the cost of the ids.
//   bun bench/ratios.ts bench/out/compare-XXXX.jsonl

import { readFileSync } from "node:fs";

type Row = Record<string, number | string | null | undefined> & {
  label: string;
  wname: string;
  round: number;
};

const file = process.argv[2];
if (!file) {
  console.error("usage: bun bench/ratios.ts COMPARE.jsonl");
  process.exit(2);
}
const rows: Row[] = readFileSync(file, "utf8")
  .split("\n")
  .filter((l) => l.startsWith("{"))
  .map((l) => JSON.parse(l))
  .filter((r) => !r.error);

const median = (xs: number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return Number.NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};
const name = (r: Row) => (r.variant ? `${r.label} [${r.variant}]` : r.label);
const fmt = (x: number, d = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })
    : "–";
const fmtX = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "–");

/** Median of chat.f / peer.f over rounds where both ran. */
function ratio(wname: string, peer: string, f: string): number {
  const xs: number[] = [];
  for (const c of rows.filter((r) => r.wname === wname && name(r) === "chat")) {
    const p = rows.find((r) => r.wname === wname && name(r) === peer && r.round === c.round);
    const a = Number(c[f]);
    const b = Number(p?.[f]);
    if (p && a && b) xs.push(a / b);
  }
  return median(xs);
}

const metrics: {
  wname: string;
  f: string;
  what: string;
  goal?: { peer: string; want: (x: number) => boolean; text: string };
}[] = [
  {
    wname: "relay",
    f: "msgs_per_s",
    what: "relay msgs/s",
    goal: { peer: "mosquitto", want: (x) => x >= 2, text: "≥ 2×" },
  },
  {
    wname: "relay",
    f: "p99_ms",
    what: "relay p99 ms",
    goal: { peer: "mosquitto", want: (x) => x <= 1, text: "≤ 1×" },
  },
  { wname: "relay", f: "p50_ms", what: "relay p50 ms" },
  {
    wname: "light",
    f: "p50_ms",
    what: "light p50 ms",
    goal: { peer: "mosquitto", want: (x) => x <= 1, text: "≤ 1×" },
  },
  {
    wname: "conns",
    f: "bytes_per_conn",
    what: "bytes per idle connection",
    goal: { peer: "mosquitto", want: (x) => x <= 1.5, text: "≤ 1.5×" },
  },
  {
    wname: "offline",
    f: "enqueue_msgs_per_s",
    what: "offline enqueue msgs/s",
    goal: { peer: "mosquitto [persist-off]", want: (x) => x >= 1.5, text: "≥ 1.5×" },
  },
  {
    wname: "offline",
    f: "drain_msgs_per_s",
    what: "offline drain msgs/s",
    goal: { peer: "mosquitto [persist-off]", want: (x) => x >= 1.5, text: "≥ 1.5×" },
  },
];

const peers = [...new Set(rows.map(name))].filter((p) => p !== "chat").sort();
const rounds = new Set(rows.map((r) => r.round)).size;
const out: string[] = [];
out.push(`Medians over ${rounds} round(s); ratios are chat ÷ peer within a round, then the median.`, "");
out.push(`| measure | chat | ${peers.join(" | ")} | ${peers.map((p) => `chat ÷ ${p}`).join(" | ")} | goal |`);
out.push(`|---|---:|${peers.map(() => "---:").join("|")}|${peers.map(() => "---:").join("|")}|---|`);
for (const m of metrics) {
  const of = (label: string) =>
    median(rows.filter((r) => r.wname === m.wname && name(r) === label).map((r) => Number(r[m.f])));
  const d = m.f.endsWith("_ms") ? 3 : 0;
  const chat = of("chat");
  if (!Number.isFinite(chat)) continue;
  const ratios = peers.map((p) => ratio(m.wname, p, m.f));
  let goal = "";
  if (m.goal) {
    const x = ratio(m.wname, m.goal.peer, m.f);
    goal = Number.isFinite(x)
      ? `${m.goal.text} ${m.goal.peer}: ${m.goal.want(x) ? "met" : "NOT met"} (${fmtX(x)})`
      : "";
  }
  out.push(
    `| ${m.what} | ${fmt(chat, d)} | ${peers.map((p) => fmt(of(p), d)).join(" | ")} | ${ratios.map(fmtX).join(" | ")} | ${goal} |`,
  );
}
console.log(out.join("\n"));
