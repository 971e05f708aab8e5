//! The gateway's metrics machinery, and nothing of what is measured: a [`MetricsRegistry`] per
//! gateway (not a process-wide recorder, so several gateways in one test process count apart),
//! its Prometheus exposition, and [`LabelledCounter`]s that record with one atomic add.
//!
//! Each component registers its own metrics when it is built and counts by named field
//! (`FetchMetrics`, `AccessMetrics`, `CacheMetrics`, `AdminMetrics`); this module knows none of
//! them.

use std::marker::PhantomData;

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// Buckets of every histogram whose name ends in `_seconds`.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A label whose values are known in advance, such as a fieldless enum of reasons.
pub trait MetricLabel: Copy + 'static {
    /// The label's name, such as `reason`.
    const NAME: &'static str;
    /// Every value, each at the position [`index`](Self::index) gives it.
    const ALL: &'static [Self];
    /// The value as the label shows it.
    fn as_str(self) -> &'static str;
    /// The value's position in [`ALL`](Self::ALL); for a fieldless enum listed in declaration
    /// order, `self as usize`.
    fn index(self) -> usize;
}

/// One counter per value of the label `L`, all under one metric name.
pub struct LabelledCounter<L> {
    counters: Box<[Counter]>,
    label: PhantomData<fn(L)>,
}

impl<L> Clone for LabelledCounter<L> {
    fn clone(&self) -> Self {
        Self {
            counters: self.counters.clone(),
            label: PhantomData,
        }
    }
}

impl<L: MetricLabel> LabelledCounter<L> {
    /// Counts one event labelled `value`.
    pub fn increment(&self, value: L) {
        if let Some(counter) = self.counters.get(value.index()) {
            counter.increment(1);
        }
    }
}

/// The metrics of one gateway, and their Prometheus exposition.
pub struct MetricsRegistry {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl MetricsRegistry {
    /// A registry with nothing registered yet.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
            .map_or_else(
                |_| PrometheusBuilder::new().build_recorder(),
                PrometheusBuilder::build_recorder,
            );
        // The recorder's storage is shared with its handle.
        let handle = recorder.handle();
        Self { recorder, handle }
    }

    /// Registers the counter `name`.
    pub fn counter(&self, name: &'static str, help: &'static str) -> Counter {
        self.recorder
            .describe_counter(name.into(), None, help.into());
        self.recorder
            .register_counter(&Key::from_static_name(name), &METADATA)
    }

    /// Registers the counter `name` once for every value of the label `L`.
    pub fn labelled_counter<L: MetricLabel>(
        &self,
        name: &'static str,
        help: &'static str,
    ) -> LabelledCounter<L> {
        debug_assert!(
            L::ALL
                .iter()
                .enumerate()
                .all(|(i, value)| value.index() == i),
            "{} lists its values out of index order",
            L::NAME
        );
        self.recorder
            .describe_counter(name.into(), None, help.into());
        let counters = L::ALL
            .iter()
            .map(|value| {
                let key = Key::from_parts(name, vec![Label::new(L::NAME, value.as_str())]);
                self.recorder.register_counter(&key, &METADATA)
            })
            .collect();
        LabelledCounter {
            counters,
            label: PhantomData,
        }
    }

    /// Registers the gauge `name`.
    pub fn gauge(&self, name: &'static str, unit: Option<Unit>, help: &'static str) -> Gauge {
        self.recorder.describe_gauge(name.into(), unit, help.into());
        self.recorder
            .register_gauge(&Key::from_static_name(name), &METADATA)
    }

    /// Registers the histogram `name`; one ending in `_seconds` gets latency buckets.
    pub fn histogram(
        &self,
        name: &'static str,
        unit: Option<Unit>,
        help: &'static str,
    ) -> Histogram {
        self.recorder
            .describe_histogram(name.into(), unit, help.into());
        self.recorder
            .register_histogram(&Key::from_static_name(name), &METADATA)
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram samples into their buckets; call it now and then so they stay bounded.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Default for MetricsRegistry {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Colour {
        Red,
        Green,
    }

    impl MetricLabel for Colour {
        const NAME: &'static str = "colour";
        const ALL: &'static [Self] = &[Self::Red, Self::Green];
        fn as_str(self) -> &'static str {
            match self {
                Self::Red => "red",
                Self::Green => "green",
            }
        }
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn a_labelled_counter_counts_each_value_apart_and_shows_every_value() {
        let registry = MetricsRegistry::new();
        let seen = registry.labelled_counter::<Colour>("seen_total", "Things seen, by colour");
        seen.increment(Colour::Green);
        seen.increment(Colour::Green);
        let text = registry.render();
        assert!(text.contains("seen_total{colour=\"green\"} 2"), "{text}");
        assert!(text.contains("seen_total{colour=\"red\"} 0"), "{text}");
        assert!(
            text.contains("# HELP seen_total Things seen, by colour"),
            "{text}"
        );
    }

    #[test]
    fn histograms_in_seconds_get_latency_buckets() {
        let registry = MetricsRegistry::new();
        registry
            .histogram("took_seconds", Some(Unit::Seconds), "How long")
            .record(0.2);
        let text = registry.render();
        assert!(
            text.contains("took_seconds_bucket{le=\"0.25\"} 1"),
            "{text}"
        );
    }
}
