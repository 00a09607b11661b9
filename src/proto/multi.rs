//! multi (14) and multiRead (22): a list of sub-operations or results, each
//! behind a [`MultiHeader`], ended by [`MultiHeader::END`] (PROTOCOL.md §6).

use bytes::BytesMut;

use super::jute::{Reader, Record};
use super::opcode::op_union;
use super::records::*;
use super::{DecodeError, MultiHeader, OpCode, Stat};

op_union! {
    /// One write inside a transaction (multi, opcode 14).
    pub enum MultiOp {
        /// Create, result carries the path.
        Create(CreateRequest) = Create,
        /// Create, result carries path and Stat (3.8.0 answers as plain create, §0.9).
        Create2(CreateRequest) = Create2,
        /// Create a container node.
        CreateContainer(CreateRequest) = CreateContainer,
        /// Create a TTL node.
        CreateTtl(CreateTtlRequest) = CreateTtl,
        /// Delete with an expected version.
        Delete(DeleteRequest) = Delete,
        /// Set data with an expected version.
        SetData(SetDataRequest) = SetData,
        /// Fail the transaction unless the version matches.
        Check(CheckVersionRequest) = Check,
    }
    bodiless {}
}

op_union! {
    /// One read inside a multiRead (opcode 22); the watch flag is ignored by the server.
    pub enum ReadOp {
        /// Read data and Stat.
        GetData(GetDataRequest) = GetData,
        /// List children.
        GetChildren(GetChildrenRequest) = GetChildren,
    }
    bodiless {}
}

op_union! {
    /// One entry of a multi or multiRead response.
    pub enum MultiResult {
        /// A create answered with the path only.
        Create(CreateResponse) = Create,
        /// A create answered with path and Stat.
        Create2(Create2Response) = Create2,
        /// The new Stat after setData.
        SetData(Stat) = SetData,
        /// A getData in a multiRead.
        GetData(GetDataResponse) = GetData,
        /// A getChildren in a multiRead.
        GetChildren(GetChildrenResponse) = GetChildren,
        /// A failed (or rolled back) entry: 0 before the failing op, its code, -2 after it.
        Error(ErrorResponse) = Error,
    }
    bodiless {
        /// A delete succeeded.
        Delete = Delete,
        /// A check succeeded.
        Check = Check,
    }
}

impl MultiResult {
    /// The error code of an error entry, `None` for a success.
    pub fn error_code(&self) -> Option<i32> {
        match self {
            MultiResult::Error(e) => Some(e.err),
            _ => None,
        }
    }
}

macro_rules! multi_record {
    ($(#[$m:meta])* $name:ident, $field:ident: $entry:ty) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// The entries, in order.
            pub $field: Vec<$entry>,
        }

        impl Record for $name {
            const MIN_LEN: usize = 9;
            fn encode(&self, out: &mut BytesMut) {
                for entry in &self.$field {
                    let err = EntryErr::err(entry);
                    MultiHeader { op: entry.op_code().as_i32(), done: false, err }.encode(out);
                    entry.encode_body(out);
                }
                MultiHeader::END.encode(out);
            }
            fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
                let mut $field = Vec::new();
                loop {
                    // Each header takes 9 bytes, so this ends with the input at the latest.
                    let header = MultiHeader::decode(r)?;
                    if header.done {
                        return Ok(Self { $field });
                    }
                    let op = OpCode::from_i32(header.op)
                        .map_err(|_| DecodeError::UnexpectedMultiType(header.op))?;
                    let entry = <$entry>::decode_body(op, r).map_err(|e| match e {
                        DecodeError::UnexpectedOpCode(_) => DecodeError::UnexpectedMultiType(header.op),
                        other => other,
                    })?;
                    $field.push(entry);
                }
            }
        }

        #[cfg(test)]
        impl crate::proto::tests::gen::Gen for $name {
            fn gen() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::prelude::*;
                proptest::collection::vec(<$entry as crate::proto::tests::gen::Gen>::gen(), 0..6)
                    .prop_map(|$field| Self { $field })
                    .boxed()
            }
        }
    };
}

/// Requests carry err -1 in every header; results carry their code (0 on success).
trait EntryErr {
    fn err(&self) -> i32;
}
impl EntryErr for MultiOp {
    fn err(&self) -> i32 {
        -1
    }
}
impl EntryErr for ReadOp {
    fn err(&self) -> i32 {
        -1
    }
}
impl EntryErr for MultiResult {
    fn err(&self) -> i32 {
        self.error_code().unwrap_or(0)
    }
}

multi_record!(
    /// The body of a multi (14) request.
    MultiRequest, ops: MultiOp
);
multi_record!(
    /// The body of a multiRead (22) request.
    MultiReadRequest, ops: ReadOp
);
multi_record!(
    /// The body of a multi or multiRead response.
    MultiResponse, results: MultiResult
);
