//! Proptest generators for every wire type (the `records!` and `op_union!`
//! macros implement [`Gen`] for what they declare).

use std::borrow::Cow;

use bytes::Bytes;
use proptest::prelude::*;

/// A strategy producing any value of the type that the codec must round-trip.
pub(crate) trait Gen: Sized + std::fmt::Debug {
    fn gen() -> BoxedStrategy<Self>;
}

impl Gen for i32 {
    fn gen() -> BoxedStrategy<Self> {
        any::<i32>().boxed()
    }
}

impl Gen for i64 {
    fn gen() -> BoxedStrategy<Self> {
        any::<i64>().boxed()
    }
}

impl Gen for bool {
    fn gen() -> BoxedStrategy<Self> {
        any::<bool>().boxed()
    }
}

impl Gen for String {
    fn gen() -> BoxedStrategy<Self> {
        prop_oneof!["(/[a-z0-9_-]{1,6}){0,4}", any::<String>(),].boxed()
    }
}

impl Gen for Cow<'static, str> {
    fn gen() -> BoxedStrategy<Self> {
        String::gen().prop_map(Cow::Owned).boxed()
    }
}

impl Gen for crate::Secret {
    fn gen() -> BoxedStrategy<Self> {
        Bytes::gen().prop_map(crate::Secret::from).boxed()
    }
}

impl Gen for Bytes {
    fn gen() -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..48)
            .prop_map(Bytes::from)
            .boxed()
    }
}

impl Gen for Option<Bytes> {
    fn gen() -> BoxedStrategy<Self> {
        proptest::option::of(Bytes::gen()).boxed()
    }
}

impl<T: Gen + 'static> Gen for Vec<T> {
    fn gen() -> BoxedStrategy<Self> {
        proptest::collection::vec(T::gen(), 0..5).boxed()
    }
}
