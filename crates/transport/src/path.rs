//! The request URL: the base is validated once, the task identifier becomes exactly one
//! percent-encoded path segment under `{base}/tasks/`, and the space an encoded query value.

use std::fmt;

use alumio_models::{SpaceIdentifier, TaskIdentifier};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

use crate::error::TransportError;

/// Everything but RFC 3986 unreserved characters (`ALPHA / DIGIT / "-" / "." / "_" / "~"`), so
/// `/`, `%`, `?`, `#` and non-ASCII bytes can never act as URL syntax.
const UNRESERVED_ONLY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A validated base URL such as `https://tenant.alumio.com/api/v1`, kept without trailing
/// slashes so that `.../api/v1` and `.../api/v1/` build the same task URLs.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl(String);

impl BaseUrl {
    /// Accepts an absolute `http` or `https` URL without credentials, query or fragment.
    ///
    /// Reasons never echo the input: it may hold a password.
    pub(crate) fn parse(input: &str) -> Result<Self, TransportError> {
        let invalid = |reason: String| TransportError::InvalidConfig { reason };
        let url = Url::parse(input)
            .map_err(|error| invalid(format!("base url is not a valid url: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "base url scheme must be http or https, not {}",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("base url has no host".to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("base url must not contain credentials".to_owned()));
        }
        if url.query().is_some() {
            return Err(invalid("base url must not have a query".to_owned()));
        }
        if url.fragment().is_some() {
            return Err(invalid("base url must not have a fragment".to_owned()));
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    /// The base as text, without a trailing slash.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// `{base}/tasks/{identifier}` with `?space={space}` when a space is given.
    ///
    /// The identifiers `.` and `..` are refused: the WHATWG URL rules that `url` and every
    /// browser follow treat `.`, `%2E`, `..` and `%2E%2E` alike as dot segments and remove them,
    /// so no spelling of them stays under `/tasks/`. Any other re-normalisation by the URL
    /// parser is refused too, so the URL sent is always the one built here.
    pub(crate) fn task_url(
        &self,
        identifier: &TaskIdentifier,
        space: Option<&SpaceIdentifier>,
    ) -> Result<Url, TransportError> {
        let identifier = identifier.as_str();
        if matches!(identifier, "." | "..") {
            return Err(TransportError::UnsendableIdentifier);
        }
        let space_len = space.map_or(0, |space| "?space=".len() + 3 * space.as_str().len());
        let mut text = String::with_capacity(
            self.0.len() + "/tasks/".len() + 3 * identifier.len() + space_len,
        );
        text.push_str(&self.0);
        text.push_str("/tasks/");
        text.extend(utf8_percent_encode(identifier, UNRESERVED_ONLY));
        if let Some(space) = space {
            text.push_str("?space=");
            text.extend(utf8_percent_encode(space.as_str(), UNRESERVED_ONLY));
        }
        match Url::parse(&text) {
            Ok(url) if url.as_str() == text => Ok(url),
            _ => Err(TransportError::UnsendableIdentifier),
        }
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
