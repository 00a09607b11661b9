//! Codec tests: proptest round trips for every record and operation, golden
//! bytes from PROTOCOL.md, and arbitrary input that must never panic.

pub(crate) mod gen;

mod golden;
mod robustness;
mod roundtrip;
