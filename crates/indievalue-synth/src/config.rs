//! The generator's knobs.

use serde::{Deserialize, Serialize};

/// Knobs of the generator. `Default` gives the documented model with 1,000 people and seed 0.
///
/// ```
/// let c = indievalue_synth::SynthConfig::default();
/// assert_eq!(c.profiles, 8);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Number of distinct people (rows before duplicates).
    pub people: usize,
    /// Seed of everything.
    pub seed: u64,
    /// Number of latent value profiles.
    pub profiles: usize,
    /// Probability that a row is followed by a second interview row with the same `D_INTERVIEW`
    /// (the converter keeps the first).
    pub duplicate_rate: f64,
    /// Fraction of countries that skip some questions.
    pub skipping_countries: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            people: 1000,
            seed: 0,
            profiles: 8,
            duplicate_rate: 0.0,
            skipping_countries: 0.25,
        }
    }
}
