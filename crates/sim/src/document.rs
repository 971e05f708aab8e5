//! Builds a task's JSON document for one phase of its life with the `alumio-models` types, and
//! brings it to its target size with free text so bodies weigh what real ones do.

use alumio_models::{DetailedTask, DetailedTaskResult, TaskIdentifier, TaskMeta, Timestamp};
use bytes::Bytes;

use crate::entities::{free_text, guid};
use crate::flows::Flow;
use crate::rfc3339::{self, Spelling};
use crate::seeded::SeededRng;
use crate::timeline::Timeline;

/// The smallest and largest target size of a task body, in bytes.
pub(crate) const TARGET_SIZE: (u64, u64) = (1580, 1820);

/// Everything a task's document is made from.
pub(crate) struct DocumentSource<'a> {
    /// The task's identifier.
    pub(crate) identifier: &'a TaskIdentifier,
    /// The task's schedule.
    pub(crate) timeline: &'a Timeline,
    /// The seed of the task's own random stream, so every phase carries the same entity.
    pub(crate) seed: u64,
    /// Wall-clock time of the simulator's start, in Unix milliseconds.
    pub(crate) anchor_unix_millis: i64,
}

impl DocumentSource<'_> {
    /// The task as it reads during phase `phase` of its timeline, and the flow it belongs to.
    fn task(&self, phase: usize) -> (DetailedTask, &'static Flow) {
        let mut rng = SeededRng::derive(self.seed, &[]);
        let flow = Flow::pick(&mut rng);
        let entity = (flow.make_entity)(&mut rng);
        let spelling = *rng.pick(&Spelling::ALL);
        let [incoming, outgoing, route, http_proxy] = flow.meta_items(rng.percent(30));
        let correlation_id = guid(&mut rng);

        let phases = self.timeline.phases();
        let current = &phases[phase.min(phases.len() - 1)];
        let at = |offset: i64| {
            Timestamp::new(rfc3339::format(
                self.anchor_unix_millis.saturating_add(offset),
                spelling,
            ))
        };
        let attempts = self.timeline.attempts_until(phase);
        let task = DetailedTask {
            identifier: Some(self.identifier.as_str().to_owned()),
            entity_type: Some(flow.entity_type.to_owned()),
            entity_identifier: Some(entity.identifier),
            entity_data: Some(entity.data),
            context: Some(flow.context(&correlation_id, &current.status, attempts)),
            status: Some(current.status.clone()),
            route: Some(flow.route_identifier().to_owned()),
            created_at: Some(at(self.timeline.created_at())),
            updated_at: Some(at(current.starts_at)),
            meta: Some(TaskMeta {
                incoming,
                outgoing,
                route,
                http_proxy,
                ..TaskMeta::default()
            }),
            ..DetailedTask::default()
        };
        (task, flow)
    }

    /// The `200` body for phase `phase`: `{"object": task}`, padded to the task's target size.
    pub(crate) fn render(&self, phase: usize) -> Bytes {
        let (task, flow) = self.task(phase);
        let result = DetailedTaskResult {
            object: Some(task),
            ..DetailedTaskResult::default()
        };
        let Ok(body) = serde_json::to_vec(&result) else {
            return Bytes::new();
        };
        // A stream of its own, so the target and the free text are the same in every phase.
        let mut rng = SeededRng::derive(self.seed, &[1]);
        let target = usize::try_from(rng.between(TARGET_SIZE.0, TARGET_SIZE.1)).unwrap_or(0);
        if body.len() >= target {
            return Bytes::from(body);
        }
        // The entity was made with the free-text property empty; the text is spliced into the
        // bytes rather than serializing twice. It is ASCII that JSON does not escape, so it adds
        // exactly its length.
        let empty_property = format!("\"{}\":\"", flow.free_text_property);
        let Some(at) = body.windows(empty_property.len() + 1).position(|window| {
            window.starts_with(empty_property.as_bytes()) && window.ends_with(b"\"")
        }) else {
            return Bytes::from(body);
        };
        let insert_at = at + empty_property.len();
        let text = free_text(&mut rng, target - body.len());
        let mut padded = Vec::with_capacity(target);
        padded.extend_from_slice(&body[..insert_at]);
        padded.extend_from_slice(text.as_bytes());
        padded.extend_from_slice(&body[insert_at..]);
        Bytes::from(padded)
    }
}
