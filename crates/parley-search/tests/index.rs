//! The index on its own: what a query finds, within which scopes, ranked
//! how, with which snippet; edits and removals; reopening from disk.

use parley_search::{Change, Doc, Query, Scope, SearchIndex};

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_000 * DAY;

fn put(conv: &str, seq: u64, sender: &str, age_days: i64, text: &str) -> Change {
    Change::Put(Doc {
        conversation_id: conv.into(),
        seq,
        sender_id: sender.into(),
        sent_at_ms: NOW - age_days * DAY,
        text: text.into(),
    })
}

fn scope(conv: &str, from_seq: u64) -> Scope {
    Scope {
        conversation_id: conv.into(),
        from_seq,
    }
}

fn query(text: &str, scopes: Vec<Scope>) -> Query {
    Query {
        text: text.into(),
        scopes,
        limit: 20,
        now_ms: NOW,
        ..Default::default()
    }
}

fn found(ix: &SearchIndex, q: &Query) -> Vec<(String, u64)> {
    ix.search(q)
        .unwrap()
        .into_iter()
        .map(|h| (h.conversation_id, h.seq))
        .collect()
}

fn sample() -> SearchIndex {
    let ix = SearchIndex::in_memory().unwrap();
    ix.apply(&[
        put(
            "a",
            1,
            "ann",
            40,
            "The quarterly budget review is on Friday",
        ),
        put("a", 2, "ben", 2, "budget approved, thanks!"),
        put("a", 3, "ann", 1, "lunch anyone?"),
        put("b", 1, "cal", 0, "budget for the offsite"),
        put("c", 5, "dee", 0, "secret budget of another team"),
    ])
    .unwrap();
    ix
}

#[test]
fn finds_only_within_the_callers_scopes() {
    let ix = sample();
    let q = query("budget", vec![scope("a", 1), scope("b", 1)]);
    let mut got = found(&ix, &q);
    got.sort();
    assert_eq!(got, [("a".into(), 1), ("a".into(), 2), ("b".into(), 1)]);
    // A member who may read "a" only from seq 2 on.
    let q = query("budget", vec![scope("a", 2)]);
    assert_eq!(found(&ix, &q), [("a".to_string(), 2)]);
    assert!(
        found(&ix, &query("budget", vec![])).is_empty(),
        "no scope, nothing"
    );
}

#[test]
fn every_word_counts_and_filters_narrow() {
    let ix = sample();
    let all = || vec![scope("a", 1), scope("b", 1), scope("c", 1)];
    assert_eq!(
        found(&ix, &query("budget friday", all())),
        [("a".to_string(), 1)]
    );
    let mut q = query("budget", all());
    q.sender_id = Some("ann".into());
    assert_eq!(found(&ix, &q), [("a".to_string(), 1)]);
    let mut q = query("budget", all());
    q.from_ms = Some(NOW - 3 * DAY);
    q.to_ms = Some(NOW - DAY);
    assert_eq!(found(&ix, &q), [("a".to_string(), 2)]);
    // What people type is never a syntax error.
    assert!(ix.search(&query("budget: \"", all())).is_ok());
    assert!(ix.search(&query("   ", all())).is_err());
}

#[test]
fn newer_messages_rank_above_equally_relevant_older_ones() {
    let ix = SearchIndex::in_memory().unwrap();
    ix.apply(&[
        put("a", 1, "ann", 300, "deploy checklist"),
        put("a", 2, "ann", 1, "deploy checklist"),
        put("a", 3, "ann", 60, "deploy checklist"),
    ])
    .unwrap();
    let order: Vec<u64> = found(&ix, &query("checklist", vec![scope("a", 1)]))
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(order, [2, 3, 1]);
}

#[test]
fn hits_carry_a_snippet_with_the_matches_marked() {
    let ix = sample();
    let hits = ix.search(&query("friday", vec![scope("a", 1)])).unwrap();
    let h = &hits[0];
    assert_eq!(
        (h.sender_id.as_str(), h.sent_at_ms),
        ("ann", NOW - 40 * DAY)
    );
    let marked: Vec<&str> = h
        .highlights
        .iter()
        .map(|&(a, b)| &h.fragment[a..b])
        .collect();
    assert_eq!(marked, ["Friday"]);
}

#[test]
fn an_edit_replaces_the_text_and_a_removal_forgets_it() {
    let ix = sample();
    let scopes = || vec![scope("a", 1)];
    ix.apply(&[put("a", 3, "ann", 1, "dinner anyone?")])
        .unwrap();
    assert!(found(&ix, &query("lunch", scopes())).is_empty());
    assert_eq!(
        found(&ix, &query("dinner", scopes())),
        [("a".to_string(), 3)]
    );
    ix.apply(&[Change::Remove {
        conversation_id: "a".into(),
        seq: 3,
    }])
    .unwrap();
    assert!(found(&ix, &query("dinner", scopes())).is_empty());
    assert_eq!(ix.stats().0, 4);
}

#[test]
fn the_index_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let generation = {
        let ix = SearchIndex::open(dir.path()).unwrap();
        ix.apply(&[put("a", 1, "ann", 0, "persisted words")])
            .unwrap();
        ix.generation().to_string()
    };
    let ix = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(ix.generation(), generation, "the same index");
    let other = tempfile::tempdir().unwrap();
    assert_ne!(
        SearchIndex::open(other.path()).unwrap().generation(),
        generation
    );
    assert_eq!(
        found(&ix, &query("persisted", vec![scope("a", 1)])),
        [("a".to_string(), 1)]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "owner-only");
    }
}

/// Every file under `dir` holding `needle`.
fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).ok()?;
            bytes
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
                .then(|| path.display().to_string())
        })
        .collect()
}

#[test]
fn purging_removes_deleted_and_replaced_text_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let generation = {
        let ix = SearchIndex::open(dir.path()).unwrap();
        ix.apply(&[
            put("c", 1, "ann", 0, "keepsake alpha"),
            put("c", 2, "ann", 0, "confidential bravo"),
            put("c", 3, "ann", 0, "draft charlie"),
        ])
        .unwrap();
        // Message 2 deleted, message 3 edited.
        ix.apply(&[
            Change::Remove {
                conversation_id: "c".into(),
                seq: 2,
            },
            put("c", 3, "ann", 0, "final delta"),
        ])
        .unwrap();
        // Marked only: the texts are still in the segment files.
        assert!(!files_holding(dir.path(), "confidential").is_empty());
        assert!(ix.purge_deleted().unwrap() >= 1);
        for gone in ["confidential", "draft"] {
            assert_eq!(
                files_holding(dir.path(), gone),
                Vec::<String>::new(),
                "{gone}"
            );
        }
        assert!(!files_holding(dir.path(), "keepsake").is_empty());
        let all = vec![scope("c", 1)];
        assert_eq!(
            found(&ix, &query("keepsake", all.clone())),
            [("c".into(), 1)]
        );
        assert_eq!(found(&ix, &query("final", all.clone())), [("c".into(), 3)]);
        assert!(found(&ix, &query("confidential", all)).is_empty());
        ix.generation().to_string()
    };
    // The index is still itself after a reopen.
    let ix = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(ix.generation(), generation);
    assert_eq!(ix.stats().0, 2);
}
