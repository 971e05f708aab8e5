//! `Simulator`: the simulated installation, its router, its server, and the handles tests and
//! benchmarks use to look inside it.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alumio_models::{SpaceIdentifier, TaskIdentifier, TaskStatus};
use axum::Router;
use axum::middleware;
use axum::routing::get;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api;
use crate::auth::BearerCheck;
use crate::catalog::{Catalog, CatalogTask};
use crate::config::SimConfig;
use crate::control;
use crate::faults::FaultControls;
use crate::stats::{SimStats, StatsCounters};

/// A simulated Alumio installation. Cloning is cheap and every clone is the same simulator.
///
/// ```
/// use alumio_sim::{FaultMode, SimConfig, Simulator};
///
/// let sim = Simulator::new(SimConfig { tasks_per_space: 10, ..SimConfig::default() });
/// let space = sim.spaces()[0].clone();
/// let id = sim.task_identifiers(&space).next().unwrap();
/// assert!(sim.current_status(&space, &id).is_some());
/// sim.faults().set_mode(FaultMode::Down);
/// let app: axum::Router = sim.router(); // serve it, or call it with tower's `oneshot`
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) catalog: Catalog,
    /// The position of the space used when a request names none.
    pub(crate) default_space: usize,
    pub(crate) auth: BearerCheck,
    pub(crate) faults: FaultControls,
    pub(crate) stats: StatsCounters,
    started: Instant,
    /// Time added by [`Simulator::advance_clock`], in milliseconds.
    advanced_millis: AtomicU64,
    /// Turns true when the simulator shuts down, releasing hanging and delayed requests.
    stopping: watch::Sender<bool>,
}

impl Shared {
    /// Milliseconds of simulated time since the start.
    pub(crate) fn elapsed_millis(&self) -> i64 {
        let real = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let advanced =
            i64::try_from(self.advanced_millis.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        real.saturating_add(advanced)
    }

    /// Waits `duration`, or less if the simulator shuts down meanwhile.
    pub(crate) async fn pause(&self, duration: Duration) {
        if duration.is_zero() {
            return;
        }
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            _ = stopping.wait_for(|stopping| *stopping) => {}
        }
    }

    fn task(&self, space: &SpaceIdentifier, identifier: &TaskIdentifier) -> Option<&CatalogTask> {
        let space = self.catalog.space_index(space.as_str())?;
        self.catalog.find(space, identifier.as_str())
    }
}

impl Simulator {
    /// Generates the installation's tasks from `config.seed` and renders the documents of those
    /// already settled, so requests for them only copy a pointer; every other form of a
    /// document is rendered once, by the first request that needs it.
    pub fn new(config: SimConfig) -> Self {
        let (spaces, per_space) = config.normalised_spaces();
        let default_space = spaces
            .iter()
            .position(|space| *space == config.default_space)
            .unwrap_or_else(|| {
                tracing::warn!(
                    default_space = %config.default_space,
                    "the default space is not one of the spaces; using the first space instead"
                );
                0
            });
        let anchor = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            });
        let catalog = Catalog::generate(spaces, per_space, config.seed, anchor);
        catalog.prerender_settled(0);
        let shared = Shared {
            catalog,
            default_space,
            auth: BearerCheck::new(config.token.as_ref()),
            faults: FaultControls::new(config.latency, config.seed),
            stats: StatsCounters::new(),
            started: Instant::now(),
            advanced_millis: AtomicU64::new(0),
            stopping: watch::Sender::new(false),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The routes: `GET /api/v1/tasks/{identifier}?space=` and the `/_sim/` control endpoints.
    /// Any other path answers `404` with an Alumio `Error` body.
    pub fn router(&self) -> Router {
        let shared = Arc::clone(&self.shared);
        let tasks = Router::new()
            .route("/api/v1/tasks/{identifier}", get(api::get_task))
            .method_not_allowed_fallback(api::method_not_allowed)
            .fallback(api::no_such_route)
            .layer(middleware::from_fn_with_state(
                Arc::clone(&shared),
                api::count_replies,
            ));
        control::routes().merge(tasks).with_state(shared)
    }

    /// Serves [`Simulator::router`] on `listener` until `shutdown` completes, then releases
    /// hanging requests and waits for open requests to finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let router = self.router();
        let signal = async move {
            shutdown.await;
            self.begin_shutdown();
        };
        axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await
    }

    /// Releases every hanging or delayed request (they answer `503`) and makes later ones
    /// answer at once, so a graceful shutdown does not wait on them. [`Simulator::serve`] calls
    /// it; call it yourself when serving [`Simulator::router`] some other way.
    pub fn begin_shutdown(&self) {
        self.shared.stopping.send_replace(true);
    }

    /// The switchable faults.
    pub fn faults(&self) -> &FaultControls {
        &self.shared.faults
    }

    /// A snapshot of the task endpoint's counters.
    pub fn stats(&self) -> SimStats {
        self.shared.stats.snapshot()
    }

    /// Sets the task endpoint's counters back to zero.
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// The spaces that hold tasks.
    pub fn spaces(&self) -> &[SpaceIdentifier] {
        self.shared.catalog.spaces()
    }

    /// The space used when a request names none.
    pub fn default_space(&self) -> &SpaceIdentifier {
        &self.shared.catalog.spaces()[self.shared.default_space]
    }

    /// The identifiers of `space`'s tasks, in a fixed order; none for an unknown space.
    pub fn task_identifiers(
        &self,
        space: &SpaceIdentifier,
    ) -> impl Iterator<Item = TaskIdentifier> + '_ {
        let tasks = match self.shared.catalog.space_index(space.as_str()) {
            Some(index) => self.shared.catalog.tasks_in(index),
            None => &[],
        };
        tasks.iter().map(|task| task.identifier.clone())
    }

    /// Simulated time since the start: real time plus every [`Simulator::advance_clock`].
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.shared.elapsed_millis()).unwrap_or(0))
    }

    /// Moves simulated time forward by `by`, so tests can see statuses progress without
    /// waiting. Timestamps in the documents move with it.
    pub fn advance_clock(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self.shared.advanced_millis.fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            |current| Some(current.saturating_add(millis)),
        );
    }

    /// The status task `identifier` of `space` has `elapsed` after the simulator started; `None`
    /// if there is no such task in that space. A pure function of the seed and `elapsed`.
    pub fn status_at(
        &self,
        space: &SpaceIdentifier,
        identifier: &TaskIdentifier,
        elapsed: Duration,
    ) -> Option<TaskStatus> {
        let elapsed = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
        let task = self.shared.task(space, identifier)?;
        Some(task.timeline.status_at(elapsed).clone())
    }

    /// The status the task has now, as a request would see it.
    pub fn current_status(
        &self,
        space: &SpaceIdentifier,
        identifier: &TaskIdentifier,
    ) -> Option<TaskStatus> {
        self.status_at(space, identifier, self.elapsed())
    }

    /// The body a healthy request for the task would get now.
    pub fn task_body(&self, space: &SpaceIdentifier, identifier: &TaskIdentifier) -> Option<Bytes> {
        let task = self.shared.task(space, identifier)?;
        Some(self.shared.catalog.body(task, self.shared.elapsed_millis()))
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("spaces", &self.spaces())
            .field("default_space", self.default_space())
            .field("faults", &self.shared.faults)
            .finish_non_exhaustive()
    }
}
