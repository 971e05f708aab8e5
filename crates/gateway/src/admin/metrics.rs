//! The admin metrics: purges by scope, registered on the gateway's own recorder.

use metrics::{Counter, Key, Label, Metadata, Recorder};

use crate::key::PurgeScope;

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

const PURGES: &str = "alumio_gateway_purges_total";

/// The scope labels, in the order of `PurgeScope`'s variants.
const SCOPES: [&str; 4] = ["task", "space", "without-space", "all"];

/// Counters of admin actions; cheap to clone, all clones count together.
#[derive(Clone)]
pub struct AdminMetrics {
    purges: [Counter; 4],
}

impl AdminMetrics {
    /// Registers the counters with `recorder`.
    pub(crate) fn register(recorder: &impl Recorder) -> Self {
        recorder.describe_counter(
            PURGES.into(),
            None,
            "Cache purges through the admin API, by scope".into(),
        );
        Self {
            purges: SCOPES.map(|scope| {
                let key = Key::from_parts(PURGES, vec![Label::new("scope", scope)]);
                recorder.register_counter(&key, &METADATA)
            }),
        }
    }

    /// Counts one purge.
    pub fn record_purge(&self, scope: &PurgeScope) {
        let index = match scope {
            PurgeScope::Task(_) => 0,
            PurgeScope::Space(_) => 1,
            PurgeScope::WithoutSpace => 2,
            PurgeScope::All => 3,
        };
        self.purges[index].increment(1);
    }
}
