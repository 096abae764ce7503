import { SqliteStore } from "./src/store/sqlite";
const lim = { maxQueuedPerAccount: 3, dedupWindowMs: 1000 };
const path = process.argv[2]!;
try {
  const s = SqliteStore.open({ path, sync: "full", ...lim, resetCorrupt: process.argv[3] === "reset" });
  console.log("opened", s.description, s.movedAside);
  const a = await s.createAccount({ name: "Alice", key: "alice", passwordHash: "h", createdAt: 1 });
  console.log(a, await s.createAccount({ name: "alice", key: "alice", passwordHash: "h", createdAt: 1 }));
  const r = await Promise.all([1, 2, 3, 4].map((i) => s.enqueue({ senderId: 9, senderName: "bob", recipientKey: "alice", text: `m${i}`, sentAt: Date.now(), clientMsgId: i === 2 ? 77 : 0 })));
  console.log(r.map((x) => x.ok ? x.message.id : x.error));
  console.log(await s.enqueue({ senderId: 9, senderName: "bob", recipientKey: "alice", text: "m2", sentAt: Date.now(), clientMsgId: 77 }));
  console.log(await s.pending(a?.id ?? 1, 0, 10), await s.countPending(a?.id ?? 1));
  if (process.argv[3] === "hold") { await Bun.sleep(3000); }
  await s.close();
} catch (e) { console.log(String(e)); }
