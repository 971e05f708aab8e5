//! Redis key names. A task's keys are derived from its validated (identifier, space) and the
//! purge generations that cover it, hashed, so no identifier can shape another key and no
//! space can reach another's; a hash tag keeps a task's value, lease and backoff in one
//! cluster slot, and the control keys share a tag of their own.

use std::collections::HashMap;

use alumio_models::SpaceIdentifier;
use sha2::{Digest, Sha256};

use crate::key::TaskKey;

/// Versions the derivation itself: changing how keys are hashed changes this.
const DERIVATION: &[u8] = b"alumio-gateway/shared-tier/key/v1";

/// The purge generations a replica knows. Bumping one makes every value it covers
/// unreachable at once: a new name, the old one left to expire by its TTL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generations {
    /// Bumped by a purge of everything; such a purge also resets the others.
    pub all: u64,
    /// Bumped by a purge of requests made without `space`.
    pub without_space: u64,
    /// Bumped per space by a purge of that space; spaces never purged are absent (zero).
    pub spaces: HashMap<SpaceIdentifier, u64>,
}

impl Generations {
    /// The generation of `space` (or of requests without one).
    pub fn of(&self, space: Option<&str>) -> u64 {
        match space {
            Some(space) => self.spaces.get(space).copied().unwrap_or(0),
            None => self.without_space,
        }
    }
}

/// The field of the generations hash that holds `space`'s generation.
pub(crate) fn generation_field(space: Option<&SpaceIdentifier>) -> String {
    match space {
        Some(space) => format!("s:{}", space.as_str()),
        None => "nospace".into(),
    }
}

/// Names keys under one prefix.
#[derive(Debug, Clone)]
pub struct KeySpace {
    prefix: String,
}

/// The keys of one task under one set of generations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskKeys {
    /// The hex digest naming the task; also the notice published when its value is stored.
    pub id: String,
    /// The encoded answer.
    pub value: String,
    /// The fetch lease, holding the winner's fencing token.
    pub lease: String,
    /// The shared failure backoff: the remembered failure, expiring when the backoff ends.
    pub backoff: String,
    /// Consecutive failures, so the backoff doubles across the fleet.
    pub failures: String,
}

impl KeySpace {
    /// Keys under `prefix` (already validated: no braces).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The keys of `key` under `generations`.
    pub fn task(&self, key: &TaskKey, generations: &Generations) -> TaskKeys {
        let id = task_digest(key, generations);
        let tagged = format!("{}{{{id}}}", self.prefix);
        TaskKeys {
            value: format!("{tagged}:v"),
            lease: format!("{tagged}:l"),
            backoff: format!("{tagged}:b"),
            failures: format!("{tagged}:f"),
            id,
        }
    }

    /// The hash of purge generations.
    pub fn generations(&self) -> String {
        format!("{}{{control}}:generations", self.prefix)
    }

    /// The capped stream of purges every replica reads.
    pub fn purges(&self) -> String {
        format!("{}{{control}}:purges", self.prefix)
    }

    /// The pub/sub channel of notices: stored values and purges.
    pub fn notices(&self) -> String {
        format!("{}notices", self.prefix)
    }
}

/// SHA-256 over a length-prefixed encoding: every field is preceded by its length, so no
/// choice of identifier can make two different (identifier, space) pairs encode alike, and
/// a key without a space is tagged apart from every space.
fn task_digest(key: &TaskKey, generations: &Generations) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(DERIVATION);
    field(&generations.all.to_be_bytes());
    field(&generations.of(key.space()).to_be_bytes());
    field(key.identifier().as_bytes());
    match key.space() {
        Some(space) => {
            field(b"space");
            field(space.as_bytes());
        }
        None => field(b"no-space"),
    }
    crate::hex::encode(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(identifier: &str, space: Option<&str>) -> TaskKey {
        TaskKey::new(
            identifier.parse().unwrap(),
            space.map(|space| space.parse().unwrap()),
        )
    }

    fn value_key(identifier: &str, space: Option<&str>) -> String {
        KeySpace::new("p:")
            .task(&key(identifier, space), &Generations::default())
            .value
    }

    #[test]
    fn spaces_never_share_a_key() {
        let a = value_key("task-1", Some("alpha"));
        assert_ne!(a, value_key("task-1", Some("beta")));
        assert_ne!(a, value_key("task-1", None));
        assert_eq!(
            a,
            value_key("task-1", Some("alpha")),
            "derivation is stable"
        );
    }

    #[test]
    fn an_identifier_cannot_imitate_another_pair() {
        // Without length prefixes "ab" + "c" and "a" + "bc" could hash alike.
        assert_ne!(value_key("ab", Some("c")), value_key("a", Some("bc")));
        assert_ne!(value_key("x-space", None), value_key("x", Some("space")));
    }

    #[test]
    fn a_tasks_keys_share_one_hash_tag_under_the_prefix() {
        let keys = KeySpace::new("fleet-a:").task(&key("t", None), &Generations::default());
        let tag = format!("{{{}}}", keys.id);
        for name in [&keys.value, &keys.lease, &keys.backoff, &keys.failures] {
            assert!(name.starts_with("fleet-a:{"), "{name}");
            assert!(name.contains(&tag), "{name}");
        }
        assert_eq!(keys.id.len(), 64);
        assert!(keys.id.bytes().all(|b| b.is_ascii_hexdigit()));
        let space = KeySpace::new("fleet-a:");
        assert!(space.generations().contains("{control}"));
        assert!(space.purges().contains("{control}"));
    }

    #[test]
    fn bumping_a_generation_renames_only_what_it_covers() {
        let keys = KeySpace::new("p:");
        let before = Generations::default();
        let mut after = before.clone();
        after.spaces.insert("alpha".parse().unwrap(), 1);
        let alpha = key("t", Some("alpha"));
        let beta = key("t", Some("beta"));
        assert_ne!(keys.task(&alpha, &before), keys.task(&alpha, &after));
        assert_eq!(keys.task(&beta, &before), keys.task(&beta, &after));
        let all = Generations {
            all: 1,
            ..Generations::default()
        };
        assert_ne!(keys.task(&beta, &before), keys.task(&beta, &all));
        let without = Generations {
            without_space: 1,
            ..Generations::default()
        };
        let plain = key("t", None);
        assert_ne!(keys.task(&plain, &before), keys.task(&plain, &without));
        assert_eq!(keys.task(&beta, &before), keys.task(&beta, &without));
    }
}
