//! The admin API, served on its own listener (`--admin-listen`) behind its own bearer token
//! (`--admin-token-file`): cache purges and statistics, and `/metrics` if it is moved there.
//!
//! | Route | What |
//! | --- | --- |
//! | `DELETE /admin/cache/tasks/{identifier}?space=` | Purge one entry (no `space`: the spaceless one). |
//! | `DELETE /admin/cache/spaces/{space}` | Purge every entry of one space. |
//! | `DELETE /admin/cache/without-space` | Purge every entry of requests made without `space`. |
//! | `DELETE /admin/cache` | Purge everything. |
//! | `GET /admin/cache/stats` | Entries, bytes and fetches in flight, as JSON. |
//! | `GET /metrics` | Prometheus metrics, with `--metrics-on-admin`. |

mod cache;
mod metrics;
mod token;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{delete, get};

use crate::state::AppState;

pub use metrics::AdminMetrics;
pub use token::{AdminToken, admin_token_from_settings};

/// How the admin router is set up.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// The token every admin request must carry.
    pub token: AdminToken,
    /// Whether `/metrics` is served here.
    pub serve_metrics: bool,
}

/// What the admin handlers share: the gateway's state and the admin API's own metrics.
#[derive(Clone)]
struct Admin {
    state: AppState,
    metrics: AdminMetrics,
}

impl FromRef<Admin> for AppState {
    fn from_ref(admin: &Admin) -> Self {
        admin.state.clone()
    }
}

/// The admin router over the same state as the consumer-facing one, its metrics registered on
/// the gateway's registry. Every route, the unknown ones included, answers 401 without the
/// admin token.
pub fn router(state: AppState, settings: AdminSettings) -> Router {
    let admin = Admin {
        metrics: AdminMetrics::register(state.metrics().registry()),
        state: state.clone(),
    };
    let mut router = Router::new()
        .route(
            "/admin/cache",
            delete(cache::purge_all).fallback(cache::only_delete),
        )
        .route(
            "/admin/cache/stats",
            get(cache::stats).fallback(cache::only_get),
        )
        .route(
            "/admin/cache/tasks/{identifier}",
            delete(cache::purge_task).fallback(cache::only_delete),
        )
        .route(
            "/admin/cache/spaces/{space}",
            delete(cache::purge_space).fallback(cache::only_delete),
        )
        .route(
            "/admin/cache/without-space",
            delete(cache::purge_without_space).fallback(cache::only_delete),
        );
    if settings.serve_metrics {
        router = router.route(
            "/metrics",
            get(crate::exposition::metrics).fallback(cache::only_get),
        );
    }
    router
        .fallback(cache::not_found)
        .layer(axum::middleware::from_fn_with_state(
            (state, settings.token),
            token::require_admin_token,
        ))
        .with_state(admin)
}
