//! What travels on delivery subjects: a `BusPush` for one user
//! (`parley.user.<id>`), a `BusRouted` for the users of one gateway
//! (`parley.gateway.<id>`), or a `BusBroadcast` of several pushes with
//! their users for every gateway (`parley.gateways`). A push is encoded
//! once however many gateways and chunks it goes to; a receiving gateway
//! decodes it once for all its users.

use bytes::{BufMut, Bytes, BytesMut};
use parley_core::trace::TraceHeaders;
use parley_ports::{EncodedFrame, Push};
use parley_proto::v1 as pb;
use prost::Message;

/// Recipient ids per routed message (bytes of ids): a gateway holding
/// thousands of a channel's members gets several messages, each well
/// under NATS's 1 MB payload limit.
const IDS_PER_MESSAGE: usize = 32 * 1024;

pub(crate) fn encode_push(push: &Push) -> Bytes {
    let kind = match push {
        Push::Frame(f) => pb::bus_push::Kind::Frame(f.frame().clone()),
        Push::CloseSession { session_id } => pb::bus_push::Kind::CloseSession(session_id.clone()),
    };
    Bytes::from(pb::BusPush { kind: Some(kind) }.encode_to_vec())
}

pub(crate) fn decode_push(bytes: &[u8]) -> Option<Push> {
    push_of(pb::BusPush::decode(bytes).ok()?)
}

fn push_of(p: pb::BusPush) -> Option<Push> {
    match p.kind? {
        pb::bus_push::Kind::Frame(f) => Some(Push::Frame(EncodedFrame::new(f))),
        pb::bus_push::Kind::CloseSession(s) => Some(Push::CloseSession { session_id: s }),
    }
}

/// `users` in runs of at most `IDS_PER_MESSAGE` bytes of ids (at least one
/// id each).
fn chunks(users: &[String]) -> impl Iterator<Item = &[String]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= users.len() {
            return None;
        }
        let mut end = start;
        let mut ids = 0;
        while end < users.len() && (end == start || ids + users[end].len() <= IDS_PER_MESSAGE) {
            ids += users[end].len();
            end += 1;
        }
        let chunk = &users[start..end];
        start = end;
        Some(chunk)
    })
}

/// A `BusRouted` for `users` with the already encoded `push` (field 2,
/// appended as bytes rather than encoded again).
fn routed(users: &[String], push: &[u8], trace: &TraceHeaders) -> BytesMut {
    let head = pb::BusRouted {
        user_ids: users.to_vec(),
        push: None,
        trace: trace.iter().cloned().collect(),
    };
    let mut buf = BytesMut::with_capacity(head.encoded_len() + push.len() + 8);
    head.encode(&mut buf).expect("a BytesMut grows");
    length_delimited(2, push, &mut buf);
    buf
}

fn length_delimited(field: u32, bytes: &[u8], buf: &mut BytesMut) {
    prost::encoding::encode_key(field, prost::encoding::WireType::LengthDelimited, buf);
    prost::encoding::encode_varint(bytes.len() as u64, buf);
    buf.put_slice(bytes);
}

/// `BusRouted` messages for `users`, each with the encoded `push`.
pub(crate) fn encode_routed(users: &[String], push: &Bytes) -> Vec<Bytes> {
    chunks(users)
        .map(|c| routed(c, push, &Vec::new()).freeze())
        .collect()
}

/// `BusBroadcast` messages carrying `items` in order, as few as fit the
/// size budget: a message takes items until their ids exceed it, and an
/// item with more ids than that is split over several messages.
pub(crate) fn encode_broadcast(items: &[(&[String], Bytes, &TraceHeaders)]) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(1);
    let mut buf = BytesMut::new();
    let mut ids = 0;
    for (users, push, trace) in items {
        for chunk in chunks(users) {
            let size: usize = chunk.iter().map(String::len).sum();
            if !buf.is_empty() && ids + size > IDS_PER_MESSAGE {
                out.push(std::mem::take(&mut buf).freeze());
                ids = 0;
            }
            length_delimited(1, &routed(chunk, push, trace), &mut buf);
            ids += size;
        }
    }
    if !buf.is_empty() {
        out.push(buf.freeze());
    }
    out
}

/// One push of a delivery message: its users and its trace context.
pub(crate) struct Item {
    pub(crate) users: Vec<String>,
    pub(crate) push: Push,
    pub(crate) trace: TraceHeaders,
}

fn item_of(r: pb::BusRouted) -> Option<Item> {
    Some(Item {
        users: r.user_ids,
        push: push_of(r.push?)?,
        trace: r.trace.into_iter().collect(),
    })
}

/// The items of a `BusBroadcast` message.
pub(crate) fn decode_broadcast(bytes: &[u8]) -> Option<Vec<Item>> {
    pb::BusBroadcast::decode(bytes)
        .ok()?
        .items
        .into_iter()
        .map(item_of)
        .collect()
}

/// The users and the push of a `BusRouted` message.
pub(crate) fn decode_routed(bytes: &[u8]) -> Option<Item> {
    item_of(pb::BusRouted::decode(bytes).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pong(n: i64) -> Push {
        Push::Frame(EncodedFrame::new(pb::ServerFrame {
            id: String::new(),
            payload: Some(pb::server_frame::Payload::Pong(pb::Pong { nonce: n })),
        }))
    }

    #[test]
    fn routed_messages_carry_every_user_and_the_push_in_chunks() {
        let users: Vec<String> = (0..5_000).map(|i| format!("user-{i:08}")).collect();
        let push = encode_push(&pong(7));
        let messages = encode_routed(&users, &push);
        assert!(messages.len() > 1, "large lists are split");
        let mut got = Vec::new();
        for m in &messages {
            assert!(m.len() < 64 * 1024);
            let item = decode_routed(m).unwrap();
            let (ids, p) = (item.users, item.push);
            match p {
                Push::Frame(f) => assert_eq!(
                    f.frame().payload,
                    Some(pb::server_frame::Payload::Pong(pb::Pong { nonce: 7 }))
                ),
                Push::CloseSession { .. } => panic!("expected a frame"),
            }
            got.extend(ids);
        }
        assert_eq!(got, users);
        assert!(encode_routed(&[], &push).is_empty());
        assert!(decode_routed(b"\xff\xff").is_none());
    }

    #[test]
    fn broadcasts_pack_small_items_together_and_split_large_ones() {
        let few: Vec<String> = vec!["a".into(), "b".into()];
        let many: Vec<String> = (0..5_000).map(|i| format!("user-{i:08}")).collect();
        let (p1, p2, p3) = (
            encode_push(&pong(1)),
            encode_push(&pong(2)),
            encode_push(&pong(3)),
        );
        let trace = vec![("traceparent".to_string(), "00-x".to_string())];
        let messages =
            encode_broadcast(&[(&few, p1, &trace), (&many, p2, &trace), (&few, p3, &trace)]);
        assert!(
            messages.len() > 1 && messages.len() < 5,
            "{}",
            messages.len()
        );
        let mut got: Vec<(String, i64)> = Vec::new();
        for m in &messages {
            assert!(m.len() < 64 * 1024);
            for item in decode_broadcast(m).unwrap() {
                assert_eq!(item.trace, trace);
                let (users, push) = (item.users, item.push);
                let Push::Frame(f) = push else {
                    panic!("a frame")
                };
                let Some(pb::server_frame::Payload::Pong(p)) = &f.frame().payload else {
                    panic!("a pong")
                };
                got.extend(users.into_iter().map(|u| (u, p.nonce)));
            }
        }
        let want: Vec<(String, i64)> = few
            .iter()
            .map(|u| (u.clone(), 1))
            .chain(many.iter().map(|u| (u.clone(), 2)))
            .chain(few.iter().map(|u| (u.clone(), 3)))
            .collect();
        assert_eq!(got, want, "every user of every push, in order");
        assert_eq!(
            encode_broadcast(&[(&few, encode_push(&pong(4)), &trace)]).len(),
            1
        );
        assert!(encode_broadcast(&[]).is_empty());
    }
}
