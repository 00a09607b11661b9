//! A request body for the opcode chosen by the first byte, as a server would
//! decode it: if it decodes, its encoding decodes back to the same request.
#![no_main]

use bytes::{Bytes, BytesMut};
use kazoo::proto::jute::{Reader, Record};
use kazoo::proto::{encode_request, OpCode, Request, RequestHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let op = OpCode::ALL[usize::from(pick) % OpCode::ALL.len()];
    let Ok(req) = Request::decode_body(op, &mut Reader::new(Bytes::copy_from_slice(body))) else {
        return;
    };
    assert_eq!(req.op_code(), op);
    let mut out = BytesMut::new();
    encode_request(&mut out, 9, &req, usize::MAX).unwrap();
    let mut r = Reader::new(out.freeze().slice(4..));
    let header = RequestHeader::decode(&mut r).unwrap();
    assert_eq!(header.xid, 9);
    let again = Request::decode_body(OpCode::from_i32(header.op).unwrap(), &mut r).unwrap();
    assert_eq!(again, req);
    assert_eq!(r.remaining(), 0);
});
