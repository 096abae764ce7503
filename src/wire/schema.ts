// protocol.proto, compiled into the program (Bun imports it as text), parsed once.

import protobuf from "protobufjs";
import schemaText from "../../protocol.proto" with { type: "text" };

// 64-bit ids decode as plain numbers: ids stay far below 2^53, and Long objects
// would cost an allocation per field on the hot path.
protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
protobuf.configure();

export const root = protobuf.parse(schemaText).root;
export const Client2Server = root.lookupType("chat.Client2Server");
export const Server2Client = root.lookupType("chat.Server2Client");

// protobufjs builds each type's encoder and decoder on first use, which takes long enough
// to delay a first answer noticeably: build them now.
for (const type of [Client2Server, Server2Client]) type.decode(type.encode({}).finish());

export { schemaText };
