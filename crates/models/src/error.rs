//! The one error type of `alumio-models`: what is wrong with an identifier, a timestamp or a
//! body read leniently.

use std::fmt;

/// Which identifier a validation error is about, so messages and API violations can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentifierKind {
    /// A task identifier, the `{identifier}` path parameter.
    Task,
    /// A space identifier, the `space` query parameter.
    Space,
}

impl IdentifierKind {
    /// The name of the API parameter that carries this identifier (`identifier` or `space`).
    pub const fn parameter(self) -> &'static str {
        match self {
            Self::Task => "identifier",
            Self::Space => "space",
        }
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Task => "task identifier",
            Self::Space => "space identifier",
        })
    }
}

/// Everything that can be wrong with a value this crate validates.
///
/// Messages are lowercase, say what is wrong and never echo the offending value, which may be
/// large or hostile; positions are byte offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The identifier is the empty string.
    #[error("{kind} is empty")]
    EmptyIdentifier {
        /// Which identifier.
        kind: IdentifierKind,
    },
    /// The identifier is longer than Alumio accepts.
    #[error("{kind} is {len} bytes long, at most {max} are allowed")]
    IdentifierTooLong {
        /// Which identifier.
        kind: IdentifierKind,
        /// Its length in bytes.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// A task identifier holds a control character (U+0000–U+001F, U+007F–U+009F).
    #[error("{kind} has a control character at byte {position}")]
    ControlCharacter {
        /// Which identifier.
        kind: IdentifierKind,
        /// Byte offset of the character.
        position: usize,
    },
    /// A space identifier holds a character outside `[a-z0-9-]`.
    #[error("{kind} may only hold a-z, 0-9 and '-', found {character:?} at byte {position}")]
    InvalidSpaceCharacter {
        /// Which identifier.
        kind: IdentifierKind,
        /// The first character that is not allowed.
        character: char,
        /// Byte offset of the character.
        position: usize,
    },
    /// A timestamp is not an RFC 3339 date-time.
    #[error("timestamp is not an rfc 3339 date-time: {reason}")]
    InvalidTimestamp {
        /// What part of the timestamp is wrong.
        reason: &'static str,
    },
    /// A body that must be a JSON object is not one (see [`read_status`](crate::read_status)).
    #[error("the body is not a json object: {reason}")]
    NotAnObject {
        /// Whether it is not JSON at all, or JSON of another type.
        reason: &'static str,
    },
}

impl ModelError {
    /// The identifier this error is about, if it is about one.
    pub fn identifier_kind(&self) -> Option<IdentifierKind> {
        match self {
            Self::EmptyIdentifier { kind }
            | Self::IdentifierTooLong { kind, .. }
            | Self::ControlCharacter { kind, .. }
            | Self::InvalidSpaceCharacter { kind, .. } => Some(*kind),
            Self::InvalidTimestamp { .. } | Self::NotAnObject { .. } => None,
        }
    }
}
