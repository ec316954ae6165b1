use super::unique;
use crate::{
    AuthRecord, AuthRecordKind, AuthStore, FamilyRecord, RefreshRecord, RefreshUse,
    SigningKeyRecord, StoreError, UserRecord,
};
use std::sync::Arc;

/// Runs every auth-store check.
pub async fn run(store: Arc<dyn AuthStore>) {
    users(&*store).await;
    refresh_tokens_spend_once(store.clone()).await;
    families_and_keys(&*store).await;
    passwords_and_user_listing(&*store).await;
    records(&*store).await;
}

async fn passwords_and_user_listing(s: &dyn AuthStore) {
    let u = UserRecord {
        id: unique("id"),
        username: unique("p"),
        password_hash: "old".into(),
        created_at_ms: 1,
    };
    s.create_user(&u).await.unwrap();
    s.set_password_hash(&u.id, "new").await.unwrap();
    assert_eq!(
        s.user_by_name(&u.username)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "new"
    );
    assert!(matches!(
        s.set_password_hash(&unique("nobody"), "x").await,
        Err(StoreError::NotFound(_))
    ));
    let mut seen = Vec::new();
    s.for_each_user(&mut |name, id| seen.push((name.to_string(), id.to_string())))
        .await
        .unwrap();
    assert!(seen.contains(&(u.username.clone(), u.id.clone())));
}

async fn records(s: &dyn AuthStore) {
    let scope = unique("scope");
    let kind = AuthRecordKind::Session;
    for id in ["b", "a", "c"] {
        s.put_record(kind, &scope, id, id.as_bytes(), None)
            .await
            .unwrap();
    }
    // Same scope, other kind: a separate namespace.
    s.put_record(AuthRecordKind::Account, &scope, "a", b"other", None)
        .await
        .unwrap();
    assert_eq!(
        s.record(kind, &scope, "a").await.unwrap().as_deref(),
        Some(&b"a"[..])
    );
    assert_eq!(
        s.record(AuthRecordKind::Account, &scope, "a")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"other"[..])
    );
    let all = s.records(kind, &scope, "", 10).await.unwrap();
    let ids: Vec<_> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"], "listed in id order");
    assert_eq!(
        s.records(kind, &scope, "a", 1).await.unwrap(),
        vec![AuthRecord {
            id: "b".into(),
            value: b"b".to_vec()
        }],
        "paged after an id"
    );
    s.put_record(kind, &scope, "b", b"B", None).await.unwrap();
    assert_eq!(
        s.record(kind, &scope, "b").await.unwrap().as_deref(),
        Some(&b"B"[..]),
        "a put replaces"
    );
    s.delete_record(kind, &scope, "b").await.unwrap();
    assert!(s.record(kind, &scope, "b").await.unwrap().is_none());
    assert_eq!(s.records(kind, &scope, "", 10).await.unwrap().len(), 2);
    assert!(
        s.records(kind, &unique("empty"), "", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A record with a lifetime is there until it lapses.
    s.put_record(kind, &scope, "t", b"t", Some(3600))
        .await
        .unwrap();
    assert!(s.record(kind, &scope, "t").await.unwrap().is_some());
    s.purge_expired_records(1000).await.unwrap();
    assert!(
        s.record(kind, &scope, "t").await.unwrap().is_some(),
        "an unexpired record survives a purge"
    );
    s.put_record(kind, &scope, "short", b"s", Some(1))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        s.purge_expired_records(1000).await.unwrap();
        let listed = s.records(kind, &scope, "", 10).await.unwrap();
        let gone = s.record(kind, &scope, "short").await.unwrap().is_none()
            && !listed.iter().any(|r| r.id == "short");
        if gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a record outlived its lifetime"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
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
    let mut seen = Vec::new();
    s.for_each_family(&mut |fam| seen.push(fam.clone()))
        .await
        .unwrap();
    assert!(seen.contains(&f), "every family is listed");
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
