use parley_auth::{AuthConfig, AuthService};
use parley_core::ServiceError;
use parley_core::services::AuthApi;
use parley_embedded::{EmbeddedDb, MemoryBus, RedbAuthStore};
use parley_jwt::Verifier;
use parley_ports::{DeliverySink, EventBus, Push};
use parley_proto::v1 as pb;
use std::sync::Arc;
use tokio::sync::mpsc;

struct Fixture {
    _dir: tempfile::TempDir,
    auth: AuthService,
    bus: MemoryBus,
    path: std::path::PathBuf,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    let bus = MemoryBus::new();
    let auth = service(&path, &bus, AuthConfig::default()).await;
    Fixture {
        _dir: dir,
        auth,
        bus,
        path,
    }
}

async fn service(path: &std::path::Path, bus: &MemoryBus, cfg: AuthConfig) -> AuthService {
    let db = EmbeddedDb::open(path).unwrap();
    AuthService::new(Arc::new(RedbAuthStore::new(db)), Arc::new(bus.clone()), cfg)
        .await
        .unwrap()
}

fn creds(u: &str) -> pb::Credentials {
    pb::Credentials {
        username: u.into(),
        password: "correct horse".into(),
        ..Default::default()
    }
}

fn login(u: &str, p: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        username: u.into(),
        password: p.into(),
        device_name: "laptop".into(),
        ..Default::default()
    }
}

fn verifier(jwks: &str) -> Verifier {
    let v = Verifier::new("parley", "parley", 5);
    v.load_jwks(jwks).unwrap();
    v
}

#[tokio::test]
async fn register_login_and_verify_locally() {
    let f = fixture().await;
    let user = f.auth.register(creds("alice")).await.unwrap();
    assert!(matches!(
        f.auth.register(creds("alice")).await,
        Err(ServiceError::AlreadyExists(_))
    ));
    let pair = f.auth.login(login("alice", "correct horse")).await.unwrap();
    assert_eq!(pair.user_id, user.id);
    let v = verifier(&f.auth.jwks(pb::Empty {}).await.unwrap().json);
    let claims = v.verify(&pair.access_token).unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.sid.as_str()),
        (user.id.as_str(), pair.session_id.as_str())
    );
    // Each login is its own device session.
    let second = f.auth.login(login("alice", "correct horse")).await.unwrap();
    assert_ne!(second.session_id, pair.session_id);
}

#[tokio::test]
async fn bad_credentials_are_refused_alike() {
    let f = fixture().await;
    f.auth.register(creds("alice")).await.unwrap();
    for (u, p) in [
        ("alice", "wrong password"),
        ("nobody", "correct horse"),
        ("Alice.", "correct horse"),
        ("alice", "short"),
    ] {
        let err = f.auth.login(login(u, p)).await.unwrap_err();
        assert_eq!(
            err,
            ServiceError::Unauthenticated("invalid username or password".into()),
            "{u}/{p}"
        );
    }
    for bad in ["ab", "Alice", "a.b", "a b"] {
        assert!(
            matches!(
                f.auth.register(creds(bad)).await,
                Err(ServiceError::InvalidArgument(_))
            ),
            "{bad}"
        );
    }
    let weak = pb::Credentials {
        username: "bob".into(),
        password: "1234567".into(),
        ..Default::default()
    };
    assert!(matches!(
        f.auth.register(weak).await,
        Err(ServiceError::InvalidArgument(_))
    ));
}

struct Sink(mpsc::UnboundedSender<String>);
impl DeliverySink for Sink {
    fn deliver(&self, _user: &str, push: &Push) {
        if let Push::CloseSession { session_id } = push {
            let _ = self.0.send(session_id.clone());
        }
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let f = fixture().await;
    f.auth.register(creds("alice")).await.unwrap();
    let (tx, mut closed) = mpsc::unbounded_channel();
    let _sub = f
        .bus
        .subscribe_gateway("gateway-1", Arc::new(Sink(tx)))
        .await
        .unwrap();

    let first = f.auth.login(login("alice", "correct horse")).await.unwrap();
    let refresh = |t: &str| pb::RefreshRequest {
        refresh_token: t.into(),
        ..Default::default()
    };
    let second = f.auth.refresh(refresh(&first.refresh_token)).await.unwrap();
    assert_ne!(
        second.refresh_token, first.refresh_token,
        "rotated on every use"
    );
    assert_eq!(second.session_id, first.session_id);
    let third = f
        .auth
        .refresh(refresh(&second.refresh_token))
        .await
        .unwrap();

    // Replaying a spent token revokes the whole family...
    let err = f
        .auth
        .refresh(refresh(&first.refresh_token))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceError::Unauthenticated(ref m) if m.contains("reuse")),
        "{err:?}"
    );
    // ...including the newest, never-used token...
    assert!(matches!(
        f.auth.refresh(refresh(&third.refresh_token)).await,
        Err(ServiceError::Unauthenticated(_))
    ));
    // ...and tells the gateways to close the session's sockets.
    assert_eq!(closed.recv().await.unwrap(), first.session_id);
    // Other sessions are untouched.
    let other = f.auth.login(login("alice", "correct horse")).await.unwrap();
    f.auth.refresh(refresh(&other.refresh_token)).await.unwrap();
    assert!(matches!(
        f.auth.refresh(refresh("made-up")).await,
        Err(ServiceError::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn logout_revokes() {
    let f = fixture().await;
    f.auth.register(creds("alice")).await.unwrap();
    let pair = f.auth.login(login("alice", "correct horse")).await.unwrap();
    let r = pb::RefreshRequest {
        refresh_token: pair.refresh_token.clone(),
        ..Default::default()
    };
    f.auth.logout(r.clone()).await.unwrap();
    assert!(f.auth.refresh(r).await.is_err());
}

#[tokio::test]
async fn keys_and_accounts_survive_a_restart_and_tokens_expire() {
    let f = fixture().await;
    f.auth.register(creds("alice")).await.unwrap();
    let pair = f.auth.login(login("alice", "correct horse")).await.unwrap();
    let path = f.path.clone();
    let bus = f.bus.clone();
    drop(f.auth);
    let cfg = AuthConfig {
        access_token_ttl_secs: 0,
        ..Default::default()
    };
    let auth = service(&path, &bus, cfg).await;
    let v = verifier(&auth.jwks(pb::Empty {}).await.unwrap().json);
    v.verify(&pair.access_token)
        .expect("old tokens verify after a restart");
    let refreshed = auth
        .refresh(pb::RefreshRequest {
            refresh_token: pair.refresh_token,
            ..Default::default()
        })
        .await
        .unwrap();
    // A zero TTL issues a token that expires as it is issued (gateways allow 5 s of clock skew).
    let claims = v.verify(&refreshed.access_token).unwrap();
    assert_eq!(claims.exp, claims.iat);
    let lookup = auth
        .lookup_users(pb::LookupUsersRequest {
            usernames: vec!["alice".into(), "ghost".into()],
            user_ids: vec![],
        })
        .await
        .unwrap();
    assert_eq!(lookup.users.len(), 1);
}

#[tokio::test]
async fn served_over_grpc() {
    use parley_core::services::{AuthClient, AuthGrpc};
    let f = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(tonic::service::interceptor::InterceptedService::new(
                AuthGrpc(Arc::new(f.auth)).into_service(),
                parley_core::peer::assume_peer_in_tests(parley_core::peer::Peer::Gateway),
            ))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let c = AuthClient::remote(channel);
    c.register(creds("remote")).await.unwrap();
    let pair = c.login(login("remote", "correct horse")).await.unwrap();
    let v = verifier(&c.jwks(pb::Empty {}).await.unwrap().json);
    assert_eq!(v.verify(&pair.access_token).unwrap().sub, pair.user_id);
    let err = c
        .login(login("remote", "wrong password"))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Unauthenticated(_)), "{err:?}");
    server.abort();
}

/// Replicas given the same key directory publish the same keys, so a token
/// issued by one verifies with the JWKS fetched from another; the store's
/// own keys are not used.
#[tokio::test]
async fn replicas_sharing_a_key_directory_accept_each_others_tokens() {
    let keys = tempfile::tempdir().unwrap();
    let key = parley_jwt::SigningKey::generate().unwrap();
    std::fs::write(keys.path().join("k1.pem"), key.to_pkcs8_pem().unwrap()).unwrap();
    // Owner-only, as auth requires of key files.
    std::fs::set_permissions(
        keys.path().join("k1.pem"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let cfg = AuthConfig {
        signing_keys_dir: Some(keys.path().to_path_buf()),
        ..AuthConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let bus = MemoryBus::new();
    let a = service(&dir.path().join("a.redb"), &bus, cfg.clone()).await;
    let b = service(&dir.path().join("b.redb"), &bus, cfg).await;
    a.register(creds("alice")).await.unwrap();
    let pair = a.login(login("alice", "correct horse")).await.unwrap();
    let jwks_b = b.jwks(pb::Empty {}).await.unwrap().json;
    assert!(jwks_b.contains(key.kid()));
    verifier(&jwks_b).verify(&pair.access_token).unwrap();
}
