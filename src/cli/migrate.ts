// `chat migrate --from FILE --to redis://…`: moves a single-node deployment's data from its
// SQLite file into Redis (one Redis or a Redis Cluster), keeping ids and password hashes,
// then checks the counts in Redis and prints them.

import { resolve } from "node:path";
import { defineCommand } from "citty";
import { registerHelp } from "./help";

export const migrateArgs = {
  from: { type: "string", description: "The SQLite data file to copy (the server using it must be stopped)" },
  to: {
    type: "string",
    description:
      "The Redis to copy into: redis://[user:password@]host:port[/db] or rediss://… (password also from $CHAT_REDIS_PASSWORD); a Redis Cluster is found by itself",
  },
  force: {
    type: "boolean",
    description: "Delete the chat data already in the target first, instead of refusing (default false)",
  },
  "skip-tokens": {
    type: "boolean",
    description:
      "Leave the session tokens behind: everybody logs in again with their password (default false)",
  },
} as const;

export default registerHelp(
  defineCommand({
    meta: { name: "migrate", description: "Copy a SQLite data file into Redis (for several nodes)" },
    args: migrateArgs,
    async run({ args }) {
      const { isRedisData, parseRedisTarget, redact } = await import("../store/redis-url");
      const from = args.from === undefined ? "" : String(args.from);
      const to = args.to === undefined ? "" : String(args.to);
      if (!from || !to) {
        console.error(
          "chat migrate: give both --from <sqlite file> and --to redis://host:port; see chat migrate --help",
        );
        return 2;
      }
      if (isRedisData(from) || !isRedisData(to)) {
        console.error(
          "chat migrate: only from a SQLite file to Redis: --from <sqlite file> --to redis://host:port (to go back, run a server on a new file; see docs/CLUSTER.md)",
        );
        return 2;
      }
      const target = parseRedisTarget(to, process.env.CHAT_REDIS_PASSWORD);
      if (!target.ok) {
        console.error(`chat migrate: --to: ${target.reason}`);
        return 2;
      }
      const { migrateSqliteToRedis, MigrateError } = await import("../store/migrate");
      const file = resolve(from);
      try {
        const c = await migrateSqliteToRedis({
          from: file,
          to: target.target,
          force: args.force === true,
          skipTokens: args["skip-tokens"] === true,
        });
        console.log(
          `migrated ${file} to ${target.target.display}: ${c.accounts} accounts, ${c.queued} waiting messages, ${c.reservedNames} reserved names, ${c.tokens} session tokens, ${c.bans} bans (counted again in Redis: they match)`,
        );
        console.log(`next: chat serve --data ${redact(to)}`);
        return 0;
      } catch (error) {
        if (error instanceof MigrateError) {
          console.error(`chat migrate: ${error.message}`);
          return 1;
        }
        throw error;
      }
    },
  }),
  {
    footer: [
      "Copies accounts (names, password hashes, last logins), reserved names of deleted accounts, waiting messages with their ids in order, what recognises resent messages, session tokens and bans. Stop the server first: a file a running server holds is refused. The SQLite file is left as it was (apart from an upgrade of an older file's format, as a server's start would make), so it remains a fallback. A target that already holds chat data is refused unless --force.",
    ],
  },
);
