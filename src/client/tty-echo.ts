// Echo of a terminal that script mode reads from (`chat connect --json` typed by a person):
// turned off while a password is typed, and back on after, and at exit whatever happens.
// stty keeps the terminal's own line editing (erase, kill), which raw mode would lose.

let off = false;

function stty(flag: "echo" | "-echo"): boolean {
  try {
    return (
      Bun.spawnSync(["stty", flag], { stdin: "inherit", stdout: "ignore", stderr: "ignore" }).exitCode === 0
    );
  } catch {
    return false;
  }
}

/** Turns the echo of the terminal on standard input off (false when it could not). */
export function echoOff(): boolean {
  if (off) return true;
  off = stty("-echo");
  if (off) process.once("exit", echoOn);
  return off;
}

export function echoOn(): void {
  if (!off) return;
  off = false;
  process.off("exit", echoOn);
  stty("echo");
}
