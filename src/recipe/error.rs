//! What a recipe refuses or reports, as typed values.

/// A recipe's own failure ([`Error::Recipe`](crate::Error::Recipe)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecipeError {
    /// An identifier that cannot be stored or named safely (empty where a
    /// name is needed, or containing `/` or NUL).
    #[error("invalid identifier {0:?}: no '/' or NUL allowed")]
    InvalidIdentifier(String),
    /// A count or duration outside what the recipe accepts.
    #[error("{what}: {reason}")]
    OutOfRange {
        /// The argument.
        what: &'static str,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The recipe's path is an ephemeral node, which cannot have children.
    #[error("{0} is an ephemeral node: a recipe cannot keep its nodes under it")]
    EphemeralParent(String),
    /// A semaphore's stored `max_leases` differs from the one asked for
    /// (kazoo raises ValueError).
    #[error("semaphore holds max_leases {stored}, asked for {asked}")]
    MaxLeasesMismatch {
        /// What the semaphore node says.
        stored: i64,
        /// What this caller asked for.
        asked: u32,
    },
    /// A lease node's data is not kazoo's lease JSON.
    #[error("lease data is not kazoo's lease record: {0}")]
    BadLeaseData(&'static str),
    /// A node the recipe created has a name it cannot parse (a sequence
    /// suffix that is not the server's).
    #[error("unexpected contender node name {0:?}")]
    BadNodeName(String),
    /// A counter node holds bytes that are not a number in the counter's
    /// encoding (written by someone else).
    #[error("{0} does not hold a number in the counter's encoding")]
    BadCounterData(String),
    /// The node's 32-bit version has wrapped to -1, where a versioned
    /// write is unconditional (ZOOKEEPER-4743): refused so that no update
    /// is lost. Recreate the node (or write it once more) to go on.
    #[error("{0} has version -1 (wrapped): a conditional write is impossible")]
    VersionWrapped(String),
    /// A write's reply was lost and the node cannot tell whether it was
    /// applied (a counter's add: it may have counted once, or not at
    /// all; retrying could count twice).
    #[error("{0}: the write may or may not have been applied (its reply was lost)")]
    UnknownOutcome(String),
    /// The lock (or lease, or leadership) was lost while held: the
    /// session ended or was replaced, or the own node was deleted. Work
    /// done since may not have been exclusive.
    #[error("the lock was lost while held")]
    Lost,
}

impl RecipeError {
    /// The variant's name, without its details (see [`Error::name`](crate::Error::name)).
    pub fn name(&self) -> &'static str {
        match self {
            RecipeError::InvalidIdentifier(_) => "InvalidIdentifier",
            RecipeError::OutOfRange { .. } => "OutOfRange",
            RecipeError::EphemeralParent(_) => "EphemeralParent",
            RecipeError::MaxLeasesMismatch { .. } => "MaxLeasesMismatch",
            RecipeError::BadLeaseData(_) => "BadLeaseData",
            RecipeError::BadNodeName(_) => "BadNodeName",
            RecipeError::BadCounterData(_) => "BadCounterData",
            RecipeError::VersionWrapped(_) => "VersionWrapped",
            RecipeError::UnknownOutcome(_) => "UnknownOutcome",
            RecipeError::Lost => "Lost",
        }
    }
}

/// Checks an identifier given to a recipe (stored as node data or used in
/// a node name).
pub(crate) fn check_identifier(id: &str) -> Result<(), RecipeError> {
    if id.contains('/') || id.contains('\0') {
        return Err(RecipeError::InvalidIdentifier(id.to_owned()));
    }
    Ok(())
}
