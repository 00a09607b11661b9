//! What a short read tells an event loop built on mio (kazoo-mio, and
//! kazoo-tokio through tokio).

/// True where mio's selector is edge-triggered (epoll, kqueue): a read
/// that returns less than the buffer's room has drained the socket, and
/// data arriving later raises a new readiness event, so the loop can stop
/// reading without the read that would only find `WouldBlock` (tokio's
/// own reads rely on the same). False for level-triggered `poll(2)` and
/// Windows, and when mio is built with its `mio_unsupported_force_poll_poll`
/// cfg, which re-arms a socket only after `WouldBlock`.
///
/// A close reported with the event is still read to its end: no later
/// event announces it.
pub const SHORT_READ_DRAINS: bool = cfg!(all(
    not(mio_unsupported_force_poll_poll),
    any(
        target_os = "android",
        target_os = "illumos",
        target_os = "linux",
        target_os = "redox",
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "ios",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "tvos",
        target_os = "visionos",
        target_os = "watchos",
    )
));
