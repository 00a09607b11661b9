//! encode → decode → equal, for every record, request and response.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::select;

use super::gen::Gen;
use crate::acl::{Acl, Id, Perms};
use crate::proto::jute::{Reader, Record};
use crate::proto::*;

fn round_trip<T: Record + Gen + PartialEq + 'static>() {
    proptest!(|(value in T::gen())| {
        let bytes = value.to_bytes();
        prop_assert!(bytes.len() >= T::MIN_LEN, "MIN_LEN {} > {} for {:?}", T::MIN_LEN, bytes.len(), value);
        let mut r = Reader::new(bytes);
        prop_assert_eq!(&T::decode(&mut r)?, &value);
        prop_assert_eq!(r.remaining(), 0);
    });
}

macro_rules! round_trips {
    ($($name:ident: $ty:ty,)*) => {$(
        #[test]
        fn $name() {
            round_trip::<$ty>();
        }
    )*};
}

round_trips! {
    request_header: RequestHeader,
    reply_header: ReplyHeader,
    multi_header: MultiHeader,
    stat: Stat,
    perms: Perms,
    id: Id,
    acl: Acl,
    connect_request: ConnectRequest,
    connect_response: ConnectResponse,
    create_request: CreateRequest,
    create_ttl_request: CreateTtlRequest,
    path_record: PathRecord,
    create2_response: Create2Response,
    path_version: PathVersion,
    path_watch: PathWatch,
    get_data_response: GetDataResponse,
    set_data_request: SetDataRequest,
    get_acl_response: GetAclResponse,
    set_acl_request: SetAclRequest,
    children_response: ChildrenResponse,
    get_children2_response: GetChildren2Response,
    reconfig_request: ReconfigRequest,
    watches_request: WatchesRequest,
    add_watch_request: AddWatchRequest,
    set_watches: SetWatches,
    set_watches2: SetWatches2,
    auth_packet: AuthPacket,
    sasl_packet: SaslPacket,
    all_children_number: GetAllChildrenNumberResponse,
    client_info: ClientInfo,
    who_am_i_response: WhoAmIResponse,
    error_response: ErrorResponse,
    watcher_event: WatcherEvent,
    multi_request: MultiRequest,
    multi_read_request: MultiReadRequest,
    multi_response: MultiResponse,
    create_mode: CreateMode,
    add_watch_mode: AddWatchMode,
    watcher_type: WatcherType,
    event_type: EventType,
    keeper_state: KeeperState,
}

/// Reads back one request frame the way a server does.
fn decode_request_frame(frame: Bytes) -> Result<(i32, Request), DecodeError> {
    let mut r = Reader::new(frame);
    let header = RequestHeader::decode(&mut r)?;
    let op = OpCode::from_i32(header.op)?;
    Ok((header.xid, Request::decode_body(op, &mut r)?))
}

proptest! {
    #[test]
    fn every_request_round_trips_through_a_frame(req in Request::gen(), xid in any::<i32>()) {
        let mut out = BytesMut::new();
        let len = encode_request(&mut out, xid, &req, usize::MAX).unwrap();
        prop_assert_eq!(out.len(), len + 4);
        let mut frames = FrameDecoder::new(usize::MAX);
        frames.push(&out);
        let frame = frames.next_frame()?.unwrap();
        prop_assert_eq!(decode_request_frame(frame)?, (xid, req));
        prop_assert_eq!(frames.buffered(), 0);
    }

    #[test]
    fn every_response_round_trips((op, resp) in response_with_op()) {
        let mut out = BytesMut::new();
        resp.encode(&mut out);
        prop_assert_eq!(Response::decode(op, out.freeze())?, resp);
    }

    #[test]
    fn oversized_requests_write_nothing(req in Request::gen(), max in 0usize..64) {
        let mut out = BytesMut::from(&b"kept"[..]);
        match encode_request(&mut out, 1, &req, max) {
            Ok(len) => prop_assert!(len <= max),
            Err(e) => {
                prop_assert_eq!(&out[..], b"kept");
                prop_assert!(e.len > max);
            }
        }
    }
}

/// A response and an opcode whose reply carries it.
fn response_with_op() -> impl Strategy<Value = (OpCode, Response)> {
    use OpCode::*;
    fn ops(list: &'static [OpCode]) -> impl Strategy<Value = OpCode> {
        select(list)
    }
    prop_oneof![
        ops(&[
            Delete,
            Ping,
            Check,
            CheckWatches,
            RemoveWatches,
            Auth,
            SetWatches,
            SetWatches2,
            CloseSession
        ])
        .prop_map(|op| (op, Response::Empty)),
        CreateResponse::gen().prop_map(|b| (Create, Response::Create(b))),
        (
            ops(&[Create2, CreateContainer, CreateTtl]),
            Create2Response::gen()
        )
            .prop_map(|(op, b)| (op, Response::Create2(b))),
        (ops(&[Exists, SetData, SetAcl]), Stat::gen()).prop_map(|(op, b)| (op, Response::Stat(b))),
        (ops(&[GetData, Reconfig]), GetDataResponse::gen())
            .prop_map(|(op, b)| (op, Response::GetData(b))),
        GetAclResponse::gen().prop_map(|b| (GetAcl, Response::GetAcl(b))),
        GetChildrenResponse::gen().prop_map(|b| (GetChildren, Response::GetChildren(b))),
        GetChildren2Response::gen().prop_map(|b| (GetChildren2, Response::GetChildren2(b))),
        SyncResponse::gen().prop_map(|b| (Sync, Response::Sync(b))),
        (ops(&[Multi, MultiRead]), MultiResponse::gen())
            .prop_map(|(op, b)| (op, Response::Multi(b))),
        SaslPacket::gen().prop_map(|b| (Sasl, Response::Sasl(b))),
        GetEphemeralsResponse::gen().prop_map(|b| (GetEphemerals, Response::GetEphemerals(b))),
        GetAllChildrenNumberResponse::gen()
            .prop_map(|b| (GetAllChildrenNumber, Response::GetAllChildrenNumber(b))),
        ErrorResponse::gen().prop_map(|b| (AddWatch, Response::AddWatch(b))),
        WhoAmIResponse::gen().prop_map(|b| (WhoAmI, Response::WhoAmI(b))),
    ]
}

#[test]
fn every_client_opcode_has_a_response_decoder() {
    // Replies to everything a client may send decode from an empty or minimal body.
    let sendable = OpCode::ALL.iter().filter(|op| {
        !matches!(
            op,
            OpCode::Notification | OpCode::DeleteContainer | OpCode::CreateSession | OpCode::Error
        )
    });
    for &op in sendable {
        let err = Response::decode(op, Bytes::new()).err();
        assert!(
            !matches!(err, Some(DecodeError::UnexpectedOpCode(_))),
            "{op:?} has no response decoder"
        );
    }
}

#[test]
fn well_known_values_round_trip_ids() {
    let acl = vec![Acl::new(Perms::ALL, Id::digest("bob", "secret"))];
    assert_eq!(Vec::<Acl>::decode_from(acl.to_bytes()).unwrap(), acl);
}
