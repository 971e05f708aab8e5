//! `TaskKey`: the validated (identifier, space) pair that names one cached answer and is all a
//! consumer's request may carry to Alumio.

use std::fmt;

use alumio_models::{IdentifierKind, ModelError, SpaceIdentifier, TaskIdentifier};
use percent_encoding::percent_decode_str;

use crate::error::GatewayError;
use crate::metrics::MetricLabel;

/// The path prefix of the task endpoint; the rest of the path is the identifier.
pub const TASKS_PATH_PREFIX: &str = "/api/v1/tasks/";

/// One cached answer's name. A request without `space` is its own key, distinct from every
/// space, because Alumio answers it from the API user's default space.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaskKey {
    identifier: TaskIdentifier,
    space: Option<SpaceIdentifier>,
}

impl TaskKey {
    /// A key from identifiers that are already valid.
    pub fn new(identifier: TaskIdentifier, space: Option<SpaceIdentifier>) -> Self {
        Self { identifier, space }
    }

    /// Reads the key from a request's path and query, rejecting anything that is not exactly
    /// one valid identifier and at most one valid `space`. Other query parameters are ignored:
    /// they never reach Alumio and never change the key.
    pub fn from_path_and_query(path: &str, query: Option<&str>) -> Result<Self, GatewayError> {
        let raw_identifier = path
            .strip_prefix(TASKS_PATH_PREFIX)
            .ok_or(GatewayError::NotFound)?;
        // A raw '/' means more than one segment: that is another path, not an identifier.
        // An encoded "%2F" is part of the identifier and is re-encoded on the way to Alumio.
        if raw_identifier.contains('/') {
            return Err(GatewayError::NotFound);
        }
        // Most identifiers need no decoding; the path is valid UTF-8 already.
        let identifier = if raw_identifier.contains('%') {
            percent_decode_str(raw_identifier)
                .decode_utf8()
                .map_err(|_| invalid(IdentifierKind::Task, "is not valid utf-8 once decoded"))?
        } else {
            std::borrow::Cow::Borrowed(raw_identifier)
        };
        // URL rules (WHATWG, and so every client and server library) remove `.` and `..`
        // segments however they are encoded, so no request to Alumio can name them.
        if matches!(&*identifier, "." | "..") {
            return Err(invalid(IdentifierKind::Task, "cannot be '.' or '..'"));
        }
        let identifier = identifier
            .parse::<TaskIdentifier>()
            .map_err(GatewayError::from)?;
        let space = match query {
            Some(query) => space_from_query(query)?,
            None => None,
        };
        Ok(Self { identifier, space })
    }

    /// The task identifier.
    pub fn identifier(&self) -> &TaskIdentifier {
        &self.identifier
    }

    /// The space, if the request named one.
    pub fn space(&self) -> Option<&SpaceIdentifier> {
        self.space.as_ref()
    }

    /// The space as text for logs and metrics, `-` when the request named none.
    pub fn space_label(&self) -> &str {
        self.space.as_ref().map_or("-", SpaceIdentifier::as_str)
    }
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
    pub fn covers(&self, key: &TaskKey) -> bool {
        match self {
            Self::Task(task) => task == key,
            Self::Space(space) => key.space() == Some(space),
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
        write!(
            f,
            "TaskKey({:?}, space={})",
            self.identifier.as_str(),
            self.space_label()
        )
    }
}

fn invalid(kind: IdentifierKind, what: &str) -> GatewayError {
    GatewayError::InvalidParameter {
        parameter: kind.parameter(),
        reason: format!("{kind} {what}"),
    }
}

fn space_from_query(query: &str) -> Result<Option<SpaceIdentifier>, GatewayError> {
    // Without escapes, a pair is its own decoding, so the general parser is needed only when
    // '%' or '+' appear.
    if !query.contains(['%', '+']) {
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
    pairs: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
) -> Result<Option<SpaceIdentifier>, GatewayError> {
    let mut space = None;
    for (name, value) in pairs {
        if name != "space" {
            continue;
        }
        if space.is_some() {
            return Err(invalid(IdentifierKind::Space, "is given more than once"));
        }
        space = Some(
            value
                .parse::<SpaceIdentifier>()
                .map_err(GatewayError::from)?,
        );
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
