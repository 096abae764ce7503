// A protobuf codec for the page, driven by the field table generated from protocol.proto
// (schema.generated.ts). It reads and writes through protobufjs's minimal Reader and
// Writer, which need no eval: the page's Content-Security-Policy allows none.

import protobuf from "protobufjs/minimal";

/** [number, camelCase name, kind, repeated, message type (for kind "message")] */
export type FieldRow = [number, string, Kind, boolean, string];
export type Kind = "string" | "bool" | "int32" | "uint32" | "int64" | "uint64" | "message";

// 64-bit fields read as plain numbers (ids stay far below 2^53), as on the server.
protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
protobuf.configure();

type Obj = Record<string, unknown>;

const WIRE: Record<Kind, number> = {
  string: 2,
  message: 2,
  bool: 0,
  int32: 0,
  uint32: 0,
  int64: 0,
  uint64: 0,
};

export class Codec {
  private readonly byNumber = new Map<string, Map<number, FieldRow>>();

  constructor(private readonly messages: Record<string, FieldRow[]>) {
    for (const [name, rows] of Object.entries(messages))
      this.byNumber.set(name, new Map(rows.map((r) => [r[0], r])));
  }

  encode(type: string, value: Obj): Uint8Array {
    return this.write(type, value, protobuf.Writer.create()).finish();
  }

  decode(type: string, bytes: Uint8Array): Obj {
    const r = protobuf.Reader.create(bytes);
    return this.read(type, r, bytes.length);
  }

  private rows(type: string): FieldRow[] {
    const rows = this.messages[type];
    if (!rows) throw new Error(`no message type ${type} in the schema`);
    return rows;
  }

  private write(type: string, value: Obj, w: protobuf.Writer): protobuf.Writer {
    for (const [num, name, kind, repeated, sub] of this.rows(type)) {
      const v = value[name];
      if (v === undefined || v === null) continue;
      if (repeated) {
        const list = v as unknown[];
        if (list.length === 0) continue;
        if (WIRE[kind] === 0) {
          // proto3 packs repeated scalars.
          w.uint32((num << 3) | 2).fork();
          for (const item of list) scalar(w, kind, item);
          w.ldelim();
        } else {
          for (const item of list) one(this, w, num, kind, sub, item);
        }
        continue;
      }
      if (v === "" || v === 0 || v === false) continue; // proto3 defaults are not written
      one(this, w, num, kind, sub, v);
    }
    return w;

    function one(self: Codec, w: protobuf.Writer, num: number, kind: Kind, sub: string, v: unknown) {
      w.uint32((num << 3) | WIRE[kind]);
      if (kind === "message") {
        w.fork();
        self.write(sub, v as Obj, w);
        w.ldelim();
      } else scalar(w, kind, v);
    }
  }

  private read(type: string, r: protobuf.Reader, length: number): Obj {
    const fields = this.byNumber.get(type);
    if (!fields) throw new Error(`no message type ${type} in the schema`);
    const out: Obj = {};
    for (const [, name, kind, repeated] of this.rows(type)) out[name] = repeated ? [] : zero(kind);
    const end = r.pos + length;
    while (r.pos < end) {
      const tag = r.uint32();
      const field = fields.get(tag >>> 3);
      if (!field) {
        r.skipType(tag & 7);
        continue;
      }
      const [, name, kind, repeated, sub] = field;
      if (kind === "message") {
        const value = this.read(sub, r, r.uint32());
        if (repeated) (out[name] as unknown[]).push(value);
        else out[name] = value;
      } else if (repeated && (tag & 7) === 2 && WIRE[kind] === 0) {
        const stop = r.uint32() + r.pos;
        while (r.pos < stop) (out[name] as unknown[]).push(readScalar(r, kind));
      } else if (repeated) {
        (out[name] as unknown[]).push(readScalar(r, kind));
      } else {
        out[name] = readScalar(r, kind);
      }
    }
    return out;
  }
}

function zero(kind: Kind): unknown {
  return kind === "string" ? "" : kind === "bool" ? false : kind === "message" ? null : 0;
}

function scalar(w: protobuf.Writer, kind: Kind, v: unknown): void {
  switch (kind) {
    case "string":
      w.string(String(v));
      return;
    case "bool":
      w.bool(!!v);
      return;
    case "int32":
      w.int32(Number(v));
      return;
    case "uint32":
      w.uint32(Number(v));
      return;
    case "int64":
      w.int64(Number(v));
      return;
    case "uint64":
      w.uint64(Number(v));
      return;
    default:
      throw new Error(`cannot write a ${kind} as a scalar`);
  }
}

function readScalar(r: protobuf.Reader, kind: Kind): unknown {
  switch (kind) {
    case "string":
      return r.string();
    case "bool":
      return r.bool();
    case "int32":
      return r.int32();
    case "uint32":
      return r.uint32();
    case "int64":
      return Number(r.int64());
    case "uint64":
      return Number(r.uint64());
    default:
      throw new Error(`cannot read a ${kind} as a scalar`);
  }
}
