// Schema versions of the SQLite store. PRAGMA user_version holds the version a file is
// at; opening runs every later migration in one transaction. Append, never edit.

export const MIGRATIONS: readonly string[] = [
  // v1
  `CREATE TABLE accounts (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     key TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL,
     password_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   -- One B-tree ordered by (recipient, id): a recipient's queue is a range scan, and
   -- appending a message touches no second index.
   CREATE TABLE messages (
     recipient_id INTEGER NOT NULL,
     id INTEGER NOT NULL,
     sender_name TEXT NOT NULL,
     text TEXT NOT NULL,
     sent_at INTEGER NOT NULL,
     PRIMARY KEY (recipient_id, id)
   ) WITHOUT ROWID;
   -- Remembers client_msg_id of recent sends so a resent message is stored once.
   CREATE TABLE sent_ids (
     sender_id INTEGER NOT NULL,
     client_msg_id INTEGER NOT NULL,
     message_id INTEGER NOT NULL,
     recipient_id INTEGER NOT NULL,
     sent_at INTEGER NOT NULL,
     PRIMARY KEY (sender_id, client_msg_id)
   ) WITHOUT ROWID;
   CREATE INDEX sent_ids_by_time ON sent_ids (sent_at);
   CREATE TABLE tokens (
     hash TEXT PRIMARY KEY,
     account_id INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX tokens_by_account ON tokens (account_id);
   -- Message ids must never go back, even when every message has been deleted.
   CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO meta (key, value) VALUES ('next_message_id', 1);`,
  // Identity: what a name looks like (its confusable skeleton; rows made before this get it
  // from Store.backfillIdentity at start), and names of deleted accounts kept from reuse.
  `ALTER TABLE accounts ADD COLUMN skeleton TEXT;
   CREATE INDEX accounts_by_skeleton ON accounts (skeleton);
   CREATE TABLE reserved_names (
     key TEXT PRIMARY KEY,
     skeleton TEXT NOT NULL,
     name TEXT NOT NULL,
     until INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX reserved_names_by_skeleton ON reserved_names (skeleton);
   CREATE INDEX reserved_names_by_time ON reserved_names (until);`,
  // Who sent each waiting message, for the per-sender quota. Messages already waiting are
  // matched to their sender by name (0 when that account is gone).
  `ALTER TABLE messages ADD COLUMN sender_id INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX accounts_by_name ON accounts (name);
   UPDATE messages SET sender_id = coalesce((SELECT id FROM accounts WHERE name = messages.sender_name), 0);
   DROP INDEX accounts_by_name;`,
  // De-duplication bounded per sender: a ring of the last N client_msg_ids of each sender,
  // one row per (sender, slot), in place of every id of the last 24 hours. No index on the
  // id: the server looks ids up in its copy of the ring (src/store/sqlite-dedup.ts). The newest 64
  // records of each sender are carried over (slot 63 the newest), so a resend of a
  // message in flight across the upgrade is still recognised.
  `CREATE TABLE sent_ring (
     sender_id INTEGER NOT NULL,
     slot INTEGER NOT NULL,
     client_msg_id INTEGER NOT NULL,
     message_id INTEGER NOT NULL,
     recipient_id INTEGER NOT NULL,
     sent_at INTEGER NOT NULL,
     PRIMARY KEY (sender_id, slot)
   ) WITHOUT ROWID;
   INSERT INTO sent_ring (sender_id, slot, client_msg_id, message_id, recipient_id, sent_at)
     SELECT sender_id, 64 - rank, client_msg_id, message_id, recipient_id, sent_at FROM (
       SELECT *, row_number() OVER (PARTITION BY sender_id ORDER BY message_id DESC) AS rank FROM sent_ids
     ) WHERE rank <= 64;
   DROP TABLE sent_ids;`,
  // Operations: last login per account (chat admin accounts), and banned address ranges,
  // kept here so that bans survive a restart and can be set while no server runs.
  `ALTER TABLE accounts ADD COLUMN last_login_at INTEGER;
   CREATE TABLE bans (
     prefix TEXT PRIMARY KEY,
     until INTEGER,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Delivery receipts: the client_msg_id each waiting message was sent with (0 for those
  // already waiting), and the receipts kept for senders until they confirm them.
  `ALTER TABLE messages ADD COLUMN client_msg_id INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE receipts (
     account_id INTEGER NOT NULL,
     message_id INTEGER NOT NULL,
     recipient_name TEXT NOT NULL,
     confirmed_at INTEGER NOT NULL,
     client_msg_id INTEGER NOT NULL,
     PRIMARY KEY (account_id, message_id)
   ) WITHOUT ROWID;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
