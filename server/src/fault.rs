//! Fault injection: what a test or the simulation can make the server do
//! that a healthy server never does on demand.
//!
//! Every fault is a method on [`Server`](crate::Server) (and on
//! [`EmbeddedServer`](crate::EmbeddedServer)); one aimed at a session or
//! node that does not exist is a [`FaultError`], never a panic.

use std::fmt;

use kazoo::proto::Request;

/// Which requests a fault applies to.
pub type RequestFilter = Box<dyn FnMut(&Request) -> bool + Send>;

/// A fault aimed at something that is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultError {
    /// No live session has this id.
    NoSession(i64),
    /// The session lives but has no open connection.
    NotConnected(i64),
    /// No node at this path.
    NoNode(String),
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::NoSession(id) => write!(f, "no live session {id:#x}"),
            FaultError::NotConnected(id) => write!(f, "session {id:#x} has no open connection"),
            FaultError::NoNode(path) => write!(f, "no node {path}"),
        }
    }
}

impl std::error::Error for FaultError {}
