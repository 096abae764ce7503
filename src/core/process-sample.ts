// The standard process_* metrics' values, read from the process and (on Linux) /proc.

import { readdirSync, readFileSync } from "node:fs";

export interface ProcessSample {
  cpuSeconds: number;
  residentBytes: number;
  virtualBytes?: number;
  openFds?: number;
  maxFds?: number;
  startTimeSeconds: number;
}

/** When this process started, in seconds since the epoch (fixed at load). */
const START_TIME_SECONDS = Math.round((Date.now() / 1000 - process.uptime()) * 1000) / 1000;

export function sampleProcess(): ProcessSample {
  const cpu = process.cpuUsage();
  const sample: ProcessSample = {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    residentBytes: process.memoryUsage.rss(),
    startTimeSeconds: START_TIME_SECONDS,
  };
  // Not every system has /proc: the metrics it gives are left out there.
  try {
    sample.openFds = readdirSync("/proc/self/fd").length;
  } catch {}
  try {
    const limit = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (limit) sample.maxFds = Number(limit[1]);
  } catch {}
  try {
    const vm = /^VmSize:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (vm) sample.virtualBytes = Number(vm[1]) * 1024;
  } catch {}
  return sample;
}
