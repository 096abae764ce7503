// `chat admin`'s side of the control socket: one request, one answer.

import type { AdminRequest, AdminResponse } from "./actions";

/** Largest answer read (a long account list). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** No server answers on the socket: nothing there, or a socket left by a stopped server. */
export class NoServer extends Error {
  override name = "NoServer";
}

/** The socket is there but cannot be used (another user's, or the server did not answer). */
export class ControlError extends Error {
  override name = "ControlError";
}

export async function callControl(
  path: string,
  req: AdminRequest,
  timeoutMs = 120_000,
): Promise<AdminResponse> {
  const chunks: Buffer[] = [];
  let size = 0;
  let finish: (r: AdminResponse | Error) => void = () => {};
  const done = new Promise<AdminResponse | Error>((resolve) => {
    finish = resolve;
  });
  const settle = () => {
    const text = Buffer.concat(chunks).toString("utf8");
    const nl = text.indexOf("\n");
    if (nl < 0)
      return finish(new ControlError(`the server closed the control socket ${path} without an answer`));
    try {
      finish(JSON.parse(text.slice(0, nl)) as AdminResponse);
    } catch {
      finish(new ControlError(`the server's answer on ${path} is not JSON`));
    }
  };
  let socket: Awaited<ReturnType<typeof Bun.connect>>;
  try {
    socket = await Bun.connect({
      unix: path,
      socket: {
        data(s, chunk) {
          chunks.push(Buffer.from(chunk));
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            s.end();
            finish(new ControlError("the server's answer is too long"));
          }
        },
        close: () => settle(),
        error: (_s, error) => finish(new ControlError(`control socket ${path}: ${error.message}`)),
      },
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT" || code === "ECONNREFUSED") throw new NoServer(`no server answers on ${path}`);
    if (code === "EACCES" || code === "EPERM")
      throw new ControlError(
        `permission denied on control socket ${path}: only the server's own user (or root) may use it`,
      );
    throw new ControlError(`cannot connect to control socket ${path}: ${(error as Error).message}`);
  }
  socket.write(`${JSON.stringify(req)}\n`);
  const timer = setTimeout(() => {
    socket.end();
    finish(new ControlError(`the server did not answer on ${path} within ${timeoutMs / 1000} s`));
  }, timeoutMs);
  const result = await done;
  clearTimeout(timer);
  if (result instanceof Error) throw result;
  return result;
}
