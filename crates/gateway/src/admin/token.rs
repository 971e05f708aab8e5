//! `AdminToken`: the admin API's bearer token, kept only as its digest and compared in
//! constant time; `require_admin_token` refuses every admin request without it.

use std::path::Path;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};

use crate::access::{DenialReason, SecretDigest, bearer_digest, secret_problem};
use crate::config::{ConfigError, Settings, read_secret_file};
use crate::error::{api_error, error_response};
use crate::state::AppState;

/// The admin token, as its digest.
#[derive(Debug, Clone)]
pub struct AdminToken {
    digest: SecretDigest,
}

impl AdminToken {
    /// The token `token`, which must be 16 to 1024 visible ASCII characters.
    pub fn new(token: &SecretString) -> Result<Self, ConfigError> {
        let token = token.expose_secret().trim();
        if let Some(problem) = secret_problem(token.as_bytes()) {
            return Err(ConfigError::Invalid {
                setting: "--admin-token-file",
                reason: format!("the admin token {problem}"),
            });
        }
        Ok(Self {
            digest: SecretDigest::of(token.as_bytes()),
        })
    }

    /// The token on the first line of the file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        Self::new(&read_secret_file(path, "--admin-token-file")?)
    }

    /// Whether the request carries this token as `Authorization: Bearer`.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        bearer_digest(headers).is_some_and(|digest| self.digest.ct_eq(&digest).into())
    }
}

/// The admin token the settings name, if the admin API is on. That `--admin-listen` comes with
/// `--admin-token-file` is a rule of the settings, checked when they are loaded.
pub fn admin_token_from_settings(settings: &Settings) -> Result<Option<AdminToken>, ConfigError> {
    match (&settings.admin_listen, &settings.admin_token_file) {
        (Some(_), Some(path)) => AdminToken::from_file(path).map(Some),
        _ => Ok(None),
    }
}

/// Lets only requests with the admin token through; the rest get a 401 in Alumio's `Error`
/// shape, are counted, and logged without what they sent.
pub(super) async fn require_admin_token(
    State((state, token)): State<(AppState, AdminToken)>,
    request: Request,
    next: Next,
) -> Response {
    if token.accepts(request.headers()) {
        return next.run(request).await;
    }
    state
        .metrics()
        .access
        .record_denied(DenialReason::AdminToken);
    tracing::warn!(
        method = %request.method(),
        path = request.uri().path(),
        "admin request without a valid admin token"
    );
    unauthorized()
}

fn unauthorized() -> Response {
    let status = StatusCode::UNAUTHORIZED;
    let error = api_error(
        status,
        "the admin token is required: send 'Authorization: Bearer <admin token>'",
    );
    let mut response = error_response(status, &error);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"alumio-gateway-admin\""),
    );
    response
}
