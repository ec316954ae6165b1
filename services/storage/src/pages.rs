//! Every reply that lists things is a page bounded by count and by bytes,
//! so no reply can outgrow the frame a client can be sent (the gateway
//! refuses to write a frame over its cap; these budgets keep replies far
//! below it even in JSON, whose escaping can grow text sixfold).

use prost::Message;

/// Encoded (protobuf) bytes of the items of one page. With the JSON
/// encoding's worst-case growth this stays well inside the gateway's
/// largest server frame (1 MiB).
pub(crate) const REPLY_BUDGET_BYTES: usize = 96 * 1024;

/// Conversations of one sync page.
pub(crate) const DEFAULT_SYNC_LIMIT: u32 = 200;
pub(crate) const MAX_SYNC_LIMIT: u32 = 500;

/// Members of one page (ListMembers, and the members a conversation
/// carries in a reply).
pub(crate) const DEFAULT_MEMBERS_LIMIT: u32 = 500;
pub(crate) const MAX_MEMBERS_LIMIT: u32 = 1000;

/// The page size a request asked for: 0 means the default, anything above
/// the maximum is refused (a silent cap would hide a client bug).
pub(crate) fn page_limit(
    what: &str,
    asked: u32,
    default: u32,
    max: u32,
) -> parley_core::ServiceResult<usize> {
    match asked {
        0 => Ok(default as usize),
        n if n > max => Err(parley_core::ServiceError::InvalidArgument(format!(
            "{what} limit is at most {max}"
        ))),
        n => Ok(n as usize),
    }
}

/// Takes items in order while both the count and the byte budget allow;
/// the first item is always taken (one item alone is bounded by the
/// message size limit). Returns the page and whether items were left.
pub(crate) fn take_page<T: Message>(
    items: impl IntoIterator<Item = T>,
    limit: usize,
    budget: usize,
) -> (Vec<T>, bool) {
    take_page_by(items, limit, budget, T::encoded_len)
}

/// [`take_page`] for items whose encoded size `size_of` tells.
pub(crate) fn take_page_by<T>(
    items: impl IntoIterator<Item = T>,
    limit: usize,
    budget: usize,
    size_of: impl Fn(&T) -> usize,
) -> (Vec<T>, bool) {
    let mut page = Vec::new();
    let mut used = 0;
    let mut items = items.into_iter().peekable();
    while let Some(item) = items.peek() {
        let size = size_of(item) + 8;
        if page.len() == limit || (!page.is_empty() && used + size > budget) {
            return (page, true);
        }
        used += size;
        page.extend(items.next());
    }
    (page, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_proto::v1 as pb;

    fn member(i: usize) -> pb::Member {
        pb::Member {
            user_id: format!("user-{i:05}"),
            role: 1,
            read_seq: 0,
        }
    }

    #[test]
    fn pages_stop_at_the_count_or_the_budget() {
        let (p, more) = take_page((0..10).map(member), 4, usize::MAX);
        assert_eq!((p.len(), more), (4, true));
        let (p, more) = take_page((0..10).map(member), 100, usize::MAX);
        assert_eq!((p.len(), more), (10, false));
        let one = member(0).encoded_len() + 8;
        let (p, more) = take_page((0..10).map(member), 100, 3 * one);
        assert_eq!((p.len(), more), (3, true));
        // An item over the budget alone still makes a page of one.
        let (p, more) = take_page((0..10).map(member), 100, 1);
        assert_eq!((p.len(), more), (1, true));
        let (p, more) = take_page(Vec::<pb::Member>::new(), 100, 1);
        assert_eq!((p.len(), more), (0, false));
    }

    #[test]
    fn limits_default_and_refuse_over_the_maximum() {
        assert_eq!(page_limit("x", 0, 5, 10).unwrap(), 5);
        assert_eq!(page_limit("x", 10, 5, 10).unwrap(), 10);
        assert!(page_limit("x", 11, 5, 10).is_err());
    }
}
