import { MemoryStore } from "../../src/store/memory";
import { runStoreContract } from "./contract";

runStoreContract("MemoryStore", (limits) => new MemoryStore(limits));
