// `chat migrate --from FILE --to redis://…`: moves a single-node deployment's data from its
// SQLite file into Redis (one Redis or a Redis Cluster), keeping ids and password hashes,
// then checks the counts in Redis and prints them; `--from redis://… --to FILE` goes back.

import { resolve } from "node:path";
import { defineCommand } from "citty";
import { registerHelp } from "./help";

export const migrateArgs = {
  from: {
    type: "string",
    description:
      "The SQLite data file to copy (its server stopped), or redis://… to copy back from Redis (every node stopped)",
  },
  to: {
    type: "string",
    description:
      "The Redis to copy into: redis://[user:password@]host:port[/db] or rediss://… (password also from $CHAT_REDIS_PASSWORD; a Redis Cluster is found by itself), or a new SQLite file when --from is Redis",
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
    meta: { name: "migrate", description: "Copy a SQLite data file into Redis (for several nodes), or back" },
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
      if (isRedisData(from) === isRedisData(to)) {
        console.error(
          "chat migrate: one side must be a SQLite file and the other redis://host:port (--from <sqlite file> --to redis://… or --from redis://… --to <new sqlite file>)",
        );
        return 2;
      }
      const back = isRedisData(from);
      const target = parseRedisTarget(back ? from : to, process.env.CHAT_REDIS_PASSWORD);
      if (!target.ok) {
        console.error(`chat migrate: ${back ? "--from" : "--to"}: ${target.reason}`);
        return 2;
      }
      const { migrateSqliteToRedis, MigrateError } = await import("../store/migrate");
      const { migrateRedisToSqlite } = await import("../store/migrate-sqlite");
      const file = resolve(back ? to : from);
      const skipTokens = args["skip-tokens"] === true;
      try {
        let c: Awaited<ReturnType<typeof migrateSqliteToRedis>>;
        if (back) {
          if (args.force === true) {
            console.error("chat migrate: --force is for a Redis target; a new file is always empty");
            return 2;
          }
          // The new data file holds password hashes and messages: private, as the server makes it.
          process.umask(0o077);
          c = await migrateRedisToSqlite({ from: target.target, to: file, skipTokens });
        } else
          c = await migrateSqliteToRedis({
            from: file,
            to: target.target,
            force: args.force === true,
            skipTokens,
          });
        const [source, dest] = back ? [target.target.display, file] : [file, target.target.display];
        console.log(
          `migrated ${source} to ${dest}: ${c.accounts} accounts, ${c.queued} waiting messages, ${c.reservedNames} reserved names, ${c.tokens} session tokens, ${c.bans} bans (counted again in ${back ? "the file" : "Redis"}: they match)`,
        );
        console.log(`next: chat serve --data ${back ? file : redact(to)}`);
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
      "Copies accounts (names, password hashes, last logins), reserved names of deleted accounts, waiting messages with their ids in order, what recognises resent messages, session tokens and bans. Stop the server first: a file a running server holds is refused. The SQLite file is left as it was (apart from an upgrade of an older file's format, as a server's start would make), so it remains a fallback. A target that already holds chat data is refused unless --force. Back from Redis (--from redis://… --to FILE): stop every node first (Redis cannot be locked as a file is); FILE must not exist.",
    ],
  },
);
