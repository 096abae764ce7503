// The control socket of a running server: a Unix socket that only the server's own user can
// open (mode 0600), one JSON request line in, one JSON answer line out, then closed.

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import type { Socket, UnixSocketListener } from "bun";
import { type AdminRequest, type AdminResponse, parseRequest } from "./actions";

/** sockaddr_un holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
/** A request is a short JSON line; anything longer is not one. */
const MAX_REQUEST_BYTES = 64 * 1024;
/** Connections at once: the operator's tools, not a crowd. */
const MAX_CONNECTIONS = 16;
/** A connection that has not sent its request within this time is closed. */
const REQUEST_TIMEOUT_MS = 10_000;

export class ControlSocketError extends Error {
  override name = "ControlSocketError";
}

export interface ControlSocket {
  readonly path: string;
  stop(): void;
}

interface State {
  /** A character may arrive split across two reads. */
  decoder: TextDecoder;
  input: string;
  output: Uint8Array | null;
  answered: boolean;
  timer: Timer;
}

/** Listens on path (replacing a stale socket there); throws ControlSocketError. */
export function startControlSocket(
  path: string,
  handle: (req: AdminRequest) => Promise<AdminResponse>,
): ControlSocket {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES)
    throw new ControlSocketError(
      `control socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; choose a shorter one with --control-socket`,
    );
  removeStale(path);
  let open = 0;
  const flush = (socket: Socket<State>) => {
    const st = socket.data;
    if (!st.output) return;
    const n = socket.write(st.output);
    st.output = n >= st.output.length ? null : st.output.subarray(Math.max(0, n));
    if (!st.output) socket.end();
  };
  const answer = (socket: Socket<State>, response: AdminResponse) => {
    socket.data.output = new TextEncoder().encode(`${JSON.stringify(response)}\n`);
    flush(socket);
  };
  const previous = process.umask(0o077);
  let listener: UnixSocketListener<State>;
  try {
    listener = Bun.listen<State>({
      unix: path,
      socket: {
        open(socket) {
          socket.data = {
            decoder: new TextDecoder(),
            input: "",
            output: null,
            answered: false,
            timer: setTimeout(() => socket.end(), REQUEST_TIMEOUT_MS),
          };
          if (++open > MAX_CONNECTIONS) {
            socket.data.answered = true;
            answer(socket, { ok: false, error: "too many control connections at once; try again" });
          }
        },
        data(socket, chunk) {
          const st = socket.data;
          if (st.answered) return;
          st.input += st.decoder.decode(chunk, { stream: true });
          const nl = st.input.indexOf("\n");
          if (nl < 0 && st.input.length <= MAX_REQUEST_BYTES) return;
          st.answered = true;
          clearTimeout(st.timer);
          if (nl < 0) return answer(socket, { ok: false, error: "request too long" });
          let parsed: unknown;
          try {
            parsed = JSON.parse(st.input.slice(0, nl));
          } catch {
            return answer(socket, { ok: false, error: "a request is one line of JSON" });
          }
          const req = parseRequest(parsed);
          if (typeof req === "string") return answer(socket, { ok: false, error: req });
          handle(req).then(
            (response) => answer(socket, response),
            (error) => answer(socket, { ok: false, error: String(error) }),
          );
        },
        drain(socket) {
          flush(socket);
        },
        close(socket) {
          open--;
          clearTimeout(socket.data.timer);
        },
        error(socket) {
          clearTimeout(socket.data.timer);
        },
      },
    });
  } catch (error) {
    throw new ControlSocketError(`cannot listen on control socket ${path}: ${(error as Error).message}`);
  } finally {
    process.umask(previous);
  }
  chmodSync(path, 0o600);
  return {
    path,
    stop: () => {
      listener.stop(true);
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

/**
 * A socket left by a server that was killed: the caller holds the data file's lock, so no
 * other server can be listening on it. Anything else at that path is left alone.
 */
function removeStale(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket)
    throw new ControlSocketError(
      `cannot create control socket ${path}: a file that is not a socket is there`,
    );
  unlinkSync(path);
}
