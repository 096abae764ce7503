import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedAccess } from "../../src/store/sqlite-file";

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "chat-mode-test-"));
  file = join(dir, "chat.db");
  writeFileSync(file, "");
  chmodSync(file, 0o600);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("sharedAccess", () => {
  it("is undefined for a private file in a private directory, with or without a WAL", () => {
    expect(sharedAccess(file)).toBeUndefined();
    writeFileSync(`${file}-wal`, "", { mode: 0o600 });
    expect(sharedAccess(file)).toBeUndefined();
  });

  it("a directory others may only enter (x) is private enough", () => {
    chmodSync(dir, 0o711);
    expect(sharedAccess(file)).toBeUndefined();
  });

  it.each([
    [0o644, "readable", "0644"],
    [0o640, "readable", "0640"],
    [0o606, "readable and writable", "0606"],
    [0o620, "writable", "0620"],
  ])("names a data file of mode %o as %s by other users", (mode, how, octal) => {
    chmodSync(file, mode);
    expect(sharedAccess(file)).toBe(
      `data file ${file} is ${how} by other users (mode ${octal}), and it holds password hashes and messages. Make it private (chmod 600 ${file}), or run with --allow-shared-data to use it anyway`,
    );
  });

  it("names a shared WAL", () => {
    writeFileSync(`${file}-wal`, "");
    chmodSync(`${file}-wal`, 0o644);
    expect(sharedAccess(file)).toStartWith(`its WAL ${file}-wal is readable by other users (mode 0644)`);
  });

  it("names a directory others can write, with its own fix; one they can only list is fine", () => {
    chmodSync(dir, 0o755);
    expect(sharedAccess(file)).toBeUndefined();
    chmodSync(dir, 0o777);
    expect(sharedAccess(file)).toStartWith(
      `the directory ${dir} of data file ${file} is writable by other users (mode 0777)`,
    );
    expect(sharedAccess(file)).toContain(`(chmod go-w ${dir})`);
    chmodSync(dir, 0o733);
    expect(sharedAccess(file)).toContain("is writable by other users (mode 0733)");
  });
});
