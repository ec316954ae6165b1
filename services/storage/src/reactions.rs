//! Reactions: which emoji a reaction may carry, whether a toggle changes
//! anything (a reaction that is already there, or a removal of one that is
//! not, is refused rather than burning a seq), and the summaries a history
//! reply carries for the messages it returns.

use crate::handlers::Handlers;
use futures::{StreamExt, TryStreamExt};
use parley_core::{ServiceError, ServiceResult};
use parley_ports::ReactionRow;
use parley_proto::v1 as pb;

/// Distinct emoji one message can collect (a further new emoji is refused;
/// reacting with one already there is not).
pub(crate) const MAX_EMOJI_PER_MESSAGE: usize = 50;
/// Users a summary names (the count covers all of them).
pub(crate) const MAX_REACTORS_LISTED: usize = 20;
/// Messages whose reactions are read at once for a history reply.
const READ_CONCURRENCY: usize = 16;

/// The fully qualified Unicode form of an emoji given as Unicode (any
/// qualification) or as a GitHub shortcode (`:thumbsup:`).
pub(crate) fn canonical_emoji(given: &str) -> ServiceResult<&'static str> {
    let found = match given.strip_prefix(':').and_then(|s| s.strip_suffix(':')) {
        Some(code) => emojis::get_by_shortcode(code),
        None => emojis::get(given),
    };
    found.map(|e| e.as_str()).ok_or_else(|| {
        ServiceError::InvalidArgument(
            "emoji must be one Unicode emoji or its shortcode (:name:)".into(),
        )
    })
}

/// Groups one message's reaction rows (in seq order) by emoji, in the
/// order of each emoji's oldest current reaction.
pub(crate) fn summaries(target_seq: u64, rows: &[ReactionRow]) -> Vec<pb::ReactionSummary> {
    let mut out: Vec<pb::ReactionSummary> = Vec::new();
    for r in rows {
        let i = match out.iter().position(|s| s.emoji == r.emoji) {
            Some(i) => i,
            None => {
                out.push(pb::ReactionSummary {
                    target_seq,
                    emoji: r.emoji.clone(),
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let s = &mut out[i];
        s.count += 1;
        if s.user_ids.len() < MAX_REACTORS_LISTED {
            s.user_ids.push(r.user_id.clone());
        }
    }
    out
}

impl Handlers {
    /// Checks a reaction send and returns it with its emoji in canonical
    /// form. A retry of a send that was stored passes untouched: the
    /// commit answers it with the original seq.
    pub(crate) async fn check_reaction(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
        mut r: pb::ReactionBody,
    ) -> ServiceResult<pb::ReactionBody> {
        r.emoji = canonical_emoji(&r.emoji)?.to_string();
        self.target_message(conv, r.target_seq).await?;
        if self.is_stored(conv, sender, client_msg_id).await? {
            return Ok(r);
        }
        let rows = self.store.reactions(conv, r.target_seq).await?;
        let mine = rows
            .iter()
            .any(|row| row.emoji == r.emoji && row.user_id == sender);
        match (r.remove, mine) {
            (false, true) => Err(ServiceError::AlreadyExists(
                "you already reacted with this emoji".into(),
            )),
            (true, false) => Err(ServiceError::NotFound(
                "you have not reacted with this emoji".into(),
            )),
            (false, false) => {
                let mut used: Vec<&str> = rows.iter().map(|row| row.emoji.as_str()).collect();
                used.sort_unstable();
                used.dedup();
                if !used.contains(&r.emoji.as_str()) && used.len() >= MAX_EMOJI_PER_MESSAGE {
                    return Err(ServiceError::InvalidArgument(format!(
                        "a message has at most {MAX_EMOJI_PER_MESSAGE} different reactions"
                    )));
                }
                Ok(r)
            }
            (true, true) => Ok(r),
        }
    }

    /// The reactions of every message among `events` as of `head` (the
    /// reply's head_seq: reactions added after it are left to their
    /// events), per event (empty for events that are not messages).
    pub(crate) async fn reactions_of(
        &self,
        conv: &str,
        events: &[pb::Event],
        head: u64,
    ) -> ServiceResult<Vec<Vec<pb::ReactionSummary>>> {
        // Owned inputs: a stream of futures borrowing each event does not
        // satisfy the Send bound of the async-trait service methods.
        let messages: Vec<Option<u64>> = events
            .iter()
            .map(|e| matches!(e.body, Some(pb::event::Body::Message(_))).then_some(e.seq))
            .collect();
        futures::stream::iter(messages)
            .map(|seq| {
                let store = self.store.clone();
                let conv = conv.to_string();
                async move {
                    let Some(seq) = seq else {
                        return Ok(Vec::new());
                    };
                    let mut rows = store.reactions(&conv, seq).await?;
                    rows.retain(|r| r.seq <= head);
                    Ok::<_, ServiceError>(summaries(seq, &rows))
                }
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(emoji: &str, user: &str, seq: u64) -> ReactionRow {
        ReactionRow {
            emoji: emoji.into(),
            user_id: user.into(),
            seq,
        }
    }

    #[test]
    fn emoji_are_stored_fully_qualified_and_shortcodes_resolve() {
        assert_eq!(canonical_emoji("\u{1F44D}").unwrap(), "\u{1F44D}");
        assert_eq!(canonical_emoji(":thumbsup:").unwrap(), "\u{1F44D}");
        // The heart with and without its variation selector is one emoji.
        assert_eq!(canonical_emoji("\u{2764}").unwrap(), "\u{2764}\u{FE0F}");
        assert_eq!(
            canonical_emoji("\u{2764}\u{FE0F}").unwrap(),
            "\u{2764}\u{FE0F}"
        );
        // Skin tones and ZWJ sequences are single emoji.
        assert!(canonical_emoji("\u{1F44D}\u{1F3FD}").is_ok());
        assert!(canonical_emoji("\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}").is_ok());
        for bad in [
            "",
            "a",
            "lol",
            ":not_an_emoji:",
            "\u{1F44D}\u{1F44D}",
            "\u{1F44D} ",
            "\0",
        ] {
            assert!(canonical_emoji(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn summaries_group_by_emoji_in_first_use_order_and_cap_the_names() {
        let mut rows = vec![row("b", "u1", 3), row("a", "u2", 4), row("b", "u3", 5)];
        let s = summaries(9, &rows);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].emoji.as_str(), s[0].count), ("b", 2));
        assert_eq!(s[0].user_ids, ["u1", "u3"]);
        assert_eq!((s[1].emoji.as_str(), s[1].count), ("a", 1));
        assert!(s.iter().all(|x| x.target_seq == 9));
        rows = (0..30).map(|i| row("c", &format!("u{i}"), i)).collect();
        let s = summaries(1, &rows);
        assert_eq!(s[0].count, 30);
        assert_eq!(s[0].user_ids.len(), MAX_REACTORS_LISTED);
        assert_eq!(s[0].user_ids[0], "u0");
    }
}
