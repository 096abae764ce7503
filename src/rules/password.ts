// Passwords: long enough to resist guessing, short enough to hash cheaply.

export const MIN_PASSWORD_CHARS = 8;
/** argon2 hashes any length, but an attacker must not make us hash megabytes. */
export const MAX_PASSWORD_BYTES = 1024;

export type PasswordCheck = { ok: true } | { ok: false; reason: string };

export function checkPassword(password: string): PasswordCheck {
  const chars = [...password].length;
  if (chars < MIN_PASSWORD_CHARS) {
    return { ok: false, reason: `the password must be at least ${MIN_PASSWORD_CHARS} characters` };
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    return { ok: false, reason: `the password must be at most ${MAX_PASSWORD_BYTES} bytes` };
  }
  return { ok: true };
}
