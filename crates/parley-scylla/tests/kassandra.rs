//! The store's schema and statements against `kassandra`, an in-memory
//! CQL v4 server that the scylla driver can talk to. It is a partial
//! stand-in: it has no lightweight transactions, TTL, USING TIMESTAMP,
//! ORDER BY or range conditions on clustering columns, and it ignores
//! statement text it does not parse. What it does check, in CI: that the
//! migrations' DDL is accepted, that every statement prepares, and that
//! Rust values bind to the prepared column types and rows map back, for
//! the operations made of plain statements. See docs/operations for the
//! list of what only a real ScyllaDB checks.

use kassandra_tester::KassandraTester;
use kassandra_tester::kassandra::KassandraSession;
use parley_ports::{AuthStore, FamilyRecord, SigningKeyRecord, TimelineStore, UserRecord};
use parley_proto::v1 as pb;
use parley_scylla::{ScyllaAuthStore, ScyllaConfig, ScyllaSession, ScyllaTimelineStore, ScyllaUri};
use scylla::client::execution_profile::ExecutionProfile;

/// Statements kassandra refuses to prepare (UPDATE ... USING TTL,
/// DELETE ... USING TIMESTAMP). Others it prepares while ignoring what it does not parse (IF ...,
/// USING TTL/TIMESTAMP after VALUES, ORDER BY, range conditions): those
/// prepare here, but their semantics are only checked by a real server.
const KASSANDRA_CANNOT_PARSE: &[&str] = &["SPEND_REFRESH", "DELETE_REACTION", "DELETE_PIN"];

#[tokio::test(flavor = "current_thread")]
async fn schema_statements_and_row_mapping_against_kassandra() {
    let tester = KassandraTester::new(KassandraSession::new());
    // in_scope drops the block's result, so the block reports through this.
    let outcome = std::sync::Arc::new(std::sync::Mutex::new(None));
    let report = outcome.clone();
    let _ = tester
        .in_scope(|addr| {
            let report = report.clone();
            async move {
                let result = exercise(addr).await;
                *report.lock().unwrap() = Some(result);
                Ok::<(), ()>(())
            }
        })
        .await;
    let outcome = outcome.lock().unwrap().take();
    outcome.expect("the block ran").expect("kassandra run");
}

async fn exercise(addr: std::net::SocketAddr) -> Result<(), String> {
    {
        {
            let config = ScyllaConfig {
                replication_factor: 1,
                ..Default::default()
            };
            let uri = ScyllaUri::parse(&format!("scylla://{addr}/parley")).unwrap();
            // kassandra has no system.peers: schema agreement cannot be awaited.
            let session = parley_scylla::session_builder(&uri, &config)
                .unwrap()
                .auto_await_schema_agreement(false)
                // Nor a datacenter in its node metadata: no DC preference.
                .default_execution_profile_handle(ExecutionProfile::builder().build().into_handle())
                .build()
                .await
                .map_err(|e| format!("connect: {e}"))?;
            // Migrations (keyspace, DDL) and preparing every statement.
            let s =
                ScyllaSession::open_substituting(session, "parley", config, KASSANDRA_CANNOT_PARSE)
                    .await
                    .map_err(|e| format!("migrate + prepare: {e}"))?;
            let timeline = ScyllaTimelineStore::new(s.clone());
            let auth = ScyllaAuthStore::new(s);

            // Membership: batches of upserts and deletes, point and
            // partition reads, both directions of the membership.
            let member = |u: &str, role: pb::Role| pb::Member {
                user_id: u.into(),
                role: role as i32,
                read_seq: 0,
            };
            timeline
                .put_members(
                    "c1",
                    &[
                        member("alice", pb::Role::Owner),
                        member("bob", pb::Role::Member),
                    ],
                )
                .await
                .map_err(|e| format!("put_members: {e}"))?;
            let mut members = timeline.members("c1").await.map_err(|e| e.to_string())?;
            members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
            assert_eq!(
                members,
                vec![
                    member("alice", pb::Role::Owner),
                    member("bob", pb::Role::Member)
                ]
            );
            assert_eq!(
                timeline
                    .member("c1", "bob")
                    .await
                    .map_err(|e| e.to_string())?,
                Some(member("bob", pb::Role::Member))
            );
            assert_eq!(
                timeline
                    .user_conversations("alice")
                    .await
                    .map_err(|e| e.to_string())?,
                vec!["c1".to_string()]
            );
            timeline
                .remove_member("c1", "bob")
                .await
                .map_err(|e| format!("remove_member: {e}"))?;
            assert!(
                timeline
                    .member("c1", "bob")
                    .await
                    .map_err(|e| e.to_string())?
                    .is_none()
            );
            assert_eq!(timeline.head("c1").await.map_err(|e| e.to_string())?, 0);
            assert!(
                timeline
                    .reactions("c1", 1)
                    .await
                    .map_err(|e| format!("reactions: {e}"))?
                    .is_empty()
            );
            timeline
                .set_joined("c1", "alice", 9)
                .await
                .map_err(|e| format!("set_joined: {e}"))?;
            assert_eq!(
                timeline
                    .joined("c1", "alice")
                    .await
                    .map_err(|e| format!("joined: {e}"))?,
                9
            );
            let quiet = pb::ConversationSettings {
                muted_until_ms: -1,
                archived: true,
                ..Default::default()
            };
            timeline
                .put_settings("c1", "alice", &quiet)
                .await
                .map_err(|e| format!("put_settings: {e}"))?;
            assert_eq!(
                timeline
                    .settings("c1", "alice")
                    .await
                    .map_err(|e| format!("settings: {e}"))?,
                quiet
            );
            assert!(
                timeline
                    .pins("c1")
                    .await
                    .map_err(|e| format!("pins: {e}"))?
                    .is_empty()
            );
            assert_eq!(
                timeline
                    .dedup_lookup("c1", "alice", "m1")
                    .await
                    .map_err(|e| e.to_string())?,
                None
            );

            // Accounts, sessions and keys made of plain statements.
            let user = UserRecord {
                id: "u1".into(),
                username: "alice".into(),
                password_hash: "$argon2id$x".into(),
                created_at_ms: 1_700_000_000_000,
            };
            let family = FamilyRecord {
                id: "f1".into(),
                user_id: "u1".into(),
                device_name: "phone".into(),
                created_at_ms: 5,
                revoked: false,
            };
            let key = SigningKeyRecord {
                kid: "k1".into(),
                pkcs8_der: vec![0, 1, 2, 255],
                created_at_ms: 6,
            };
            auth.create_family(&family)
                .await
                .map_err(|e| e.to_string())?;
            auth.revoke_family("f1").await.map_err(|e| e.to_string())?;
            assert!(
                auth.family("f1")
                    .await
                    .map_err(|e| e.to_string())?
                    .unwrap()
                    .revoked
            );
            auth.put_signing_key(&key)
                .await
                .map_err(|e| e.to_string())?;
            assert_eq!(
                auth.signing_keys().await.map_err(|e| e.to_string())?,
                vec![key]
            );
            assert_eq!(
                auth.user_by_id(&user.id).await.map_err(|e| e.to_string())?,
                None
            );
            Ok(())
        }
    }
}
