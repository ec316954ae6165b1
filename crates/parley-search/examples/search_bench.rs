//! Search latency and index size over many messages:
//!
//!     cargo run --release -p parley-search --example search_bench -- 1000000
//!
//! Indexes N synthetic messages (10-25 words from a 5,000-word vocabulary
//! with a Zipf-like spread, in 10,000 conversations, over a year) into an
//! index in a temp dir, then runs 1,000 queries of one or two words, each
//! scoped to the 200 conversations of one user, and prints p50/p99/max
//! latency and bytes per message.

use parley_search::{Change, Doc, Query, Scope, SearchIndex};
use std::time::Instant;

/// A small deterministic generator (no dependency for a benchmark).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Skewed towards small values, as word frequencies are.
    fn zipf(&mut self, n: u64) -> u64 {
        let u = (self.below(1_000_000) as f64 + 1.0) / 1_000_001.0;
        ((n as f64).powf(u) as u64).saturating_sub(1).min(n - 1)
    }
}

fn word(i: u64) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "zu", "fi", "go", "he", "ju",
        "wa",
    ];
    let mut s = String::new();
    let mut x = i + 16;
    while x > 0 {
        s.push_str(SYL[(x % 16) as usize]);
        x /= 16;
    }
    s
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let ix = SearchIndex::open(dir.path()).expect("index");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let now: i64 = 1_800_000_000_000;
    let year: i64 = 365 * 86_400_000;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    let mut text_bytes = 0u64;
    for i in 0..n {
        let words = 10 + rng.below(16);
        let text: Vec<String> = (0..words).map(|_| word(rng.zipf(5_000))).collect();
        let text = text.join(" ");
        text_bytes += text.len() as u64;
        batch.push(Change::Put(Doc {
            conversation_id: format!("c{}", rng.below(10_000)),
            seq: i + 1,
            sender_id: format!("u{}", rng.below(2_000)),
            sent_at_ms: now - (rng.below(year as u64) as i64),
            text,
        }));
        if batch.len() == 10_000 {
            ix.apply(&batch).expect("apply");
            batch.clear();
        }
    }
    ix.apply(&batch).expect("apply");
    let indexing = started.elapsed();
    let (docs, bytes) = ix.stats();
    let disk: u64 = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "indexed {docs} messages in {:.1} s ({:.0}/s); index {:.1} MB on disk ({:.0} bytes per message; text {:.0} bytes per message), segments {:.1} MB",
        indexing.as_secs_f64(),
        n as f64 / indexing.as_secs_f64(),
        disk as f64 / 1e6,
        disk as f64 / n as f64,
        text_bytes as f64 / n as f64,
        bytes as f64 / 1e6
    );
    let mut lat = Vec::with_capacity(1000);
    let mut hits = 0usize;
    for q in 0..1000u64 {
        let first = (q * 200) % 10_000;
        let scopes = (first..first + 200)
            .map(|c| Scope {
                conversation_id: format!("c{c}"),
                from_seq: 1,
            })
            .collect();
        let text = if q % 2 == 0 {
            word(rng.zipf(5_000))
        } else {
            format!("{} {}", word(rng.zipf(5_000)), word(rng.zipf(5_000)))
        };
        let query = Query {
            text,
            scopes,
            limit: 20,
            now_ms: now,
            ..Default::default()
        };
        let t = Instant::now();
        hits += ix.search(&query).expect("search").len();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "1000 queries (1-2 words, 200 conversations in scope, 20 hits): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {:.1} hits per query",
        lat[499],
        lat[989],
        lat[999],
        hits as f64 / 1000.0
    );
}
