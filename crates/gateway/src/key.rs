//! `TaskKey`: the validated (identifier, space) pair that names one cached answer and is all a
//! consumer's request may carry to Alumio, and `KeyRef`, the same name borrowed from a request,
//! which is how a hit looks its answer up without allocating.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};

use alumio_models::{
    IdentifierKind, MAX_IDENTIFIER_LEN, ModelError, SpaceIdentifier, TaskIdentifier,
};
use percent_encoding::percent_decode_str;

use crate::error::GatewayError;
use crate::metrics::MetricLabel;

/// The path prefix of the task endpoint; the rest of the path is the identifier.
pub const TASKS_PATH_PREFIX: &str = "/api/v1/tasks/";

/// One cached answer's name. A request without `space` is its own key, distinct from every
/// space, because Alumio answers it from the API user's default space.
///
/// The key is one text, `space/identifier`, or `/identifier` without a space: a space is never
/// empty and never contains `/`, so the first `/` ends it even when the identifier holds one.
/// One allocation per key matters at a million entries.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskKey {
    text: Box<str>,
}

/// A key as read from a request: its parts borrowed from the request line, unless they had to
/// be decoded. It hashes as the [`TaskKey`] it names, so the cache can be asked with it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRef<'a> {
    space: Option<Cow<'a, str>>,
    identifier: Cow<'a, str>,
}

impl TaskKey {
    /// A key from identifiers that are already valid.
    pub fn new(identifier: TaskIdentifier, space: Option<SpaceIdentifier>) -> Self {
        Self::from_parts(
            space.as_ref().map(SpaceIdentifier::as_str),
            identifier.as_str(),
        )
    }

    fn from_parts(space: Option<&str>, identifier: &str) -> Self {
        let space = space.unwrap_or("");
        let mut text = String::with_capacity(space.len() + 1 + identifier.len());
        text.push_str(space);
        text.push('/');
        text.push_str(identifier);
        Self {
            text: text.into_boxed_str(),
        }
    }

    /// Reads the key from a request's path and query (see [`KeyRef::read`]).
    pub fn from_path_and_query(path: &str, query: Option<&str>) -> Result<Self, GatewayError> {
        KeyRef::read(path, query).map(|key| key.to_key())
    }

    /// The key borrowed.
    pub fn key_ref(&self) -> KeyRef<'_> {
        let (space, identifier) = self.split();
        KeyRef {
            space: space.map(Cow::Borrowed),
            identifier: Cow::Borrowed(identifier),
        }
    }

    /// The task identifier, as validated.
    pub fn identifier(&self) -> &str {
        self.split().1
    }

    /// The space, if the request named one.
    pub fn space(&self) -> Option<&str> {
        self.split().0
    }

    /// The space as text for logs and metrics, `-` when the request named none.
    pub fn space_label(&self) -> &str {
        self.space().unwrap_or("-")
    }

    /// The identifiers as the models type them, to ask Alumio with.
    pub fn identifiers(&self) -> Result<(TaskIdentifier, Option<SpaceIdentifier>), ModelError> {
        let identifier = self.identifier().parse()?;
        let space = self.space().map(str::parse).transpose()?;
        Ok((identifier, space))
    }

    /// The bytes the key costs beyond its own struct.
    pub fn heap_bytes(&self) -> usize {
        self.text.len()
    }

    fn split(&self) -> (Option<&str>, &str) {
        // Every key text has the separator, and spaces are short: a byte scan finds it sooner
        // than a general search.
        let at = self.text.bytes().position(|b| b == b'/').unwrap_or(0);
        let (space, identifier) = (
            self.text.get(..at).unwrap_or(""),
            self.text.get(at + 1..).unwrap_or(""),
        );
        (Some(space).filter(|space| !space.is_empty()), identifier)
    }
}

/// The one hash of a key, whichever form it is in.
fn hash_parts<H: Hasher>(space: Option<&str>, identifier: &str, state: &mut H) {
    state.write(space.unwrap_or("").as_bytes());
    state.write_u8(b'/');
    state.write(identifier.as_bytes());
}

impl Hash for TaskKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (space, identifier) = self.split();
        hash_parts(space, identifier, state);
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_parts(self.space(), self.identifier(), state);
    }
}

impl<'a> KeyRef<'a> {
    /// Reads the key from a request's path and query, rejecting anything that is not exactly
    /// one valid identifier and at most one valid `space`. Other query parameters are ignored:
    /// they never reach Alumio and never change the key. Only escaped spellings allocate, to
    /// decode.
    pub fn read(path: &'a str, query: Option<&'a str>) -> Result<Self, GatewayError> {
        let identifier = identifier_from_path(path)?;
        let space = match query {
            Some(query) => space_from_query(query)?,
            None => None,
        };
        Ok(Self { space, identifier })
    }

    /// The task identifier, as validated.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// The space, if the request named one.
    pub fn space(&self) -> Option<&str> {
        self.space.as_deref()
    }

    /// The space as the models type it. The text was validated when the key was read, so
    /// this only copies it.
    pub fn space_identifier(&self) -> Option<SpaceIdentifier> {
        self.space().and_then(|space| space.parse().ok())
    }

    /// Whether this names `key`. It runs on every hit, so it compares the key's text piece by
    /// piece rather than splitting it: as neither space has a `/`, a `/` right after ours is
    /// the key's first, so the spaces are equal when the text starts with ours and that `/`.
    pub fn names(&self, key: &TaskKey) -> bool {
        let text = key.text.as_bytes();
        let space = self.space().unwrap_or("").as_bytes();
        let identifier = self.identifier.as_bytes();
        text.len() == space.len() + 1 + identifier.len()
            && text.get(..space.len()) == Some(space)
            && text.get(space.len()) == Some(&b'/')
            && text.get(space.len() + 1..) == Some(identifier)
    }

    /// The key, owned.
    pub fn to_key(&self) -> TaskKey {
        TaskKey::from_parts(self.space(), self.identifier())
    }
}

/// The identifier of a task path, decoded and validated.
fn identifier_from_path(path: &str) -> Result<Cow<'_, str>, GatewayError> {
    let raw_identifier = path
        .strip_prefix(TASKS_PATH_PREFIX)
        .ok_or(GatewayError::NotFound)?;
    // A raw '/' means more than one segment: that is another path, not an identifier.
    // An encoded "%2F" is part of the identifier and is re-encoded on the way to Alumio.
    // One pass over the bytes answers that, whether to decode, and whether the identifier is
    // printable ASCII, which the model's rules (no control characters) always allow. It runs
    // on every hit, so it has no early exit: the compiler then checks 16 bytes at a time.
    let (mut slash, mut escaped, mut printable) = (false, false, true);
    for byte in raw_identifier.bytes() {
        slash |= byte == b'/';
        escaped |= byte == b'%';
        printable &= matches!(byte, b' '..=b'~');
    }
    if slash {
        return Err(GatewayError::NotFound);
    }
    // Most identifiers need no decoding; the path is valid UTF-8 already.
    let identifier = if escaped {
        percent_decode_str(raw_identifier)
            .decode_utf8()
            .map_err(|_| invalid(IdentifierKind::Task, "is not valid utf-8 once decoded"))?
    } else {
        Cow::Borrowed(raw_identifier)
    };
    // URL rules (WHATWG, and so every client and server library) remove `.` and `..`
    // segments however they are encoded, so no request to Alumio can name them.
    if matches!(&*identifier, "." | "..") {
        return Err(invalid(IdentifierKind::Task, "cannot be '.' or '..'"));
    }
    let plain = !escaped && printable && (1..=MAX_IDENTIFIER_LEN).contains(&identifier.len());
    if !plain {
        TaskIdentifier::validate(&identifier)?;
    }
    Ok(identifier)
}

/// Which cached answers a purge drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeScope {
    /// One key.
    Task(TaskKey),
    /// Every key in one space.
    Space(SpaceIdentifier),
    /// Every key of requests made without `space`.
    WithoutSpace,
    /// Everything.
    All,
}

impl PurgeScope {
    /// Whether the purge drops `key`.
    pub fn covers(&self, key: &KeyRef<'_>) -> bool {
        match self {
            Self::Task(task) => key.names(task),
            Self::Space(space) => key.space() == Some(space.as_str()),
            Self::WithoutSpace => key.space().is_none(),
            Self::All => true,
        }
    }

    /// What kind of scope it is, without the key or space it names.
    pub fn kind(&self) -> PurgeKind {
        match self {
            Self::Task(_) => PurgeKind::Task,
            Self::Space(_) => PurgeKind::Space,
            Self::WithoutSpace => PurgeKind::WithoutSpace,
            Self::All => PurgeKind::All,
        }
    }

    /// The scope as a metric label.
    pub fn as_str(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// The kinds of [`PurgeScope`], as the `scope` label of purge metrics says them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeKind {
    /// [`PurgeScope::Task`].
    Task,
    /// [`PurgeScope::Space`].
    Space,
    /// [`PurgeScope::WithoutSpace`].
    WithoutSpace,
    /// [`PurgeScope::All`].
    All,
}

impl MetricLabel for PurgeKind {
    const NAME: &'static str = "scope";
    const ALL: &'static [Self] = &[Self::Task, Self::Space, Self::WithoutSpace, Self::All];

    fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Space => "space",
            Self::WithoutSpace => "without-space",
            Self::All => "all",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Debug for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.key_ref(), f)
    }
}

impl fmt::Debug for KeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TaskKey({:?}, space={})",
            self.identifier(),
            self.space().unwrap_or("-")
        )
    }
}

fn invalid(kind: IdentifierKind, what: &str) -> GatewayError {
    GatewayError::InvalidParameter {
        parameter: kind.parameter(),
        reason: format!("{kind} {what}"),
    }
}

fn space_from_query(query: &str) -> Result<Option<Cow<'_, str>>, GatewayError> {
    // What nearly every request sends, `space=<name>` alone, in one pass.
    if let Some(value) = query.strip_prefix("space=")
        && !value.bytes().any(|b| matches!(b, b'&' | b'%' | b'+'))
    {
        SpaceIdentifier::validate(value)?;
        return Ok(Some(Cow::Borrowed(value)));
    }
    // Without escapes, a pair is its own decoding, so the general parser is needed only when
    // '%' or '+' appear.
    if !query.bytes().any(|b| b == b'%' || b == b'+') {
        return space_from_pairs(
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                .map(|(name, value)| (name.into(), value.into())),
        );
    }
    space_from_pairs(form_urlencoded::parse(query.as_bytes()))
}

fn space_from_pairs<'a>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> Result<Option<Cow<'a, str>>, GatewayError> {
    let mut space = None;
    for (name, value) in pairs {
        if name != "space" {
            continue;
        }
        if space.is_some() {
            return Err(invalid(IdentifierKind::Space, "is given more than once"));
        }
        SpaceIdentifier::validate(&value)?;
        space = Some(value);
    }
    Ok(space)
}

impl From<ModelError> for GatewayError {
    fn from(error: ModelError) -> Self {
        let parameter = error
            .identifier_kind()
            .map_or("identifier", IdentifierKind::parameter);
        GatewayError::InvalidParameter {
            parameter,
            reason: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
