use super::unique;
use crate::{
    AuthStore, FamilyRecord, RefreshRecord, RefreshUse, SigningKeyRecord, StoreError, UserRecord,
};
use std::sync::Arc;

/// Runs every auth-store check.
pub async fn run(store: Arc<dyn AuthStore>) {
    users(&*store).await;
    refresh_tokens_spend_once(store.clone()).await;
    families_and_keys(&*store).await;
}

async fn users(s: &dyn AuthStore) {
    let name = unique("u");
    let u = UserRecord {
        id: unique("id"),
        username: name.clone(),
        password_hash: "h".into(),
        created_at_ms: 1,
    };
    s.create_user(&u).await.unwrap();
    assert_eq!(s.user_by_name(&name).await.unwrap(), Some(u.clone()));
    assert_eq!(s.user_by_id(&u.id).await.unwrap(), Some(u.clone()));
    let dup = UserRecord {
        id: unique("id"),
        ..u.clone()
    };
    assert!(matches!(
        s.create_user(&dup).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(
        s.user_by_id(&dup.id).await.unwrap().is_none(),
        "a refused user leaves nothing behind"
    );
    assert!(s.user_by_name(&unique("nobody")).await.unwrap().is_none());
}

async fn refresh_tokens_spend_once(s: Arc<dyn AuthStore>) {
    let rec = RefreshRecord {
        token_hash: unique("h"),
        family_id: unique("f"),
        user_id: "u".into(),
        expires_at_ms: 9,
    };
    s.put_refresh(&rec).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        let h = rec.token_hash.clone();
        tasks.push(tokio::spawn(
            async move { s.use_refresh(&h).await.unwrap() },
        ));
    }
    let mut fresh = 0;
    for t in tasks {
        match t.await.unwrap() {
            RefreshUse::Fresh(r) => {
                assert_eq!(r, rec);
                fresh += 1;
            }
            RefreshUse::Reused(r) => assert_eq!(r, rec),
            RefreshUse::Unknown => panic!("a stored token is known"),
        }
    }
    assert_eq!(fresh, 1, "exactly one use of a refresh token is fresh");
    assert_eq!(
        s.use_refresh(&unique("h")).await.unwrap(),
        RefreshUse::Unknown
    );
}

async fn families_and_keys(s: &dyn AuthStore) {
    let f = FamilyRecord {
        id: unique("f"),
        user_id: "u".into(),
        device_name: "phone".into(),
        created_at_ms: 1,
        revoked: false,
    };
    s.create_family(&f).await.unwrap();
    assert_eq!(s.family(&f.id).await.unwrap(), Some(f.clone()));
    s.revoke_family(&f.id).await.unwrap();
    assert!(s.family(&f.id).await.unwrap().unwrap().revoked);
    let k = SigningKeyRecord {
        kid: unique("k"),
        pkcs8_der: vec![1, 2, 3],
        created_at_ms: 5,
    };
    s.put_signing_key(&k).await.unwrap();
    assert!(s.signing_keys().await.unwrap().contains(&k));
}
