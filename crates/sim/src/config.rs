//! `SimConfig`: what the simulated installation holds and how it answers.

use std::time::Duration;

use alumio_models::SpaceIdentifier;
use secrecy::SecretString;

/// The most tasks a simulator holds over all its spaces; `tasks_per_space` is lowered to fit.
pub const MAX_TASKS: usize = 1_000_000;

/// The spaces of [`SimConfig::default`].
pub const DEFAULT_SPACES: [&str; 3] = ["acme-prod", "acme-staging", "globex"];

/// How a [`Simulator`](crate::Simulator) is set up. `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The bearer token every task request must carry; `None` checks nothing.
    pub token: Option<SecretString>,
    /// The spaces that hold tasks, in order. Duplicates are dropped; an empty list means just
    /// `default_space`. Default: `acme-prod`, `acme-staging`, `globex`.
    pub spaces: Vec<SpaceIdentifier>,
    /// How many tasks each space holds (at most [`MAX_TASKS`] over all spaces). Default: 1000.
    pub tasks_per_space: usize,
    /// Decides every generated task, schedule and error-rate draw. Default: 42.
    pub seed: u64,
    /// Added to every task reply; can be changed later through
    /// [`FaultControls::set_latency`](crate::FaultControls::set_latency). Default: none.
    pub latency: Duration,
    /// The space of a request without `space`. If it is not one of `spaces`, the first space
    /// is used instead. Default: the first default space, `acme-prod`.
    pub default_space: SpaceIdentifier,
}

/// One of the constant space names above; they are valid, which the tests check.
fn constant_space(name: &'static str) -> SpaceIdentifier {
    name.parse()
        .unwrap_or_else(|_| panic!("the constant space name {name:?} is valid"))
}

impl Default for SimConfig {
    fn default() -> Self {
        let spaces: Vec<SpaceIdentifier> = DEFAULT_SPACES.into_iter().map(constant_space).collect();
        Self {
            token: None,
            default_space: constant_space(DEFAULT_SPACES[0]),
            spaces,
            tasks_per_space: 1000,
            seed: 42,
            latency: Duration::ZERO,
        }
    }
}

impl SimConfig {
    /// The spaces without duplicates, never empty, and how many tasks each gets.
    pub(crate) fn normalised_spaces(&self) -> (Vec<SpaceIdentifier>, usize) {
        let mut spaces: Vec<SpaceIdentifier> = Vec::with_capacity(self.spaces.len());
        for space in &self.spaces {
            if !spaces.contains(space) {
                spaces.push(space.clone());
            }
        }
        if spaces.is_empty() {
            spaces.push(self.default_space.clone());
        }
        let per_space = self.tasks_per_space.min(MAX_TASKS / spaces.len());
        (spaces, per_space)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_has_three_spaces_and_a_thousand_tasks_each() {
        let config = SimConfig::default();
        assert_eq!(config.spaces.len(), 3);
        assert_eq!(config.default_space, config.spaces[0]);
        assert_eq!(config.normalised_spaces().1, 1000);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = SimConfig {
            token: Some(SecretString::from("hunter2-token")),
            ..SimConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    #[test]
    fn duplicate_spaces_are_dropped_and_no_spaces_means_the_default_one() {
        let globex: SpaceIdentifier = "globex".parse().unwrap();
        let config = SimConfig {
            spaces: vec![globex.clone(), globex.clone()],
            tasks_per_space: usize::MAX,
            ..SimConfig::default()
        };
        assert_eq!(config.normalised_spaces(), (vec![globex], MAX_TASKS));
        let empty = SimConfig {
            spaces: Vec::new(),
            ..SimConfig::default()
        };
        assert_eq!(
            empty.normalised_spaces().0,
            vec![empty.default_space.clone()]
        );
    }
}
