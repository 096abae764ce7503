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
  // Operations: last login per account (chat admin accounts), and banned address ranges,
  // kept here so that bans survive a restart and can be set while no server runs.
  `ALTER TABLE accounts ADD COLUMN last_login_at INTEGER;
   CREATE TABLE bans (
     prefix TEXT PRIMARY KEY,
     until INTEGER,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
