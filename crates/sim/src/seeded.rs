//! A small seeded pseudo-random generator (SplitMix64), so the same seed always yields the same
//! tasks, schedules and error-rate decisions, on every machine.

/// SplitMix64's output function: a good 64-bit mix of `value`, used on its own for one-off
/// decisions such as whether request number `n` falls within the error rate.
pub(crate) fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Maps 64 random bits to a float in `[0, 1)`.
pub(crate) fn unit_interval(bits: u64) -> f64 {
    // The top 53 bits fill an f64 mantissa exactly.
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

/// A deterministic stream of pseudo-random numbers.
#[derive(Debug, Clone)]
pub(crate) struct SeededRng {
    state: u64,
}

impl SeededRng {
    const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    /// A stream for `seed` and a path of stream numbers (space index, task index, ...), so each
    /// task gets its own stream that does not depend on how many numbers another task drew.
    pub(crate) fn derive(seed: u64, path: &[u64]) -> Self {
        let state = path.iter().fold(mix(seed), |state, &step| {
            mix(state ^ mix(step.wrapping_add(Self::GOLDEN_GAMMA)))
        });
        Self { state }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(Self::GOLDEN_GAMMA);
        mix(self.state)
    }

    /// A number in `0..bound`; 0 when `bound` is 0.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Multiply-shift keeps the bias negligible for the small bounds used here.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A number in `low..=high`; `low` when the range is empty.
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low).saturating_add(1))
    }

    /// True with the given chance, in percent.
    pub(crate) fn percent(&mut self, chance: u64) -> bool {
        self.below(100) < chance
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let index = self.below(items.len() as u64) as usize;
        &items[index]
    }

    /// The index chosen by weight: index `i` with chance `weights[i] / sum(weights)`.
    pub(crate) fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut roll = self.below(weights.iter().sum());
        for (index, &weight) in weights.iter().enumerate() {
            if roll < weight {
                return index;
            }
            roll -= weight;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_path_give_the_same_stream() {
        let mut a = SeededRng::derive(7, &[1, 2]);
        let mut b = SeededRng::derive(7, &[1, 2]);
        let mut c = SeededRng::derive(7, &[2, 1]);
        let first: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        assert_eq!(first, (0..4).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(first, (0..4).map(|_| c.next_u64()).collect::<Vec<_>>());
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut rng = SeededRng::derive(1, &[]);
        for _ in 0..1000 {
            assert!(rng.below(7) < 7);
            assert!((3..=5).contains(&rng.between(3, 5)));
            assert!(rng.weighted(&[1, 0, 3]) != 1);
            assert!((0.0..1.0).contains(&unit_interval(rng.next_u64())));
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.between(9, 2), 9);
    }
}
