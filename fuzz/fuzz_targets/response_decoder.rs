//! A reply body for the opcode chosen by the first byte: a value or a typed
//! error, never a panic. Also the handshake and notification decoders.
#![no_main]

use bytes::Bytes;
use kazoo::proto::jute::Record;
use kazoo::proto::{HandshakeReply, OpCode, ReplyHeader, Response, WatcherEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let op = OpCode::ALL[usize::from(pick) % OpCode::ALL.len()];
    let body = Bytes::copy_from_slice(body);
    if let Ok(resp) = Response::decode(op, body.clone()) {
        // Whatever decodes re-encodes to something that decodes the same.
        let mut out = bytes::BytesMut::new();
        resp.encode(&mut out);
        assert_eq!(Response::decode(op, out.freeze()).as_ref(), Ok(&resp));
    }
    let _ = HandshakeReply::decode(body.clone());
    let _ = ReplyHeader::decode_from(body.clone());
    let _ = WatcherEvent::decode_from(body);
});
