//! Validated task and space identifiers, the only two values a request may carry to Alumio.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{IdentifierKind, ModelError};

/// The longest identifier, in bytes, that either type accepts.
pub const MAX_IDENTIFIER_LEN: usize = 255;

/// A task identifier: non-empty, at most 255 bytes, no control characters.
///
/// Any other character is allowed, including `/`, `%`, `?`, `#`, `..` and non-ASCII text: the
/// transport sends it as one percent-encoded path segment, so none of them can change the URL.
///
/// ```
/// use alumio_models::TaskIdentifier;
///
/// let id: TaskIdentifier = "01HV3K5Q8Z".parse()?;
/// assert_eq!(id.as_str(), "01HV3K5Q8Z");
/// assert!("".parse::<TaskIdentifier>().is_err());
/// assert!("bad\nid".parse::<TaskIdentifier>().is_err());
/// # Ok::<(), alumio_models::ModelError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskIdentifier(Box<str>);

/// A space identifier, following Alumio's own rule `^[a-z0-9-]+$`, at most 255 bytes.
///
/// ```
/// use alumio_models::SpaceIdentifier;
///
/// let space: SpaceIdentifier = "acme-prod".parse()?;
/// assert_eq!(space.as_str(), "acme-prod");
/// assert!("Acme".parse::<SpaceIdentifier>().is_err());
/// # Ok::<(), alumio_models::ModelError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpaceIdentifier(Box<str>);

fn check_length(kind: IdentifierKind, value: &str) -> Result<(), ModelError> {
    match value.len() {
        0 => Err(ModelError::EmptyIdentifier { kind }),
        len if len > MAX_IDENTIFIER_LEN => Err(ModelError::IdentifierTooLong {
            kind,
            len,
            max: MAX_IDENTIFIER_LEN,
        }),
        _ => Ok(()),
    }
}

impl TaskIdentifier {
    /// Checks `value` against the task identifier rules without allocating.
    pub fn validate(value: &str) -> Result<(), ModelError> {
        check_length(IdentifierKind::Task, value)?;
        // Identifiers are almost always ASCII, checked a byte at a time; other text a char at
        // a time, for the control characters beyond ASCII (U+0080 to U+009F).
        let found = if value.is_ascii() {
            value.bytes().position(|b| b.is_ascii_control())
        } else {
            value
                .char_indices()
                .find(|(_, c)| c.is_control())
                .map(|(position, _)| position)
        };
        match found {
            Some(position) => Err(ModelError::ControlCharacter {
                kind: IdentifierKind::Task,
                position,
            }),
            None => Ok(()),
        }
    }

    /// The identifier as text, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SpaceIdentifier {
    /// Checks `value` against `^[a-z0-9-]+$` and the length limit without allocating.
    pub fn validate(value: &str) -> Result<(), ModelError> {
        check_length(IdentifierKind::Space, value)?;
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        // Every allowed character is one byte, so the first byte refused starts the first
        // character refused.
        match value.bytes().position(|b| !allowed(b)) {
            Some(position) => Err(ModelError::InvalidSpaceCharacter {
                kind: IdentifierKind::Space,
                character: value
                    .get(position..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER),
                position,
            }),
            None => Ok(()),
        }
    }

    /// The identifier as text, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! identifier_conversions {
    ($ty:ident) => {
        impl FromStr for $ty {
            type Err = ModelError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::validate(value)?;
                Ok(Self(value.into()))
            }
        }

        impl TryFrom<String> for $ty {
            type Error = ModelError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::validate(&value)?;
                Ok(Self(value.into_boxed_str()))
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = ModelError;

            fn try_from(value: &str) -> Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Hash, Eq and Ord are the text's own, so sets and maps of identifiers can be asked
        // with a `&str`.
        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> Self {
                value.0.into_string()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&&*self.0).finish()
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::try_from(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier_conversions!(TaskIdentifier);
identifier_conversions!(SpaceIdentifier);
