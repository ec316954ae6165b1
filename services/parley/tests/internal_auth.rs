//! Internal gRPC authenticates its callers (split mode). The services run in
//! this process exactly as `parley <service>` runs them (mutual TLS, a real
//! nats-server); every internal method is then called as an outsider would:
//! in plain text, over TLS without a certificate, with a certificate of
//! another CA, and as a Parley service that may not make that call.

mod common;

use common::announced;
use parley::Config;
use parley::internal_tls::{CA_FILE, InternalTls, generate};
use parley::split::{ServiceName, run_service};
use parley_core::peer::Peer;
use parley_core::services::{
    AuthApi, AuthClient, FanoutApi, FanoutClient, PresenceApi, PresenceClient, StorageApi,
    StorageClient,
};
use parley_core::{Caller, ServiceError};
use parley_proto::v1 as pb;
use parley_testkit::NatsServer;
use std::net::SocketAddr;
use std::path::Path;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

struct Services {
    storage: SocketAddr,
    auth: SocketAddr,
    presence: SocketAddr,
    fanout: SocketAddr,
}

async fn start(root: &Path, nats: &NatsServer, stop: &CancellationToken) -> Services {
    let certs = root.join("tls");
    generate(&certs, 1, false).unwrap();
    let base = |name: &str| {
        let mut c = Config {
            data_dir: root.join(name),
            ..Config::default()
        };
        c.cluster.grpc_listen = "127.0.0.1:0".parse().unwrap();
        c.cluster.announce = true;
        c.cluster.tls_dir = Some(certs.join(name));
        c.cluster.bus = nats.url();
        c.auth.hash_concurrency = 1;
        c.gateway.invitations = parley_gateway::Invitations::Never;
        c
    };
    let mut addrs = Vec::new();
    for (name, svc) in [
        ("auth", ServiceName::Auth),
        ("presence", ServiceName::Presence),
        ("storage", ServiceName::Storage),
    ] {
        tokio::spawn(run_service(svc, base(name), stop.clone()));
        addrs.push(announced(&root.join(name), "grpc").await);
    }
    let mut fanout = base("fanout");
    fanout.cluster.presence_url = format!("https://{}", addrs[1]);
    fanout.cluster.storage_urls = vec![format!("https://{}", addrs[2])];
    tokio::spawn(run_service(ServiceName::Fanout, fanout, stop.clone()));
    Services {
        auth: addrs[0],
        presence: addrs[1],
        storage: addrs[2],
        fanout: announced(&root.join("fanout"), "grpc").await,
    }
}

fn ok<T>(r: Result<T, ServiceError>) -> Result<(), ServiceError> {
    r.map(|_| ())
}

/// Calls every internal method once (with requests that would otherwise be
/// served) and returns the result of each, by name.
async fn call_every_method(
    s: &StorageClient,
    a: &AuthClient,
    p: &PresenceClient,
    f: &FanoutClient,
) -> Vec<(&'static str, Result<(), ServiceError>)> {
    let user = Caller::user("alice").unwrap().to_proto();
    let creds = pb::Credentials {
        username: "mallory".into(),
        password: "correct horse battery".into(),
        ..Default::default()
    };
    vec![
        (
            "create_conversation",
            ok(s.create_conversation(pb::CreateConversationRequest {
                caller: user.clone(),
                ..Default::default()
            })
            .await),
        ),
        (
            "get_conversation",
            ok(s.get_conversation(pb::ConversationRequest {
                caller: user.clone(),
                ..Default::default()
            })
            .await),
        ),
        (
            "add_members",
            ok(s.add_members(pb::AddMembersRequest {
                caller: user.clone(),
                ..Default::default()
            })
            .await),
        ),
        (
            "remove_member",
            ok(s.remove_member(pb::RemoveMemberRequest {
                caller: user.clone(),
                ..Default::default()
            })
            .await),
        ),
        (
            "append",
            ok(s.append(pb::AppendRequest {
                caller: user.clone(),
                ..Default::default()
            })
            .await),
        ),
        (
            "history",
            ok(s.history(pb::UserHistoryRequest {
                caller: user.clone(),
                ..Default::default()
            })
            .await),
        ),
        (
            "sync",
            ok(s.sync(pb::SyncPageRequest {
                caller: user.clone(),
                ..Default::default()
            })
            .await),
        ),
        (
            "mark_read",
            ok(s.mark_read(pb::MarkReadRequest {
                caller: user.clone(),
                ..Default::default()
            })
            .await),
        ),
        (
            "list_members",
            ok(s.list_members(pb::MembersRequest {
                caller: Caller::System.to_proto(),
                ..Default::default()
            })
            .await),
        ),
        (
            "contacts",
            ok(s.contacts(pb::CallerRequest {
                caller: user.clone(),
            })
            .await),
        ),
        (
            "member_ids",
            ok(s.member_ids(pb::MembersRequest {
                caller: Caller::System.to_proto(),
                ..Default::default()
            })
            .await),
        ),
        ("register", ok(a.register(creds.clone()).await)),
        (
            "login",
            ok(a.login(pb::LoginRequest {
                username: creds.username.clone(),
                password: creds.password.clone(),
                device_name: "x".into(),
                ..Default::default()
            })
            .await),
        ),
        (
            "refresh",
            ok(a.refresh(pb::RefreshRequest::default()).await),
        ),
        ("logout", ok(a.logout(pb::RefreshRequest::default()).await)),
        ("jwks", ok(a.jwks(pb::Empty {}).await)),
        (
            "revoked_sessions",
            ok(a.revoked_sessions(Default::default()).await),
        ),
        ("registration", ok(a.registration(pb::Empty {}).await)),
        ("oidc_providers", ok(a.oidc_providers(pb::Empty {}).await)),
        ("oidc_start", ok(a.oidc_start(Default::default()).await)),
        ("oidc_finish", ok(a.oidc_finish(Default::default()).await)),
        ("oidc_redeem", ok(a.oidc_redeem(Default::default()).await)),
        ("get_account", ok(a.get_account(Default::default()).await)),
        (
            "list_sessions",
            ok(a.list_sessions(Default::default()).await),
        ),
        ("end_sessions", ok(a.end_sessions(Default::default()).await)),
        (
            "change_password",
            ok(a.change_password(Default::default()).await),
        ),
        (
            "update_profile",
            ok(a.update_profile(Default::default()).await),
        ),
        (
            "admin_list_accounts",
            ok(a.admin_list_accounts(Default::default()).await),
        ),
        (
            "admin_get_account",
            ok(a.admin_get_account(Default::default()).await),
        ),
        (
            "admin_create_account",
            ok(a.admin_create_account(Default::default()).await),
        ),
        (
            "admin_set_active",
            ok(a.admin_set_active(Default::default()).await),
        ),
        (
            "admin_set_role",
            ok(a.admin_set_role(Default::default()).await),
        ),
        (
            "admin_reset_password",
            ok(a.admin_reset_password(Default::default()).await),
        ),
        (
            "admin_end_sessions",
            ok(a.admin_end_sessions(Default::default()).await),
        ),
        (
            "admin_get_registration",
            ok(a.admin_get_registration(Default::default()).await),
        ),
        (
            "admin_set_registration",
            ok(a.admin_set_registration(Default::default()).await),
        ),
        (
            "admin_create_invite",
            ok(a.admin_create_invite(Default::default()).await),
        ),
        (
            "admin_list_invites",
            ok(a.admin_list_invites(Default::default()).await),
        ),
        (
            "admin_revoke_invite",
            ok(a.admin_revoke_invite(Default::default()).await),
        ),
        (
            "admin_audit_log",
            ok(a.admin_audit_log(Default::default()).await),
        ),
        (
            "lookup_users",
            ok(a.lookup_users(pb::LookupUsersRequest {
                user_ids: vec!["alice".into()],
                ..Default::default()
            })
            .await),
        ),
        (
            "attach",
            ok(p.attach(pb::PresenceSession {
                user_id: "alice".into(),
                connection_id: "c".into(),
                gateway_id: "g".into(),
            })
            .await),
        ),
        (
            "heartbeat",
            ok(p.heartbeat(pb::PresenceSession {
                user_id: "alice".into(),
                connection_id: "c".into(),
                gateway_id: "g".into(),
            })
            .await),
        ),
        (
            "detach",
            ok(p.detach(pb::PresenceSession {
                user_id: "alice".into(),
                connection_id: "c".into(),
                gateway_id: "g".into(),
            })
            .await),
        ),
        (
            "query",
            ok(p.query(pb::PresenceQuery {
                user_ids: vec!["alice".into()],
            })
            .await),
        ),
        (
            "routes",
            ok(p.routes(pb::PresenceQuery {
                user_ids: vec!["alice".into()],
            })
            .await),
        ),
        ("typing", ok(f.typing(pb::TypingSignal::default()).await)),
        (
            "presence_changed",
            ok(f.presence_changed(pb::PresenceInfo::default()).await),
        ),
        ("receipt", ok(f.receipt(pb::ReceiptSignal::default()).await)),
    ]
}

/// Clients of all four services, each over an endpoint `make` builds.
fn clients(
    svc: &Services,
    make: impl Fn(SocketAddr, Peer) -> Endpoint,
) -> (StorageClient, AuthClient, PresenceClient, FanoutClient) {
    (
        StorageClient::remote(make(svc.storage, Peer::Storage).connect_lazy()),
        AuthClient::remote(make(svc.auth, Peer::Auth).connect_lazy()),
        PresenceClient::remote(make(svc.presence, Peer::Presence).connect_lazy()),
        FanoutClient::remote(make(svc.fanout, Peer::Fanout).connect_lazy()),
    )
}

fn assert_all_refused(results: &[(&str, Result<(), ServiceError>)], how: &str) {
    assert_eq!(results.len(), 49, "every internal method");
    for (method, r) in results {
        // Refused at the connection: the request never reached a service
        // (which would have answered not_found, invalid_argument, ...).
        let at_connection = matches!(
            r,
            Err(ServiceError::Unavailable(_) | ServiceError::Internal(_))
        );
        assert!(at_connection, "{method} answered a caller {how}: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_and_foreign_callers_are_refused_on_every_internal_method() {
    let nats = NatsServer::start();
    let root = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let svc = start(root.path(), &nats, &stop).await;
    let ca = std::fs::read(root.path().join("tls").join(CA_FILE)).unwrap();
    // Connections that never start a handshake hold up no one else.
    let mut silent = Vec::new();
    for addr in [svc.storage, svc.auth, svc.presence, svc.fanout] {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }

    // Plain text: the TLS listener does not speak it.
    let (s, a, p, f) = clients(&svc, |addr, _| {
        Endpoint::from_shared(format!("http://{addr}")).unwrap()
    });
    assert_all_refused(&call_every_method(&s, &a, &p, &f).await, "in plain text");

    // TLS that trusts the cluster CA but presents no certificate.
    let (s, a, p, f) = clients(&svc, |addr, peer| {
        Endpoint::from_shared(format!("https://{addr}"))
            .unwrap()
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(&ca))
                    .domain_name(peer.dns_name()),
            )
            .unwrap()
    });
    assert_all_refused(
        &call_every_method(&s, &a, &p, &f).await,
        "without a certificate",
    );

    // A gateway certificate of another CA (same names, wrong issuer).
    let other = root.path().join("other-ca");
    generate(&other, 1, false).unwrap();
    let forged = InternalTls::load(&other.join("gateway"), Some(Peer::Gateway)).unwrap();
    let (s, a, p, f) = clients(&svc, |addr, peer| {
        let mut cfg = forged.client(peer);
        // Trust the real servers, present the forged identity.
        cfg = cfg.ca_certificate(Certificate::from_pem(&ca));
        Endpoint::from_shared(format!("https://{addr}"))
            .unwrap()
            .tls_config(cfg)
            .unwrap()
    });
    assert_all_refused(
        &call_every_method(&s, &a, &p, &f).await,
        "with another CA's certificate",
    );

    // The cluster's own certificates: each service may call only what its
    // code calls, and only fanout may act as the system.
    let certs = root.path().join("tls");
    for peer in Peer::ALL {
        let tls = InternalTls::load(&certs.join(peer.name()), Some(peer)).unwrap();
        let (s, a, p, f) = clients(&svc, |addr, to| {
            Endpoint::from_shared(format!("https://{addr}"))
                .unwrap()
                .tls_config(tls.client(to))
                .unwrap()
        });
        if peer == Peer::Gateway {
            // Nothing the outsiders sent took effect: no account, no presence.
            a.register(pb::Credentials {
                username: "mallory".into(),
                password: "correct horse battery".into(),
                ..Default::default()
            })
            .await
            .expect("mallory was never registered");
            let seen = p
                .query(pb::PresenceQuery {
                    user_ids: vec!["alice".into()],
                })
                .await
                .unwrap();
            assert!(!seen.users[0].online, "alice was never attached");
        }
        for (method, r) in call_every_method(&s, &a, &p, &f).await {
            let may = match peer {
                // list_members and member_ids are asked as the system here.
                Peer::Gateway => !matches!(method, "list_members" | "member_ids" | "routes"),
                Peer::Fanout => matches!(method, "member_ids" | "contacts" | "query" | "routes"),
                _ => false,
            };
            let denied = matches!(r, Err(ServiceError::PermissionDenied(ref m)) if m.starts_with(&format!("the {} service may not", peer.name())));
            assert_eq!(!denied, may, "{} calling {method}: {r:?}", peer.name());
        }
    }
    // Held open through every call above: none of them waited on these.
    drop(silent);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_accepts_only_the_service_it_dials() {
    let nats = NatsServer::start();
    let root = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let svc = start(root.path(), &nats, &stop).await;
    let gateway = InternalTls::load(&root.path().join("tls/gateway"), Some(Peer::Gateway)).unwrap();
    // Storage's URL misconfigured to point at auth: the gateway refuses to
    // talk to a server whose certificate is not storage's.
    let wrong = StorageClient::remote(
        parley::net::channel(&format!("https://{}", svc.auth), &gateway, Peer::Storage).unwrap(),
    );
    let r = wrong
        .contacts(pb::CallerRequest {
            caller: Caller::user("alice").unwrap().to_proto(),
        })
        .await;
    assert!(matches!(r, Err(ServiceError::Unavailable(_))), "{r:?}");
    stop.cancel();
}
