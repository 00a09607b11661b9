//! What the client layer tells `tracing` (feature `tracing`, on by
//! default): state changes, connection attempts and their ends. The
//! session core logs nothing; everything here comes from the events it
//! returns. No field carries a secret: hosts, states and reasons only.
//!
//! Without the feature the macros expand to nothing.

/// An event at info level under the `kazoo` target.
#[cfg(feature = "tracing")]
macro_rules! info {
    ($($args:tt)*) => { tracing::info!(target: "kazoo", $($args)*) };
}

/// An event at debug level under the `kazoo` target.
#[cfg(feature = "tracing")]
macro_rules! debug {
    ($($args:tt)*) => { tracing::debug!(target: "kazoo", $($args)*) };
}

#[cfg(not(feature = "tracing"))]
macro_rules! info {
    ($($args:tt)*) => {};
}

#[cfg(not(feature = "tracing"))]
macro_rules! debug {
    ($($args:tt)*) => {};
}

pub(crate) use {debug, info};
