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

/** A CPU reading of the server and of this process, to turn into percentages later. */
export interface CpuMark {
  t: number;
  server: [number, number];
  self: [number, number];
}

export function cpuMark(serverPid: number): CpuMark {
  return { t: performance.now(), server: cpuSeconds(serverPid), self: cpuSeconds(process.pid) };
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
