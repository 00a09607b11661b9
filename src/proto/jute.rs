//! Jute, ZooKeeper's binary record format: big-endian integers, length-prefixed
//! buffers and strings (`-1` = null), counted vectors, records as fields in order.
//!
//! Decoding reads from a [`Reader`] over a received frame; buffers come out as
//! zero-copy [`Bytes`] slices of it. Every length and count is checked against
//! the bytes that are actually left, so hostile input can neither panic nor make
//! the decoder allocate more than a small multiple of its own size.

use std::borrow::Cow;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::DecodeError;

/// A cursor over one received frame payload.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread rest of the payload.
    pub fn into_rest(self) -> Bytes {
        self.buf
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            Err(DecodeError::Truncated {
                needed: n,
                remaining: self.buf.len(),
            })
        } else {
            Ok(())
        }
    }

    /// Reads a jute `int`.
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    /// Reads a jute `long`.
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        self.need(8)?;
        Ok(self.buf.get_i64())
    }

    /// Reads a jute `boolean`: any non-zero byte is true, as the Java reader does.
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_u8() != 0)
    }

    /// Reads a length prefix: `None` for the null marker `-1`.
    fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        match self.read_i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::NegativeLength(n)),
            // Non-negative i32 always fits in usize on the platforms we build for.
            n => Ok(Some(n as usize)),
        }
    }

    /// Reads a jute `buffer` as a zero-copy slice: `None` if the peer sent null.
    pub fn read_buffer(&mut self) -> Result<Option<Bytes>, DecodeError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => {
                self.need(n)?;
                Ok(Some(self.buf.split_to(n)))
            }
        }
    }

    /// Reads a jute `ustring`; null reads as the empty string.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        let bytes = self.read_buffer()?.unwrap_or_default();
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Reads a jute `vector<T>`; null reads as empty.
    ///
    /// The count is checked against the bytes left (each element takes at
    /// least `T::MIN_LEN` bytes) before anything is allocated.
    pub fn read_vec<T: Record>(&mut self) -> Result<Vec<T>, DecodeError> {
        let Some(count) = self.read_len()? else {
            return Ok(Vec::new());
        };
        let fits = self.buf.len() / T::MIN_LEN.max(1);
        if count > fits {
            return Err(DecodeError::CountTooLarge {
                count,
                remaining: self.buf.len(),
            });
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::decode(self)?);
        }
        Ok(items)
    }
}

/// A jute record (or field): encodes into a caller's buffer, decodes from a [`Reader`].
pub trait Record: Sized {
    /// The fewest bytes one encoded value can take; bounds vector allocation.
    const MIN_LEN: usize;

    /// Appends the encoded value to `out`.
    fn encode(&self, out: &mut BytesMut);

    /// Reads one value.
    fn decode(r: &mut Reader) -> Result<Self, DecodeError>;

    /// Decodes a whole payload; bytes left after the record are ignored, as
    /// the Java client ignores them (newer servers may append fields).
    fn decode_from(payload: Bytes) -> Result<Self, DecodeError> {
        Self::decode(&mut Reader::new(payload))
    }

    /// Encodes into a fresh buffer (tests, benchmarks, small messages).
    fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

/// Appends a jute `buffer` (`None` is written as null, length -1).
pub fn put_buffer(out: &mut BytesMut, data: Option<&[u8]>) {
    match data {
        None => out.put_i32(-1),
        Some(d) => {
            out.put_i32(len_i32(d.len()));
            out.put_slice(d);
        }
    }
}

/// Appends a jute `ustring`.
pub fn put_str(out: &mut BytesMut, s: &str) {
    put_buffer(out, Some(s.as_bytes()));
}

/// Appends a jute `vector<T>`.
pub fn put_vec<T: Record>(out: &mut BytesMut, items: &[T]) {
    out.put_i32(len_i32(items.len()));
    for item in items {
        item.encode(out);
    }
}

/// Jute lengths are `int`s. Anything larger can never be sent (the server's
/// limit is about 1 MiB), so saturate and let the frame size check reject it.
fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Record for i32 {
    const MIN_LEN: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(*self);
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i32()
    }
}

impl Record for i64 {
    const MIN_LEN: usize = 8;
    fn encode(&self, out: &mut BytesMut) {
        out.put_i64(*self);
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i64()
    }
}

impl Record for bool {
    const MIN_LEN: usize = 1;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(*self));
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_bool()
    }
}

impl Record for String {
    const MIN_LEN: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        put_str(out, self);
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_string()
    }
}

impl Record for Cow<'static, str> {
    const MIN_LEN: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        put_str(out, self);
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_string().map(Cow::Owned)
    }
}

/// A buffer that is never null on the wire we send (passwords, tokens);
/// a received null reads as empty.
impl Record for Bytes {
    const MIN_LEN: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        put_buffer(out, Some(self));
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?.unwrap_or_default())
    }
}

/// A credential or password: a buffer whose `Debug` is redacted.
impl Record for crate::Secret {
    const MIN_LEN: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        put_buffer(out, Some(self.expose()));
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?.unwrap_or_default().into())
    }
}

/// A buffer that may be null: znode data (`create` with null data is legal).
impl Record for Option<Bytes> {
    const MIN_LEN: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        put_buffer(out, self.as_deref());
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_buffer()
    }
}

impl<T: Record> Record for Vec<T> {
    const MIN_LEN: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        put_vec(out, self);
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_vec()
    }
}

/// Declares jute records: a struct whose fields are encoded in declaration
/// order, plus its [`Record`] impl (and a proptest generator in tests).
macro_rules! records {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::proto::jute::Record for $name {
            const MIN_LEN: usize = 0 $( + <$ty as $crate::proto::jute::Record>::MIN_LEN )*;
            fn encode(&self, out: &mut ::bytes::BytesMut) {
                $( $crate::proto::jute::Record::encode(&self.$field, out); )*
            }
            fn decode(r: &mut $crate::proto::jute::Reader) -> Result<Self, $crate::proto::DecodeError> {
                Ok(Self { $( $field: $crate::proto::jute::Record::decode(r)?, )* })
            }
        }

        #[cfg(test)]
        impl $crate::proto::tests::gen::Gen for $name {
            fn gen() -> ::proptest::strategy::BoxedStrategy<Self> {
                use ::proptest::strategy::Strategy;
                ( $( <$ty as $crate::proto::tests::gen::Gen>::gen(), )* )
                    .prop_map(|( $($field,)* )| Self { $($field),* })
                    .boxed()
            }
        }
    )*};
}
pub(crate) use records;

/// Declares a closed `int` enum as a [`Record`]: an unknown value is the
/// given [`DecodeError`] variant.
macro_rules! int_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident / $err:ident {
            $( $(#[$vm:meta])* $variant:ident = $value:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vm])* $variant = $value, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The wire value.
            pub fn as_i32(self) -> i32 {
                self as i32
            }

            /// The variant for a wire value.
            pub fn from_i32(value: i32) -> Result<Self, $crate::proto::DecodeError> {
                match value {
                    $( $value => Ok($name::$variant), )*
                    other => Err($crate::proto::DecodeError::$err(other)),
                }
            }
        }

        impl $crate::proto::jute::Record for $name {
            const MIN_LEN: usize = 4;
            fn encode(&self, out: &mut ::bytes::BytesMut) {
                ::bytes::BufMut::put_i32(out, self.as_i32());
            }
            fn decode(r: &mut $crate::proto::jute::Reader) -> Result<Self, $crate::proto::DecodeError> {
                Self::from_i32(r.read_i32()?)
            }
        }

        #[cfg(test)]
        impl $crate::proto::tests::gen::Gen for $name {
            fn gen() -> ::proptest::strategy::BoxedStrategy<Self> {
                use ::proptest::strategy::Strategy;
                ::proptest::sample::select($name::ALL).boxed()
            }
        }
    };
}
pub(crate) use int_enum;
