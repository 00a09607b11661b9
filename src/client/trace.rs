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

/// An event at warn level under the `kazoo` target.
#[cfg(feature = "tracing")]
macro_rules! warning {
    ($($args:tt)*) => { tracing::warn!(target: "kazoo", $($args)*) };
}

#[cfg(not(feature = "tracing"))]
macro_rules! warning {
    ($($args:tt)*) => {};
}

pub(crate) use {debug, info, warning};

/// The span a client's events are recorded in: `session`, with the
/// session id and the server. A new one starts at every connection that
/// succeeds (fields are set once: a subscriber that appends re-recorded
/// fields would otherwise grow one span without end over a long outage);
/// before the first, it has neither. Every driver call and request runs
/// inside the current one, on every adapter's threads or tasks alike.
#[derive(Debug, Clone)]
pub(crate) struct SessionSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// Leaves the span when dropped.
pub(crate) struct Entered<'a> {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::Entered<'a>,
    #[cfg(not(feature = "tracing"))]
    _span: std::marker::PhantomData<&'a ()>,
}

impl SessionSpan {
    /// Before the first connection.
    pub(crate) fn new() -> SessionSpan {
        SessionSpan {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                target: "kazoo",
                "session",
                session_id = tracing::field::Empty,
                host = tracing::field::Empty,
            ),
        }
    }

    /// Connected to `host` in session `session_id`.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn connected(
        session_id: i64,
        host: Option<&crate::session::HostPort>,
    ) -> SessionSpan {
        SessionSpan {
            #[cfg(feature = "tracing")]
            span: match host {
                Some(host) => tracing::info_span!(
                    target: "kazoo",
                    "session",
                    session_id = format_args!("{session_id:#x}"),
                    host = %host,
                ),
                None => tracing::info_span!(
                    target: "kazoo",
                    "session",
                    session_id = format_args!("{session_id:#x}"),
                ),
            },
        }
    }

    pub(crate) fn enter(&self) -> Entered<'_> {
        Entered {
            #[cfg(feature = "tracing")]
            _entered: self.span.enter(),
            #[cfg(not(feature = "tracing"))]
            _span: std::marker::PhantomData,
        }
    }
}
