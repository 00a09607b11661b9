//! Hostile and arbitrary input: typed errors, never a panic, never an
//! allocation the input did not pay for; frames independent of how the
//! bytes were split.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use crate::proto::jute::{Reader, Record};
use crate::proto::*;

/// Every decoder a client or server runs on received bytes.
fn decode_everything(bytes: &Bytes) {
    for &op in OpCode::ALL {
        let _ = Response::decode(op, bytes.clone());
        let _ = Request::decode_body(op, &mut Reader::new(bytes.clone()));
    }
    let _ = HandshakeReply::decode(bytes.clone());
    let _ = ConnectRequest::decode_from(bytes.clone());
    let _ = ReplyHeader::decode_from(bytes.clone());
    let _ = WatcherEvent::decode_from(bytes.clone());
    let _ = MultiResponse::decode_from(bytes.clone());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_everything(&Bytes::from(bytes));
    }

    #[test]
    fn truncated_valid_replies_never_panic((op, body) in valid_reply_bodies(), cut in any::<prop::sample::Index>()) {
        let at = cut.index(body.len() + 1);
        let _ = Response::decode(op, body.slice(..at));
    }

    #[test]
    fn arbitrary_bytes_into_the_frame_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512), max in 0usize..128) {
        let mut d = FrameDecoder::new(max);
        d.push(&bytes);
        loop {
            match d.next_frame() {
                Ok(Some(frame)) => prop_assert!(frame.len() <= max),
                Ok(None) => break,
                Err(DecodeError::FrameTooLarge { len, max: m }) => {
                    prop_assert!(len > m);
                    break;
                }
                Err(DecodeError::NegativeFrameLength(n)) => {
                    prop_assert!(n < 0);
                    break;
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
        prop_assert!(d.buffered() <= bytes.len());
    }

    #[test]
    fn frames_do_not_depend_on_how_bytes_are_split(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut stream = BytesMut::new();
        for p in &payloads {
            encode_frame(&mut stream, |o| o.put_slice(p));
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.push(0);
        points.push(stream.len());
        points.sort_unstable();
        let mut d = FrameDecoder::default();
        let mut got = Vec::new();
        for w in points.windows(2) {
            d.push(&stream[w[0]..w[1]]);
            while let Some(f) = d.next_frame()? {
                got.push(f.to_vec());
            }
        }
        prop_assert_eq!(got, payloads);
        prop_assert_eq!(d.buffered(), 0);
    }
}

/// Valid reply bodies for opcodes whose records hold lengths and counts.
fn valid_reply_bodies() -> impl Strategy<Value = (OpCode, Bytes)> {
    use super::gen::Gen;
    prop_oneof![
        MultiResponse::gen().prop_map(|m| (OpCode::Multi, m.to_bytes())),
        GetAclResponse::gen().prop_map(|m| (OpCode::GetAcl, m.to_bytes())),
        GetChildren2Response::gen().prop_map(|m| (OpCode::GetChildren2, m.to_bytes())),
        WhoAmIResponse::gen().prop_map(|m| (OpCode::WhoAmI, m.to_bytes())),
    ]
}

#[test]
fn huge_vector_count_is_refused_before_allocating() {
    // getChildren reply claiming 2^31-1 children in 8 bytes.
    let body = Bytes::from_static(b"\x7f\xff\xff\xff\x00\x00\x00\x00");
    assert_eq!(
        Response::decode(OpCode::GetChildren, body),
        Err(DecodeError::CountTooLarge {
            count: 0x7fff_ffff,
            remaining: 4
        })
    );
}

#[test]
fn huge_buffer_length_is_truncation_not_allocation() {
    let body = Bytes::from_static(b"\x7f\xff\xff\xff\x00");
    assert_eq!(
        Response::decode(OpCode::GetData, body),
        Err(DecodeError::Truncated {
            needed: 0x7fff_ffff,
            remaining: 1
        })
    );
}

#[test]
fn negative_lengths_other_than_null_are_errors() {
    for raw in [-2i32, i32::MIN] {
        let mut body = BytesMut::new();
        body.put_i32(raw);
        assert_eq!(
            Response::decode(OpCode::Sync, body.freeze()),
            Err(DecodeError::NegativeLength(raw))
        );
    }
    // -1 is null: an empty path, an empty child list.
    let null = Bytes::from_static(b"\xff\xff\xff\xff");
    assert_eq!(
        Response::decode(OpCode::GetChildren, null.clone()).unwrap(),
        Response::GetChildren(GetChildrenResponse { children: vec![] })
    );
    assert_eq!(
        Response::decode(OpCode::Sync, null).unwrap(),
        Response::Sync(SyncResponse {
            path: String::new()
        })
    );
}

#[test]
fn invalid_utf8_path_is_an_error() {
    let body = Bytes::from_static(b"\x00\x00\x00\x02\xff\xfe");
    assert_eq!(
        Response::decode(OpCode::Create, body),
        Err(DecodeError::InvalidUtf8)
    );
}

#[test]
fn oversized_and_negative_frame_lengths() {
    let mut d = FrameDecoder::new(1024);
    d.push(&[0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(
        d.next_frame(),
        Err(DecodeError::FrameTooLarge {
            len: 0x7fff_ffff,
            max: 1024
        })
    );
    assert!(d.buffered() == 4, "nothing reserved for the claimed length");

    let mut d = FrameDecoder::default();
    d.push(&[0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(d.next_frame(), Err(DecodeError::NegativeFrameLength(-2)));
    d.reset();
    assert_eq!(d.buffered(), 0);
}

#[test]
fn default_frame_limit_fits_a_1mb_get_data_reply() {
    // §0.10: a reply for ~1 MB of data was 1,048,588 bytes, over jute.maxbuffer.
    const { assert!(DEFAULT_MAX_FRAME_LEN > 1_048_588) };
}

#[test]
fn unknown_multi_entry_type_is_typed() {
    let body = Bytes::from_static(b"\x00\x00\x00\x63\x00\x00\x00\x00\x00");
    assert_eq!(
        Response::decode(OpCode::Multi, body),
        Err(DecodeError::UnexpectedMultiType(0x63))
    );
    // A sync result cannot appear in a multi either.
    let body = Bytes::from_static(b"\x00\x00\x00\x09\x00\x00\x00\x00\x00");
    assert_eq!(
        Response::decode(OpCode::Multi, body),
        Err(DecodeError::UnexpectedMultiType(9))
    );
}
