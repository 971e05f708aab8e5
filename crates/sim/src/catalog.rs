//! The simulated installation's tasks: generated once from the seed, looked up by identifier,
//! and rendered at most once per phase, so a hot task is served as shared, pre-rendered bytes.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use alumio_models::{SpaceIdentifier, TaskIdentifier};
use bytes::Bytes;

use crate::document::DocumentSource;
use crate::seeded::SeededRng;
use crate::timeline::Timeline;

/// Crockford's base-32 alphabet, as ULIDs use it.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The instant the identifiers' time part starts from (2024-07-01T00:00:00Z), so they begin with
/// `01J` like the ULIDs of a real installation from that time.
const IDENTIFIER_EPOCH_MILLIS: u64 = 1_719_792_000_000;

/// One task of the catalog.
#[derive(Debug)]
pub(crate) struct CatalogTask {
    /// Its identifier, unique across every space.
    pub(crate) identifier: TaskIdentifier,
    /// The position of its space in the catalog's spaces.
    space: usize,
    /// Its schedule of statuses.
    pub(crate) timeline: Timeline,
    seed: u64,
    /// The rendered body of each phase, filled on first use.
    rendered: Box<[OnceLock<Bytes>]>,
}

/// Every task of every space.
#[derive(Debug)]
pub(crate) struct Catalog {
    spaces: Box<[SpaceIdentifier]>,
    /// The tasks, space by space.
    tasks: Box<[CatalogTask]>,
    /// Where each space's tasks lie in `tasks`.
    space_ranges: Box<[Range<usize>]>,
    by_identifier: HashMap<Box<str>, usize>,
    anchor_unix_millis: i64,
}

/// A ULID-looking identifier: 10 characters of time, 16 of randomness.
fn ulid(time_millis: u64, rng: &mut SeededRng) -> String {
    let time = (0..10)
        .rev()
        .map(|group| CROCKFORD[((time_millis >> (5 * group)) & 31) as usize]);
    let random = (0..16).map(|_| CROCKFORD[rng.below(32) as usize]);
    time.chain(random).map(char::from).collect()
}

impl Catalog {
    /// Generates `per_space` tasks for each space from `seed`; timestamps are written relative
    /// to `anchor_unix_millis`, the wall-clock time the simulator started.
    pub(crate) fn generate(
        spaces: Vec<SpaceIdentifier>,
        per_space: usize,
        seed: u64,
        anchor_unix_millis: i64,
    ) -> Self {
        let mut tasks = Vec::with_capacity(spaces.len() * per_space);
        let mut by_identifier = HashMap::with_capacity(spaces.len() * per_space);
        let mut naming = SeededRng::derive(seed, &[u64::MAX]);
        let mut space_ranges = Vec::with_capacity(spaces.len());
        for space in 0..spaces.len() {
            let start = tasks.len();
            for index in 0..per_space {
                let task_seed = SeededRng::derive(seed, &[space as u64, index as u64]).next_u64();
                // Interleaved across spaces, a few tens of seconds apart, as tasks arrive.
                let order = (index * spaces.len() + space) as u64;
                let time = IDENTIFIER_EPOCH_MILLIS + order * 40_000 + naming.below(40_000);
                let identifier = loop {
                    let candidate = ulid(time, &mut naming);
                    if !by_identifier.contains_key(candidate.as_str()) {
                        break candidate;
                    }
                };
                let Ok(parsed) = identifier.parse::<TaskIdentifier>() else {
                    continue;
                };
                by_identifier.insert(identifier.into_boxed_str(), tasks.len());
                let timeline = Timeline::plan(&mut SeededRng::derive(task_seed, &[2]));
                let rendered = timeline.phases().iter().map(|_| OnceLock::new()).collect();
                tasks.push(CatalogTask {
                    identifier: parsed,
                    space,
                    timeline,
                    seed: task_seed,
                    rendered,
                });
            }
            space_ranges.push(start..tasks.len());
        }
        Self {
            spaces: spaces.into_boxed_slice(),
            tasks: tasks.into_boxed_slice(),
            space_ranges: space_ranges.into_boxed_slice(),
            by_identifier,
            anchor_unix_millis,
        }
    }

    /// The spaces, in configuration order.
    pub(crate) fn spaces(&self) -> &[SpaceIdentifier] {
        &self.spaces
    }

    /// The position of `space` among the spaces.
    pub(crate) fn space_index(&self, space: &str) -> Option<usize> {
        self.spaces.iter().position(|known| known.as_str() == space)
    }

    /// The tasks of the space at `space`.
    pub(crate) fn tasks_in(&self, space: usize) -> &[CatalogTask] {
        match self.space_ranges.get(space) {
            Some(range) => &self.tasks[range.clone()],
            None => &[],
        }
    }

    /// The task `identifier` of the space at `space`; `None` if it does not exist or belongs to
    /// another space.
    pub(crate) fn find(&self, space: usize, identifier: &str) -> Option<&CatalogTask> {
        let task = &self.tasks[*self.by_identifier.get(identifier)?];
        (task.space == space).then_some(task)
    }

    /// The body of `task` as it reads `elapsed` milliseconds after the simulator started.
    pub(crate) fn body(&self, task: &CatalogTask, elapsed: i64) -> Bytes {
        let phase = task.timeline.phase_at(elapsed);
        match task.rendered.get(phase) {
            Some(cell) => cell.get_or_init(|| self.render(task, phase)).clone(),
            None => self.render(task, phase),
        }
    }

    /// Renders every task that is settled `elapsed` milliseconds after the start, so even the
    /// first request for one is served from memory. Tasks still in progress are rendered by
    /// the first request that sees each of their phases.
    pub(crate) fn prerender_settled(&self, elapsed: i64) {
        for task in &self.tasks {
            let phase = task.timeline.phase_at(elapsed);
            let cell = task.rendered.get(phase);
            if let Some(cell) = cell.filter(|_| task.timeline.status_at(elapsed).is_settled()) {
                cell.get_or_init(|| self.render(task, phase));
            }
        }
    }

    fn render(&self, task: &CatalogTask, phase: usize) -> Bytes {
        DocumentSource {
            identifier: &task.identifier,
            timeline: &task.timeline,
            seed: task.seed,
            anchor_unix_millis: self.anchor_unix_millis,
        }
        .render(phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(seed: u64) -> Catalog {
        let spaces = vec!["one".parse().unwrap(), "two".parse().unwrap()];
        Catalog::generate(spaces, 50, seed, 1_750_000_000_000)
    }

    #[test]
    fn identifiers_are_ulid_shaped_unique_and_the_same_for_the_same_seed() {
        let (a, b, c) = (catalog(1), catalog(1), catalog(2));
        let ids = |catalog: &Catalog| -> Vec<String> {
            catalog
                .tasks
                .iter()
                .map(|task| task.identifier.to_string())
                .collect()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&c));
        assert_eq!(a.by_identifier.len(), 100);
        for id in ids(&a) {
            assert_eq!(id.len(), 26, "{id}");
            assert!(id.starts_with("01J"), "{id}");
            assert!(id.bytes().all(|byte| CROCKFORD.contains(&byte)), "{id}");
        }
    }

    #[test]
    fn a_task_is_found_only_in_its_own_space() {
        let catalog = catalog(1);
        let first_of_two = catalog.tasks_in(1)[0].identifier.to_string();
        assert!(catalog.find(1, &first_of_two).is_some());
        assert!(catalog.find(0, &first_of_two).is_none());
        assert!(catalog.find(1, "01JNOTATASK").is_none());
        assert_eq!(catalog.tasks_in(0).len(), 50);
        assert!(catalog.tasks_in(2).is_empty());
    }

    #[test]
    fn a_body_is_rendered_once_per_phase_and_then_shared() {
        let catalog = catalog(1);
        let task = &catalog.tasks[0];
        let first = catalog.body(task, 10_000_000);
        let second = catalog.body(task, 10_000_000);
        assert_eq!(first.as_ptr(), second.as_ptr());
    }
}
