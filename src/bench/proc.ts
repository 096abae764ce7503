// What /proc says about a process: memory and CPU time (Linux).

import { readFileSync } from "node:fs";

const CLOCK_TICKS = 100;

/** VmRSS and VmHWM (peak) in KiB, or null when the process is gone. */
export function memoryKiB(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
    return { rss: field("VmRSS"), peak: field("VmHWM") };
  } catch {
    return null;
  }
}

/** CPU seconds used so far: [user+system, system]. */
export function cpuSeconds(pid: number): [number, number] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const user = Number(f[11]) / CLOCK_TICKS;
    const system = Number(f[12]) / CLOCK_TICKS;
    return [user + system, system];
  } catch {
    return [Number.NaN, Number.NaN];
  }
}

/** A CPU reading of the server(s) and of this process, to turn into percentages later. */
export interface CpuMark {
  t: number;
  /** All the servers' processes together (each counted once). */
  server: [number, number];
  self: [number, number];
  /** Per server process, in the order given (NaN: unknown). */
  each: number[];
}

/** pids: the server's, or one per node (0: unknown; a pid given twice is counted once). */
export function cpuMark(serverPid: number | number[]): CpuMark {
  const pids = typeof serverPid === "number" ? [serverPid] : serverPid;
  const each = pids.map((pid) => (pid ? cpuSeconds(pid)[0] : Number.NaN));
  const distinct = [...new Set(pids.filter((pid) => pid > 0))].map(cpuSeconds);
  const server: [number, number] = distinct.length
    ? [distinct.reduce((a, c) => a + c[0], 0), distinct.reduce((a, c) => a + c[1], 0)]
    : [Number.NaN, Number.NaN];
  return { t: performance.now(), server, self: cpuSeconds(process.pid), each };
}

/** Percent of one core per server process between two marks (null: unknown). */
export function cpuPercentEach(a: CpuMark, b: CpuMark): (number | null)[] {
  const wall = (b.t - a.t) / 1000;
  return a.each.map((x, i) => {
    const d = (b.each[i]! - x) / wall;
    return wall < 0.3 || Number.isNaN(d) ? null : Math.round(d * 1000) / 10;
  });
}

/** Percent of one core between two marks (100 = one full core). */
export function cpuPercent(a: CpuMark, b: CpuMark) {
  const wall = (b.t - a.t) / 1000;
  const pct = (x: number, y: number) => (wall < 0.3 ? null : Math.round(((y - x) / wall) * 1000) / 10);
  return {
    server_cpu_pct: pct(a.server[0], b.server[0]),
    server_sys_pct: pct(a.server[1], b.server[1]),
    bench_cpu_pct: pct(a.self[0], b.self[0]),
  };
}
