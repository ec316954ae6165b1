//! Row mapping, both ways, between Parley's types and CQL columns. CQL has
//! no unsigned integers: seqs are bigint and must fit in an i64.

use crate::ScyllaError;
use crate::bucket::bucket_of;
use parley_proto::v1 as pb;
use prost::Message;

pub fn seq_to_cql(seq: u64) -> Result<i64, ScyllaError> {
    i64::try_from(seq).map_err(|_| ScyllaError::Range(format!("seq {seq} exceeds a CQL bigint")))
}

pub fn seq_from_cql(seq: i64) -> Result<u64, ScyllaError> {
    u64::try_from(seq).map_err(|_| ScyllaError::Decode(format!("negative seq {seq}")))
}

/// The columns of an `events` row, in `INSERT_EVENT` order.
pub type EventRow = (String, i64, i64, String, String, i64, Vec<u8>);

/// `body` holds the event's body (the oneof) as a protobuf `Event` with
/// only `body` set: new body kinds need no schema change, and the columns
/// carry what queries and dedup need.
pub fn event_to_row(e: &pb::Event) -> Result<EventRow, ScyllaError> {
    let seq = seq_to_cql(e.seq)?;
    let body = pb::Event {
        body: e.body.clone(),
        ..Default::default()
    }
    .encode_to_vec();
    Ok((
        e.conversation_id.clone(),
        seq_to_cql(bucket_of(e.seq))?,
        seq,
        e.sender_id.clone(),
        e.client_msg_id.clone(),
        e.sent_at_ms,
        body,
    ))
}

/// The columns `SELECT_EVENTS_*` return.
pub type EventSelectRow = (String, i64, String, Option<String>, i64, Vec<u8>);

pub fn event_from_row(row: EventSelectRow) -> Result<pb::Event, ScyllaError> {
    let (conversation_id, seq, sender_id, client_msg_id, sent_at_ms, body) = row;
    let decoded = pb::Event::decode(body.as_slice())
        .map_err(|e| ScyllaError::Decode(format!("event {conversation_id}/{seq}: {e}")))?;
    Ok(pb::Event {
        conversation_id,
        seq: seq_from_cql(seq)?,
        sender_id,
        // CQL stores an empty text as empty, but a row written by hand may
        // have a null; both mean "no client id".
        client_msg_id: client_msg_id.unwrap_or_default(),
        sent_at_ms,
        body: decoded.body,
    })
}

/// The columns of a `conversations` row, in `INSERT_CONVERSATION` order.
pub type ConversationRow = (String, i32, String, i64, String);

pub fn conversation_to_row(c: &pb::Conversation) -> ConversationRow {
    (
        c.id.clone(),
        c.kind,
        c.title.clone(),
        c.created_at_ms,
        c.created_by.clone(),
    )
}

pub type ConversationSelectRow = (
    String,
    Option<i32>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

pub fn conversation_from_row(row: ConversationSelectRow) -> pb::Conversation {
    let (id, kind, title, created_at_ms, created_by) = row;
    pb::Conversation {
        id,
        kind: kind.unwrap_or_default(),
        title: title.unwrap_or_default(),
        created_at_ms: created_at_ms.unwrap_or_default(),
        created_by: created_by.unwrap_or_default(),
        members: vec![],
        member_count: 0,
        ..Default::default()
    }
}

pub fn member_from_row(user_id: String, role: Option<i32>, read_seq: u64) -> pb::Member {
    pb::Member {
        user_id,
        role: role.unwrap_or(pb::Role::Member as i32),
        read_seq,
    }
}

/// A `read_marks.read_seq` cell: none (never read) or a bad value read as 0.
pub fn read_mark_from_cql(read_seq: Option<i64>) -> u64 {
    read_seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, body: Option<pb::event::Body>) -> pb::Event {
        pb::Event {
            conversation_id: "c1".into(),
            seq,
            sender_id: "alice".into(),
            client_msg_id: "m-1".into(),
            sent_at_ms: 1_700_000_000_123,
            body,
        }
    }

    fn select_row(row: EventRow) -> EventSelectRow {
        let (conv, _bucket, seq, sender, cmid, sent, body) = row;
        (conv, seq, sender, Some(cmid), sent, body)
    }

    #[test]
    fn events_round_trip_through_their_row() {
        let bodies = [
            Some(pb::event::Body::Message(pb::MessageBody {
                text: "héllo \u{1F600}\0".into(),
                reply_to_seq: 3,
                ..Default::default()
            })),
            Some(pb::event::Body::Edit(pb::EditBody {
                target_seq: 2,
                text: "fixed".into(),
                ..Default::default()
            })),
            Some(pb::event::Body::Delete(pb::DeleteBody { target_seq: 2 })),
            None,
        ];
        for body in bodies {
            let e = event(4097, body);
            let row = event_to_row(&e).unwrap();
            assert_eq!(row.1, 1, "seq 4097 is in bucket 1");
            assert_eq!(event_from_row(select_row(row)).unwrap(), e);
        }
    }

    #[test]
    fn the_body_column_holds_only_the_body() {
        let e = event(
            7,
            Some(pb::event::Body::Message(pb::MessageBody {
                text: "x".into(),
                reply_to_seq: 0,
                ..Default::default()
            })),
        );
        let body = event_to_row(&e).unwrap().6;
        let decoded = pb::Event::decode(body.as_slice()).unwrap();
        assert_eq!(decoded.seq, 0);
        assert!(decoded.conversation_id.is_empty());
        assert_eq!(decoded.body, e.body);
    }

    #[test]
    fn seqs_beyond_bigint_and_negative_seqs_are_errors() {
        assert!(event_to_row(&event(u64::MAX, None)).is_err());
        assert_eq!(seq_to_cql(i64::MAX as u64).unwrap(), i64::MAX);
        assert!(seq_from_cql(-1).is_err());
    }

    #[test]
    fn a_corrupt_body_is_reported_not_panicked() {
        let row = ("c".into(), 1, "a".into(), None, 0, vec![0xff, 0xff, 0xff]);
        let err = event_from_row(row).unwrap_err().to_string();
        assert!(err.contains("c/1"), "{err}");
    }

    #[test]
    fn null_client_msg_id_reads_as_empty() {
        let mut row = select_row(event_to_row(&event(1, None)).unwrap());
        row.3 = None;
        assert_eq!(event_from_row(row).unwrap().client_msg_id, "");
    }

    #[test]
    fn conversations_round_trip() {
        let c = pb::Conversation {
            id: "c9".into(),
            kind: pb::ConversationKind::Group as i32,
            title: "Team".into(),
            created_at_ms: 5,
            created_by: "u1".into(),
            members: vec![],
            member_count: 0,
            ..Default::default()
        };
        let (id, kind, title, at, by) = conversation_to_row(&c);
        assert_eq!(
            conversation_from_row((id, Some(kind), Some(title), Some(at), Some(by))),
            c
        );
    }

    #[test]
    fn members_default_to_role_member_and_watermark_zero() {
        let m = member_from_row("u".into(), None, read_mark_from_cql(None));
        assert_eq!(m.role, pb::Role::Member as i32);
        assert_eq!(m.read_seq, 0);
        let m = member_from_row("u".into(), Some(pb::Role::Owner as i32), 9);
        assert_eq!((m.role, m.read_seq), (pb::Role::Owner as i32, 9));
        assert_eq!(read_mark_from_cql(Some(-3)), 0);
    }
}
