import { describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { ScriptIo } from "../../src/client/script";

describe("ScriptIo", () => {
  test("5,000 lines read ahead come out in order, each once, then the end of input", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const io = new ScriptIo(input, output);
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    input.end(`${lines.join("\n")}\n`);
    const got: string[] = [];
    for (;;) {
      const l = got.length % 2 ? await io.ask("") : await io.nextLine();
      if (l === null) break;
      got.push(l);
    }
    expect(got).toEqual(lines);
    expect(await io.nextLine()).toBeNull();
  });

  test("CRLF line ends, a last line without a newline, invalid UTF-8 as U+FFFD", async () => {
    const input = new PassThrough();
    const io = new ScriptIo(input, new PassThrough());
    input.end(
      Buffer.concat([
        Buffer.from("one\r\ntwo\n/send bob "),
        Buffer.from([0xff, 0xfe]),
        Buffer.from("\nlast"),
      ]),
    );
    expect(await io.nextLine()).toBe("one");
    expect(await io.nextLine()).toBe("two");
    expect(await io.nextLine()).toBe("/send bob \ufffd\ufffd");
    expect(await io.nextLine()).toBe("last");
    expect(await io.nextLine()).toBeNull();
  });

  test("print resolves once the line is written, in order", async () => {
    const output = new PassThrough();
    let written = "";
    output.on("data", (chunk: Buffer) => {
      written += chunk.toString();
    });
    const io = new ScriptIo(new PassThrough(), output);
    await io.print("first");
    expect(written).toBe("first\n");
    await io.print("second");
    expect(written).toBe("first\nsecond\n");
  });
});
