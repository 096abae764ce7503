// The process's open-file limit (RLIMIT_NOFILE) through libc, so the connection cap can sit
// below it: a server that runs out of descriptors cannot even refuse a client politely.

import { dlopen, FFIType, ptr } from "bun:ffi";

export interface FileLimit {
  /** The soft limit in force after start-up, and the hard ceiling it may be raised to. */
  soft: number;
  hard: number;
}

/** RLIMIT_NOFILE differs by platform; glibc/musl Linux on every architecture use 7. */
const RLIMIT_NOFILE: Partial<Record<NodeJS.Platform, number>> = { linux: 7, darwin: 8, freebsd: 8 };
const LIBC: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"],
  darwin: ["libSystem.B.dylib"],
  freebsd: ["libc.so.7"],
};
/** RLIM_INFINITY and other huge values are reported as this: a cap has to be a real number. */
const HUGE = 1 << 30;

function open() {
  const resource = RLIMIT_NOFILE[process.platform];
  if (resource === undefined) return null;
  for (const name of LIBC[process.platform] ?? []) {
    try {
      const lib = dlopen(name, {
        getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
        setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      });
      return { lib: lib.symbols, resource };
    } catch {
      // try the next name
    }
  }
  return null;
}

/**
 * Raises the soft open-file limit to the hard one and reports both; null where libc cannot
 * be reached (the caller falls back to a fixed default). Bun raises it on start on Linux
 * already; this makes it certain, and tells us the number.
 */
export function raiseFileLimit(): FileLimit | null {
  const libc = open();
  if (!libc) return null;
  const rl = new BigUint64Array(2);
  if (libc.lib.getrlimit(libc.resource, ptr(rl)) !== 0) return null;
  const clamp = (v: bigint) => (v > BigInt(HUGE) ? HUGE : Number(v));
  // macOS refuses a soft limit above OPEN_MAX even when the hard limit is "unlimited".
  const target = process.platform === "darwin" && rl[1]! > 10240n ? 10240n : rl[1]!;
  if (rl[0]! < target) {
    const want = new BigUint64Array([target, rl[1]!]);
    if (libc.lib.setrlimit(libc.resource, ptr(want)) === 0) rl[0] = target;
  }
  return { soft: clamp(rl[0]!), hard: clamp(rl[1]!) };
}
