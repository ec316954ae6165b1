//! Every CQL statement the stores run, prepared once per session. Nothing is
//! ever built by string concatenation at request time.

use crate::ScyllaError;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

/// A statement: its CQL, and whether running it twice is the same as once
/// (only idempotent statements are retried or speculatively executed).
#[derive(Debug, Clone, Copy)]
pub struct Stmt {
    pub cql: &'static str,
    pub idempotent: bool,
}

const fn idem(cql: &'static str) -> Stmt {
    Stmt {
        cql,
        idempotent: true,
    }
}

/// Lightweight transactions are never idempotent: a retry after a lost
/// reply would see its own write as a conflict.
const fn lwt(cql: &'static str) -> Stmt {
    Stmt {
        cql,
        idempotent: false,
    }
}

macro_rules! statements {
    ($($name:ident = $stmt:expr;)*) => {
        $(pub const $name: Stmt = $stmt;)*
        /// Every statement, for preparing and for the schema check.
        pub const ALL: &[(&str, Stmt)] = &[$((stringify!($name), $name)),*];

        /// The prepared form of every statement of [`ALL`].
        #[derive(Debug)]
        #[allow(non_snake_case)]
        pub struct Prepared { $(pub $name: PreparedStatement,)* }

        impl Prepared {
            pub async fn prepare(session: &Session) -> Result<Self, ScyllaError> {
                Self::prepare_substituting(session, &[]).await
            }

            /// Prepares every statement but those named in `unsupported`,
            /// which get a placeholder that fails when used. Only for test
            /// stand-ins that cannot parse some of Parley's CQL.
            pub async fn prepare_substituting(
                session: &Session,
                unsupported: &[&str],
            ) -> Result<Self, ScyllaError> {
                let pick = |name: &str, stmt: Stmt| {
                    if unsupported.contains(&name) { PLACEHOLDER } else { stmt }
                };
                Ok(Self { $($name: prepare(session, stringify!($name), pick(stringify!($name), $name)).await?,)* })
            }
        }
    };
}

statements! {
    // Conversations and members.
    INSERT_CONVERSATION = lwt("INSERT INTO conversations (conversation_id, kind, title, created_at_ms, created_by) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS");
    SELECT_CONVERSATION = idem("SELECT conversation_id, kind, title, created_at_ms, created_by FROM conversations WHERE conversation_id = ?");
    RENAME_CONVERSATION = lwt("UPDATE conversations SET title = ? WHERE conversation_id = ? IF EXISTS");
    SET_DESCRIPTION = idem("INSERT INTO conversation_descriptions (conversation_id, description) VALUES (?, ?)");
    SET_HISTORY_VISIBILITY = idem("INSERT INTO conversation_options (conversation_id, history_visibility) VALUES (?, ?)");
    SELECT_HISTORY_VISIBILITY = idem("SELECT history_visibility FROM conversation_options WHERE conversation_id = ?");
    SET_JOINED = idem("INSERT INTO member_joins (conversation_id, user_id, joined_seq) VALUES (?, ?, ?)");
    SELECT_JOINED = idem("SELECT joined_seq FROM member_joins WHERE conversation_id = ? AND user_id = ?");
    SELECT_DESCRIPTION = idem("SELECT description FROM conversation_descriptions WHERE conversation_id = ?");
    UPSERT_MEMBER = idem("INSERT INTO members (conversation_id, user_id, role) VALUES (?, ?, ?)");
    INSERT_USER_CONVERSATION = idem("INSERT INTO user_conversations (user_id, conversation_id) VALUES (?, ?)");
    DELETE_MEMBER = idem("DELETE FROM members WHERE conversation_id = ? AND user_id = ?");
    DELETE_USER_CONVERSATION = idem("DELETE FROM user_conversations WHERE user_id = ? AND conversation_id = ?");
    SELECT_MEMBER = idem("SELECT user_id, role FROM members WHERE conversation_id = ? AND user_id = ?");
    SELECT_MEMBERS = idem("SELECT user_id, role FROM members WHERE conversation_id = ?");
    PUT_SETTINGS = idem("INSERT INTO member_settings (conversation_id, user_id, settings) VALUES (?, ?, ?)");
    SELECT_SETTINGS = idem("SELECT settings FROM member_settings WHERE conversation_id = ? AND user_id = ?");
    PUT_RECORD = idem("INSERT INTO records (kind, scope, id, value) VALUES (?, ?, ?, ?)");
    DELETE_RECORD = idem("DELETE FROM records WHERE kind = ? AND scope = ? AND id = ?");
    SELECT_RECORD = idem("SELECT value FROM records WHERE kind = ? AND scope = ? AND id = ?");
    SELECT_RECORDS = idem("SELECT id, value FROM records WHERE kind = ? AND scope = ? AND id > ? LIMIT ?");
    SELECT_USER_CONVERSATIONS = idem("SELECT conversation_id FROM user_conversations WHERE user_id = ?");

    // Read watermarks: a max register (see the schema).
    RAISE_READ_MARK = idem("INSERT INTO read_marks (conversation_id, user_id, read_seq) VALUES (?, ?, ?) USING TIMESTAMP ?");
    SELECT_READ_MARK = idem("SELECT read_seq FROM read_marks WHERE conversation_id = ? AND user_id = ?");
    SELECT_READ_MARKS = idem("SELECT user_id, read_seq FROM read_marks WHERE conversation_id = ?");

    // Seq leases.
    INSERT_COUNTER = lwt("INSERT INTO seq_counters (conversation_id, next_seq) VALUES (?, ?) IF NOT EXISTS");
    ADVANCE_COUNTER = lwt("UPDATE seq_counters SET next_seq = ? WHERE conversation_id = ? IF next_seq = ?");

    // The timeline.
    INSERT_EVENT = idem("INSERT INTO events (conversation_id, bucket, seq, sender_id, client_msg_id, sent_at_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?)");
    INSERT_DEDUP = idem("INSERT INTO dedup (conversation_id, sender_id, client_msg_id, seq) VALUES (?, ?, ?, ?) USING TTL ?");
    RAISE_HEAD = idem("INSERT INTO conversation_heads (conversation_id, head) VALUES (?, ?) USING TIMESTAMP ?");
    SELECT_HEAD = idem("SELECT head FROM conversation_heads WHERE conversation_id = ?");
    SELECT_DEDUP = idem("SELECT seq FROM dedup WHERE conversation_id = ? AND sender_id = ? AND client_msg_id = ?");
    SELECT_EVENTS_ASC = idem("SELECT conversation_id, seq, sender_id, client_msg_id, sent_at_ms, body FROM events WHERE conversation_id = ? AND bucket = ? AND seq >= ? AND seq <= ? ORDER BY seq ASC LIMIT ?");
    INSERT_REACTION = idem("INSERT INTO reactions (conversation_id, target_seq, emoji, user_id, seq) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?");
    DELETE_REACTION = idem("DELETE FROM reactions USING TIMESTAMP ? WHERE conversation_id = ? AND target_seq = ? AND emoji = ? AND user_id = ?");
    SELECT_REACTIONS = idem("SELECT emoji, user_id, seq FROM reactions WHERE conversation_id = ? AND target_seq = ?");
    INSERT_PIN = idem("INSERT INTO pins (conversation_id, target_seq, pinned_by, seq) VALUES (?, ?, ?, ?) USING TIMESTAMP ?");
    DELETE_PIN = idem("DELETE FROM pins USING TIMESTAMP ? WHERE conversation_id = ? AND target_seq = ?");
    INSERT_THREAD_REPLY = idem("INSERT INTO thread_replies (conversation_id, bucket, root_seq, seq, sender_id) VALUES (?, ?, ?, ?, ?)");
    SELECT_THREAD_REPLIES = idem("SELECT root_seq, seq, sender_id FROM thread_replies WHERE conversation_id = ? AND bucket = ? AND root_seq >= ? AND root_seq <= ?");
    SELECT_PINS = idem("SELECT target_seq, pinned_by, seq FROM pins WHERE conversation_id = ?");
    SELECT_EVENTS_DESC = idem("SELECT conversation_id, seq, sender_id, client_msg_id, sent_at_ms, body FROM events WHERE conversation_id = ? AND bucket = ? AND seq >= ? AND seq <= ? ORDER BY seq DESC LIMIT ?");

    // Accounts and sessions.
    CLAIM_USERNAME = lwt("INSERT INTO usernames (username, user_id) VALUES (?, ?) IF NOT EXISTS");
    SELECT_USERNAME = idem("SELECT user_id FROM usernames WHERE username = ?");
    INSERT_USER = idem("INSERT INTO users (user_id, username, password_hash, created_at_ms) VALUES (?, ?, ?, ?)");
    SELECT_USER = idem("SELECT user_id, username, password_hash, created_at_ms FROM users WHERE user_id = ?");
    INSERT_FAMILY = idem("INSERT INTO token_families (family_id, user_id, device_name, created_at_ms, revoked) VALUES (?, ?, ?, ?, ?)");
    SELECT_FAMILY = idem("SELECT family_id, user_id, device_name, created_at_ms, revoked FROM token_families WHERE family_id = ?");
    REVOKE_FAMILY = idem("UPDATE token_families SET revoked = ? WHERE family_id = ?");
    INSERT_REFRESH = lwt("INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at_ms, spent) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?");
    SELECT_REFRESH = idem("SELECT token_hash, family_id, user_id, expires_at_ms FROM refresh_tokens WHERE token_hash = ?");
    SPEND_REFRESH = lwt("UPDATE refresh_tokens USING TTL ? SET spent = true WHERE token_hash = ? IF spent = false");
    INSERT_SIGNING_KEY = idem("INSERT INTO signing_keys (kid, pkcs8_der, created_at_ms) VALUES (?, ?, ?)");
    SELECT_SIGNING_KEYS = idem("SELECT kid, pkcs8_der, created_at_ms FROM signing_keys");
    SET_PASSWORD_HASH = idem("UPDATE users SET password_hash = ? WHERE user_id = ?");
    SELECT_ALL_USERNAMES = idem("SELECT username, user_id FROM usernames");
    SELECT_ALL_FAMILIES = idem("SELECT family_id, user_id, device_name, created_at_ms, revoked FROM token_families");
    PUT_RECORD_TTL = idem("INSERT INTO records (kind, scope, id, value) VALUES (?, ?, ?, ?) USING TTL ?");
}

/// Stands in for a statement a test server cannot parse: it binds no
/// values, so any use of it with values fails loudly.
const PLACEHOLDER: Stmt = idem("SELECT kid FROM signing_keys LIMIT 1");

/// Rows per page of paged reads (history, member lists).
pub const PAGE_SIZE: i32 = 500;

async fn prepare(
    session: &Session,
    name: &str,
    stmt: Stmt,
) -> Result<PreparedStatement, ScyllaError> {
    let mut p = session
        .prepare(stmt.cql)
        .await
        .map_err(|e| ScyllaError::Prepare(format!("{name}: {e}")))?;
    p.set_is_idempotent(stmt.idempotent);
    p.set_page_size(PAGE_SIZE);
    Ok(p)
}

#[cfg(test)]
mod tests {
    //! Statement text checked against the schema of the migrations, without
    //! a server: every table and column a statement names exists.
    use super::*;
    use crate::migrations::{MIGRATIONS, statements};
    use std::collections::{HashMap, HashSet};

    /// table -> columns, from the CREATE TABLE statements.
    fn schema() -> HashMap<String, HashSet<String>> {
        let mut tables: HashMap<String, HashSet<String>> = HashMap::new();
        for m in MIGRATIONS {
            for s in statements(m.cql) {
                let Some(rest) = s.strip_prefix("CREATE TABLE IF NOT EXISTS ") else {
                    continue;
                };
                let (name, body) = rest.split_once('(').expect("column list");
                let cols = body
                    .split(',')
                    .filter_map(|c| {
                        let c = c.trim();
                        (!c.starts_with("PRIMARY KEY") && !c.starts_with('('))
                            .then(|| c.split_whitespace().next())
                            .flatten()
                    })
                    .map(str::to_string)
                    .collect();
                tables.insert(name.trim().to_string(), cols);
            }
        }
        tables
    }

    const KEYWORDS: &[&str] = &[
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "INSERT",
        "INTO",
        "VALUES",
        "IF",
        "NOT",
        "EXISTS",
        "UPDATE",
        "SET",
        "DELETE",
        "USING",
        "TIMESTAMP",
        "TTL",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "LIMIT",
        "true",
        "false",
    ];

    fn table_of(cql: &str) -> &str {
        let after = ["FROM ", "INTO ", "UPDATE "]
            .iter()
            .find_map(|k| cql.split_once(k).map(|(_, r)| r))
            .expect("a table");
        after.split([' ', '(']).next().expect("a name")
    }

    #[test]
    fn every_statement_names_real_tables_and_columns() {
        let schema = schema();
        assert!(schema.len() >= 13, "schema parsed: {schema:?}");
        for (name, stmt) in ALL {
            let table = table_of(stmt.cql);
            let cols = schema
                .get(table)
                .unwrap_or_else(|| panic!("{name}: no table {table}"));
            for word in stmt
                .cql
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
            {
                if KEYWORDS.contains(&word) || word == table {
                    continue;
                }
                assert!(
                    cols.contains(word),
                    "{name}: column {word} is not in table {table}"
                );
            }
        }
    }

    #[test]
    fn only_lightweight_transactions_are_non_idempotent() {
        for (name, stmt) in ALL {
            let lwt = stmt.cql.contains(" IF ");
            assert_eq!(stmt.idempotent, !lwt, "{name}");
        }
    }

    #[test]
    fn reads_name_the_whole_partition_key() {
        // A read that misses part of the partition key would scan the cluster.
        for (name, stmt) in ALL.iter().filter(|(_, s)| s.cql.starts_with("SELECT")) {
            if *name == "SELECT_SIGNING_KEYS" {
                continue; // a handful of rows, read at startup
            }
            if *name == "SELECT_ALL_USERNAMES" || *name == "SELECT_ALL_FAMILIES" {
                continue; // one-off paged scans (backfills at upgrade)
            }
            let table = table_of(stmt.cql);
            let keys: &[&str] = match table {
                "events" | "thread_replies" => &["conversation_id", "bucket"],
                "reactions" => &["conversation_id", "target_seq"],
                "dedup" => &["conversation_id", "sender_id", "client_msg_id"],
                "user_conversations" => &["user_id"],
                "users" => &["user_id"],
                "usernames" => &["username"],
                "token_families" => &["family_id"],
                "refresh_tokens" => &["token_hash"],
                "records" => &["kind", "scope"],
                _ => &["conversation_id"],
            };
            let clause = stmt.cql.split_once("WHERE").expect("a WHERE").1;
            for k in keys {
                assert!(clause.contains(&format!("{k} = ?")), "{name} lacks {k}");
            }
        }
    }
}
