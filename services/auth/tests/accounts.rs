//! Accounts beyond sign-in: the first admin, administration and its audit
//! log, registration modes and invites, sessions a user lists and ends,
//! password changes, deactivation, and the log of revoked sessions.

use parley_auth::{AuthConfig, AuthService};
use parley_core::ServiceError;
use parley_core::services::AuthApi;
use parley_embedded::{EmbeddedDb, MemoryBus, RedbAuthStore};
use parley_proto::v1 as pb;
use std::sync::Arc;

const PW: &str = "correct horse battery";

struct Fixture {
    _dir: tempfile::TempDir,
    auth: AuthService,
}

async fn fixture_with(cfg: AuthConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = EmbeddedDb::open(&dir.path().join("auth.redb")).unwrap();
    let auth = AuthService::new(
        Arc::new(RedbAuthStore::new(db)),
        Arc::new(MemoryBus::new()),
        cfg,
    )
    .await
    .unwrap();
    Fixture { _dir: dir, auth }
}

async fn fixture() -> Fixture {
    fixture_with(AuthConfig::default()).await
}

fn creds(u: &str, invite: &str) -> pb::Credentials {
    pb::Credentials {
        username: u.into(),
        password: PW.into(),
        invite_code: invite.into(),
    }
}

async fn login(a: &AuthService, u: &str, device: &str) -> pb::TokenPair {
    a.login(pb::LoginRequest {
        username: u.into(),
        password: PW.into(),
        device_name: device.into(),
        client: Some(pb::ClientInfo {
            address: "203.0.113.7".into(),
            user_agent: "test-agent/1.0".into(),
        }),
    })
    .await
    .unwrap()
}

fn actor(p: &pb::TokenPair) -> Option<pb::AdminActor> {
    Some(pb::AdminActor {
        user_id: p.user_id.clone(),
        session_id: p.session_id.clone(),
        client: Some(pb::ClientInfo {
            address: "198.51.100.1".into(),
            user_agent: String::new(),
        }),
    })
}

fn denied<T: std::fmt::Debug>(r: Result<T, ServiceError>) -> bool {
    matches!(r, Err(ServiceError::PermissionDenied(_)))
}

#[tokio::test]
async fn the_first_account_is_the_admin_and_admins_alone_administer() {
    let f = fixture().await;
    let a = &f.auth;
    a.register(creds("root", "")).await.unwrap();
    a.register(creds("bob", "")).await.unwrap();
    let root = login(a, "root", "laptop").await;
    let bob = login(a, "bob", "phone").await;
    let me = a
        .get_account(pb::AccountRef {
            user_id: root.user_id.clone(),
            session_id: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(me.role, pb::AccountRole::Admin as i32);

    // bob is no admin: every admin call is refused.
    let list = pb::AdminListAccountsRequest {
        actor: actor(&bob),
        ..Default::default()
    };
    assert!(denied(a.admin_list_accounts(list).await));
    assert!(denied(
        a.admin_audit_log(pb::AdminAuditRequest {
            actor: actor(&bob),
            ..Default::default()
        })
        .await
    ));
    assert!(denied(
        a.admin_set_role(pb::AdminSetRoleRequest {
            actor: actor(&bob),
            user_id: bob.user_id.clone(),
            role: pb::AccountRole::Admin as i32,
        })
        .await
    ));

    // The admin lists, searches and pages accounts in username order.
    for name in ["alice", "alfred", "albert", "carol"] {
        a.register(creds(name, "")).await.unwrap();
    }
    let page = |prefix: &str, after: &str, limit| pb::AdminListAccountsRequest {
        actor: actor(&root),
        prefix: prefix.into(),
        after: after.into(),
        limit,
    };
    let names = |l: &pb::AccountList| -> Vec<String> {
        l.accounts.iter().map(|a| a.username.clone()).collect()
    };
    let all = a.admin_list_accounts(page("", "", 0)).await.unwrap();
    assert_eq!(
        names(&all),
        ["albert", "alfred", "alice", "bob", "carol", "root"]
    );
    assert!(all.next.is_empty());
    let al = a.admin_list_accounts(page("al", "", 2)).await.unwrap();
    assert_eq!(names(&al), ["albert", "alfred"]);
    let rest = a
        .admin_list_accounts(page("al", &al.next, 2))
        .await
        .unwrap();
    assert_eq!(names(&rest), ["alice"]);
    assert!(rest.next.is_empty());
    let exact = a.admin_list_accounts(page("bob", "", 5)).await.unwrap();
    assert_eq!(names(&exact), ["bob"], "a whole name matches itself");
    let across = a.admin_list_accounts(page("", "alice", 2)).await.unwrap();
    assert_eq!(names(&across), ["bob", "carol"], "pages cross letters");

    // Making bob an admin lets him in; he cannot demote himself.
    a.admin_set_role(pb::AdminSetRoleRequest {
        actor: actor(&root),
        user_id: bob.user_id.clone(),
        role: pb::AccountRole::Admin as i32,
    })
    .await
    .unwrap();
    assert!(
        a.admin_list_accounts(pb::AdminListAccountsRequest {
            actor: actor(&bob),
            ..Default::default()
        })
        .await
        .is_ok()
    );
    assert!(denied(
        a.admin_set_role(pb::AdminSetRoleRequest {
            actor: actor(&bob),
            user_id: bob.user_id.clone(),
            role: pb::AccountRole::User as i32,
        })
        .await
    ));

    // Every change is in the audit log, newest first, with who and where.
    let log = a
        .admin_audit_log(pb::AdminAuditRequest {
            actor: actor(&root),
            ..Default::default()
        })
        .await
        .unwrap();
    let e = &log.entries[0];
    assert_eq!(
        (
            e.action.as_str(),
            e.actor_username.as_str(),
            e.actor_address.as_str(),
            e.target_username.as_str(),
            e.detail.as_str()
        ),
        ("account.role", "root", "198.51.100.1", "bob", "role=admin")
    );
}

#[tokio::test]
async fn sessions_are_listed_with_their_device_and_ended_one_or_all() {
    let f = fixture().await;
    let a = &f.auth;
    a.register(creds("alice", "")).await.unwrap();
    let laptop = login(a, "alice", "laptop").await;
    let phone = login(a, "alice", "phone").await;
    let tablet = login(a, "alice", "tablet").await;
    let me = |p: &pb::TokenPair| pb::AccountRef {
        user_id: p.user_id.clone(),
        session_id: p.session_id.clone(),
    };
    let list = a.list_sessions(me(&laptop)).await.unwrap().sessions;
    assert_eq!(list.len(), 3);
    let current: Vec<_> = list.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].device_name, "laptop");
    assert_eq!(current[0].client_address, "203.0.113.7");
    assert_eq!(current[0].user_agent, "test-agent/1.0");
    assert!(current[0].last_seen_ms >= current[0].created_at_ms);

    // End the phone: its refresh token dies, it is in the revocation log.
    let before = parley_core::time::now_ms() - 1;
    a.end_sessions(pb::EndSessionsRequest {
        user_id: laptop.user_id.clone(),
        session_id: laptop.session_id.clone(),
        session_ids: vec![phone.session_id.clone()],
        all_others: false,
    })
    .await
    .unwrap();
    let refreshed = a
        .refresh(pb::RefreshRequest {
            refresh_token: phone.refresh_token.clone(),
            ..Default::default()
        })
        .await;
    assert!(matches!(refreshed, Err(ServiceError::Unauthenticated(_))));
    let revoked = a
        .revoked_sessions(pb::RevokedSince { since_ms: before })
        .await
        .unwrap();
    assert_eq!(revoked.sessions.len(), 1);
    assert_eq!(revoked.sessions[0].session_id, phone.session_id);
    assert_eq!(revoked.sessions[0].user_id, phone.user_id);
    assert!(!revoked.truncated);
    let later = a
        .revoked_sessions(pb::RevokedSince {
            since_ms: revoked.now_ms + 1,
        })
        .await
        .unwrap();
    assert!(later.sessions.is_empty(), "asked from later: none");

    // Someone else's session id is ignored.
    a.register(creds("mallory", "")).await.unwrap();
    let mallory = login(a, "mallory", "evil").await;
    a.end_sessions(pb::EndSessionsRequest {
        user_id: mallory.user_id.clone(),
        session_id: mallory.session_id.clone(),
        session_ids: vec![tablet.session_id.clone()],
        all_others: false,
    })
    .await
    .unwrap();
    assert_eq!(
        a.list_sessions(me(&laptop)).await.unwrap().sessions.len(),
        2
    );

    // "Sign out everywhere else" keeps only the current one.
    a.end_sessions(pb::EndSessionsRequest {
        user_id: laptop.user_id.clone(),
        session_id: laptop.session_id.clone(),
        session_ids: vec![],
        all_others: true,
    })
    .await
    .unwrap();
    let left = a.list_sessions(me(&laptop)).await.unwrap().sessions;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].session_id, laptop.session_id);
}

#[tokio::test]
async fn a_password_change_needs_the_old_one_and_ends_every_other_session() {
    let f = fixture().await;
    let a = &f.auth;
    a.register(creds("alice", "")).await.unwrap();
    let laptop = login(a, "alice", "laptop").await;
    let phone = login(a, "alice", "phone").await;
    let change = |old: &str, new: &str| pb::ChangePasswordRequest {
        user_id: laptop.user_id.clone(),
        session_id: laptop.session_id.clone(),
        old_password: old.into(),
        new_password: new.into(),
    };
    assert!(denied(
        a.change_password(change("wrong password", "a fresh long passphrase"))
            .await
    ));
    assert!(matches!(
        a.change_password(change(PW, "password")).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    a.change_password(change(PW, "a fresh long passphrase"))
        .await
        .unwrap();
    let sessions = a
        .list_sessions(pb::AccountRef {
            user_id: laptop.user_id.clone(),
            session_id: laptop.session_id.clone(),
        })
        .await
        .unwrap()
        .sessions;
    assert_eq!(sessions.len(), 1, "the phone was signed out");
    assert!(
        a.refresh(pb::RefreshRequest {
            refresh_token: phone.refresh_token.clone(),
            ..Default::default()
        })
        .await
        .is_err()
    );
    // The new password works, the old one does not.
    let new_login = a
        .login(pb::LoginRequest {
            username: "alice".into(),
            password: "a fresh long passphrase".into(),
            ..Default::default()
        })
        .await;
    assert!(new_login.is_ok());
    let old_login = a
        .login(pb::LoginRequest {
            username: "alice".into(),
            password: PW.into(),
            ..Default::default()
        })
        .await;
    assert!(matches!(old_login, Err(ServiceError::Unauthenticated(_))));
}

#[tokio::test]
async fn a_deactivated_account_is_signed_out_and_cannot_sign_in_until_reactivated() {
    let f = fixture().await;
    let a = &f.auth;
    a.register(creds("root", "")).await.unwrap();
    a.register(creds("leaver", "")).await.unwrap();
    let root = login(a, "root", "laptop").await;
    let leaver = login(a, "leaver", "phone").await;
    let set = |active| pb::AdminSetActiveRequest {
        actor: actor(&root),
        user_id: leaver.user_id.clone(),
        active,
    };
    let acc = a.admin_set_active(set(false)).await.unwrap();
    assert!(acc.deactivated_at_ms > 0);
    assert!(
        a.refresh(pb::RefreshRequest {
            refresh_token: leaver.refresh_token.clone(),
            ..Default::default()
        })
        .await
        .is_err()
    );
    let again = a
        .login(pb::LoginRequest {
            username: "leaver".into(),
            password: PW.into(),
            ..Default::default()
        })
        .await;
    assert!(denied(again), "a deactivated account cannot sign in");
    let revoked = a
        .revoked_sessions(pb::RevokedSince::default())
        .await
        .unwrap();
    assert!(
        revoked
            .sessions
            .iter()
            .any(|s| s.session_id == leaver.session_id)
    );
    // An admin cannot lock themselves out.
    assert!(denied(
        a.admin_set_active(pb::AdminSetActiveRequest {
            actor: actor(&root),
            user_id: root.user_id.clone(),
            active: false,
        })
        .await
    ));
    let acc = a.admin_set_active(set(true)).await.unwrap();
    assert_eq!(acc.deactivated_at_ms, 0);
    login(a, "leaver", "phone").await;
    let log = a
        .admin_audit_log(pb::AdminAuditRequest {
            actor: actor(&root),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = log.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["account.reactivate", "account.deactivate"]);
}

#[tokio::test]
async fn registration_modes_and_invite_codes() {
    let f = fixture().await;
    let a = &f.auth;
    a.register(creds("root", "")).await.unwrap();
    let root = login(a, "root", "laptop").await;
    let set = |mode: pb::RegistrationMode| pb::AdminSetRegistrationRequest {
        actor: actor(&root),
        mode: mode as i32,
    };

    a.admin_set_registration(set(pb::RegistrationMode::Closed))
        .await
        .unwrap();
    assert!(denied(a.register(creds("walkin", "")).await));
    // Closed: the admin creates accounts.
    let made = a
        .admin_create_account(pb::AdminCreateAccountRequest {
            actor: actor(&root),
            username: "hired".into(),
            password: PW.into(),
            role: pb::AccountRole::User as i32,
        })
        .await
        .unwrap();
    assert_eq!(made.username, "hired");
    login(a, "hired", "laptop").await;

    a.admin_set_registration(set(pb::RegistrationMode::InviteOnly))
        .await
        .unwrap();
    assert!(denied(a.register(creds("walkin", "")).await));
    assert!(denied(a.register(creds("walkin", "made-up-code")).await));
    let invite = a
        .admin_create_invite(pb::AdminCreateInviteRequest {
            actor: actor(&root),
            uses: 2,
            valid_days: 1,
            note: "new team".into(),
        })
        .await
        .unwrap();
    let listed = a
        .admin_list_invites(actor(&root).unwrap())
        .await
        .unwrap()
        .invites;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].uses_left, 2);
    assert!(
        !listed[0].id.is_empty() && !invite.code.contains(&listed[0].id),
        "lists show an id, never the code"
    );
    a.register(creds("first", &invite.code)).await.unwrap();
    a.register(creds("second", &invite.code)).await.unwrap();
    assert!(
        denied(a.register(creds("third", &invite.code)).await),
        "a code is good for its uses only"
    );
    // A revoked invite is refused.
    let other = a
        .admin_create_invite(pb::AdminCreateInviteRequest {
            actor: actor(&root),
            ..Default::default()
        })
        .await
        .unwrap();
    a.admin_revoke_invite(pb::AdminRevokeInviteRequest {
        actor: actor(&root),
        invite_id: other.invite.unwrap().id,
    })
    .await
    .unwrap();
    assert!(denied(a.register(creds("fourth", &other.code)).await));

    // SSO only: no password sign-in, except for admins.
    a.admin_set_registration(set(pb::RegistrationMode::SsoOnly))
        .await
        .unwrap();
    assert!(denied(a.register(creds("walkin", "")).await));
    let hired = a
        .login(pb::LoginRequest {
            username: "hired".into(),
            password: PW.into(),
            ..Default::default()
        })
        .await;
    assert!(denied(hired));
    login(a, "root", "laptop").await;
    let settings = a
        .admin_get_registration(actor(&root).unwrap())
        .await
        .unwrap();
    assert_eq!(settings.mode, pb::RegistrationMode::SsoOnly as i32);
    assert!(settings.set_by_admin);
}

#[tokio::test]
async fn the_configured_mode_holds_until_an_admin_changes_it() {
    let f = fixture_with(AuthConfig {
        registration: "closed".into(),
        ..Default::default()
    })
    .await;
    assert!(denied(f.auth.register(creds("walkin", "")).await));
    let bad = AuthService::new(
        Arc::new(RedbAuthStore::new(
            EmbeddedDb::open(&f._dir.path().join("other.redb")).unwrap(),
        )),
        Arc::new(MemoryBus::new()),
        AuthConfig {
            registration: "sometimes".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(bad, Err(ServiceError::InvalidArgument(_))));
}

#[tokio::test]
async fn accounts_from_before_roles_get_no_admin_by_chance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let db = EmbeddedDb::open(&path).unwrap();
    let store = Arc::new(RedbAuthStore::new(db));
    // An account written as an older version did: no directory, no roles.
    use parley_ports::AuthStore;
    store
        .create_user(&parley_ports::UserRecord {
            id: "0190a0a0-0000-7000-8000-000000000001".into(),
            username: "old".into(),
            password_hash: "x".into(),
            created_at_ms: 1,
        })
        .await
        .unwrap();
    // ... and a session of it, from before session details existed.
    let legacy = parley_ports::FamilyRecord {
        id: "0190a0a0-0000-7000-8000-0000000000f1".into(),
        user_id: "0190a0a0-0000-7000-8000-000000000001".into(),
        device_name: "old phone".into(),
        created_at_ms: 5,
        revoked: false,
    };
    store.create_family(&legacy).await.unwrap();
    let a = AuthService::new(
        store.clone(),
        Arc::new(MemoryBus::new()),
        Default::default(),
    )
    .await
    .unwrap();
    a.register(creds("stranger", "")).await.unwrap();
    let stranger = login(&a, "stranger", "x").await;
    let acc = a
        .get_account(pb::AccountRef {
            user_id: stranger.user_id.clone(),
            session_id: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(acc.role, pb::AccountRole::User as i32);
    // The operator names an admin on the command line; the old account is listed.
    parley_auth::command_line::set_admin(&*store, "stranger", true)
        .await
        .unwrap();
    let all = a
        .admin_list_accounts(pb::AdminListAccountsRequest {
            actor: actor(&stranger),
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = all.accounts.iter().map(|a| a.username.as_str()).collect();
    assert_eq!(names, ["old", "stranger"]);
    let log = a
        .admin_audit_log(pb::AdminAuditRequest {
            actor: actor(&stranger),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.entries[0].actor_username, "(command line)");
    // The old session is listed, and "sign out everywhere" reaches it.
    let detail = a
        .admin_get_account(pb::AdminTarget {
            actor: actor(&stranger),
            user_id: legacy.user_id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(detail.sessions.len(), 1);
    assert_eq!(detail.sessions[0].device_name, "old phone");
    a.admin_end_sessions(pb::AdminEndSessionsRequest {
        actor: actor(&stranger),
        user_id: legacy.user_id.clone(),
        session_ids: vec![],
    })
    .await
    .unwrap();
    assert!(store.family(&legacy.id).await.unwrap().unwrap().revoked);
}
