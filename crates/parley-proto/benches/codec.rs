//! Frame encode/decode throughput: `cargo bench -p parley-proto --bench codec`.

use parley_proto::codec::{self, Encoded, Encoding};
use parley_proto::v1::{Event, MessageBody, ServerFrame, event, server_frame};
use std::time::Instant;

fn frame() -> ServerFrame {
    ServerFrame {
        id: String::new(),
        payload: Some(server_frame::Payload::Event(Event {
            conversation_id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            seq: 123_456,
            sender_id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c".into(),
            client_msg_id: "m-000123".into(),
            sent_at_ms: 1_790_000_000_000,
            body: Some(event::Body::Message(MessageBody {
                text: "x".repeat(100),
                reply_to_seq: 0,
                ..Default::default()
            })),
        })),
    }
}

fn bench(name: &str, iters: u32, mut f: impl FnMut()) {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let per = start.elapsed() / iters;
    println!(
        "{name:<28} {:>8.0} ns/op {:>12.0} ops/s",
        per.as_nanos() as f64,
        1e9 / per.as_nanos().max(1) as f64
    );
}

fn main() {
    let f = frame();
    let iters = 200_000;
    bench("encode server json", iters, || {
        std::hint::black_box(codec::encode_server(Encoding::Json, &f));
    });
    bench("encode server proto", iters, || {
        std::hint::black_box(codec::encode_server(Encoding::Proto, &f));
    });
    let Encoded::Text(json) = codec::encode_server(Encoding::Json, &f) else {
        unreachable!()
    };
    let Encoded::Binary(bin) = codec::encode_server(Encoding::Proto, &f) else {
        unreachable!()
    };
    bench("decode server json", iters, || {
        std::hint::black_box(codec::decode_server_json(&json).unwrap());
    });
    bench("decode server proto", iters, || {
        std::hint::black_box(codec::decode_server_proto(&bin).unwrap());
    });
}
