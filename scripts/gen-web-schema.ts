// Writes src/web/app/schema.generated.ts, the web client's view of protocol.proto.
//   bun run scripts/gen-web-schema.ts

import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { generatedSchema } from "../src/web/schema-table";

const root = resolve(import.meta.dir, "..");
const out = resolve(root, "src/web/app/schema.generated.ts");
writeFileSync(out, generatedSchema(readFileSync(resolve(root, "protocol.proto"), "utf8")));
console.log(`wrote ${out}`);
