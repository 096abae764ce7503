// systemd's readiness protocol (sd_notify): one datagram such as "READY=1" to the Unix
// socket named by $NOTIFY_SOCKET. Bun has no Unix datagram sockets (Bun.udpSocket and
// node:dgram are UDP only), so this calls socket(2)/sendto(2) in libc through bun:ffi.

import { dlopen, FFIType, ptr } from "bun:ffi";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH_BYTES = 108;

type Libc = ReturnType<typeof openLibc>;
let libc: Libc | null | undefined;

function openLibc() {
  const symbols = {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: {
      args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32],
      returns: FFIType.i64,
    },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  } as const;
  let last: unknown;
  for (const name of ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    try {
      return dlopen(name, symbols).symbols;
    } catch (error) {
      last = error;
    }
  }
  throw last;
}

/** The sockaddr_un for a NOTIFY_SOCKET value: a path, or "@name" in the abstract namespace. */
export function notifyAddress(socketPath: string): { addr: Uint8Array; length: number } {
  const name = Buffer.from(socketPath, "utf8");
  if (name.length === 0 || name.length >= SUN_PATH_BYTES)
    throw new Error(
      `NOTIFY_SOCKET ${JSON.stringify(socketPath.slice(0, 120))} is not a usable socket address`,
    );
  const addr = new Uint8Array(2 + SUN_PATH_BYTES);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, 2);
  const abstract = socketPath.startsWith("@");
  if (abstract) addr[2] = 0;
  // An abstract name is exactly its bytes; a path ends with its NUL.
  return { addr, length: 2 + name.length + (abstract ? 0 : 1) };
}

/**
 * Sends state (e.g. "READY=1") when NOTIFY_SOCKET is set. Answers false when it is not
 * (not run by systemd); throws with the reason when it is set but the send fails.
 */
export function sdNotify(state: string, env: Record<string, string | undefined> = process.env): boolean {
  const target = env.NOTIFY_SOCKET;
  if (!target) return false;
  const { addr, length } = notifyAddress(target);
  if (libc === undefined) {
    try {
      libc = openLibc();
    } catch {
      libc = null;
    }
  }
  if (!libc) throw new Error("cannot notify systemd: the C library could not be loaded");
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error("cannot notify systemd: socket() failed");
  try {
    const message = Buffer.from(state, "utf8");
    const sent = Number(libc.sendto(fd, ptr(message), message.length, MSG_NOSIGNAL, ptr(addr), length));
    if (sent !== message.length) throw new Error(`cannot notify systemd: sendto ${target} failed`);
    return true;
  } finally {
    libc.close(fd);
  }
}
