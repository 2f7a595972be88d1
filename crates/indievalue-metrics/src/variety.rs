//! Whether a reasoner's predictions depend on the person: how many distinct statements it
//! chose, and on how many probes different people got different answers.

use crate::Prediction;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How much a reasoner's predictions vary, over one set of predictions (one statement form).
///
/// A reasoner that learned only the answers' marginal gives every person the same statement for
/// a probe: `varying_probes` is 0 and `person_specific` 0 %. A probe is one (setup, question).
///
/// ```
/// use indievalue_catalog::Granularity;
/// use indievalue_metrics::{Prediction, PredictionVariety};
/// let p = |person, question: &str, predicted| Prediction::new(
///     person, 0, question, Granularity::Polar, Some(predicted), 0, None);
/// let v = PredictionVariety::of(&[p(1, "V1", 0), p(2, "V1", 1), p(1, "V2", 1), p(2, "V2", 1)]);
/// assert_eq!((v.probes, v.varying_probes, v.distinct_options), (2, 1, 2));
/// assert_eq!(v.person_specific, 25.0); // one of four predictions is off its probe's mode
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionVariety {
    /// Probes (setup, question) with at least one answered prediction.
    pub probes: usize,
    /// Probes on which not every person got the same statement.
    pub varying_probes: usize,
    /// Percent of answered predictions that differ from their probe's most common prediction.
    pub person_specific: f64,
    /// Distinct option positions chosen over all probes (0, 1, ...: how many of "the first
    /// statement", "the second statement", ... ever appear).
    pub distinct_options: usize,
    /// Predictions without a usable answer.
    pub unanswered: usize,
}

impl PredictionVariety {
    /// Measures `predictions`.
    pub fn of(predictions: &[Prediction]) -> PredictionVariety {
        let mut per_probe: BTreeMap<(usize, &str), BTreeMap<u8, usize>> = BTreeMap::new();
        let mut options = BTreeSet::new();
        let mut unanswered = 0;
        for p in predictions {
            match p.predicted {
                Some(o) => {
                    options.insert(o);
                    *per_probe
                        .entry((p.setup, p.question.as_str()))
                        .or_default()
                        .entry(o)
                        .or_default() += 1;
                }
                None => unanswered += 1,
            }
        }
        let (mut answered, mut off_mode) = (0usize, 0usize);
        for counts in per_probe.values() {
            let total: usize = counts.values().sum();
            let mode = counts.values().copied().max().unwrap_or(0);
            answered += total;
            off_mode += total - mode;
        }
        PredictionVariety {
            probes: per_probe.len(),
            varying_probes: per_probe.values().filter(|c| c.len() > 1).count(),
            person_specific: if answered == 0 {
                0.0
            } else {
                100.0 * off_mode as f64 / answered as f64
            },
            distinct_options: options.len(),
            unanswered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indievalue_catalog::Granularity;

    fn p(person: i64, setup: usize, question: &str, predicted: Option<u8>) -> Prediction {
        Prediction::new(
            person,
            setup,
            question,
            Granularity::Polar,
            predicted,
            0,
            None,
        )
    }

    #[test]
    fn one_answer_for_everyone_has_no_person_specific_predictions() {
        let all_same: Vec<_> = (1..=5).map(|i| p(i, 0, "V1", Some(2))).collect();
        let v = PredictionVariety::of(&all_same);
        assert_eq!((v.probes, v.varying_probes, v.distinct_options), (1, 0, 1));
        assert_eq!(v.person_specific, 0.0);
    }

    #[test]
    fn setups_are_separate_probes_and_unanswered_are_counted_apart() {
        let ps = [
            p(1, 0, "V1", Some(0)),
            p(2, 0, "V1", Some(0)),
            p(3, 0, "V1", Some(1)),
            p(4, 0, "V1", None),
            p(1, 1, "V1", Some(1)),
            p(2, 1, "V1", Some(1)),
        ];
        let v = PredictionVariety::of(&ps);
        assert_eq!((v.probes, v.varying_probes), (2, 1));
        assert_eq!(v.unanswered, 1);
        // One of five answered predictions is off its probe's mode.
        assert!((v.person_specific - 20.0).abs() < 1e-12);
        assert_eq!(v.distinct_options, 2);
    }
}
