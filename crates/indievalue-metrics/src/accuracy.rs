//! Accuracy per person, setup, category and overall; log-loss and Brier score.

use crate::{Error, Prediction, Result};
use indievalue_catalog::rng::Rng;
use indievalue_catalog::{Catalog, Category};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Settings of the bootstrap interval over people.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Resamples (0 disables the interval).
    pub samples: usize,
    /// Seed of the resampling.
    pub seed: u64,
    /// Coverage of the interval (0.95: the 2.5th and 97.5th percentiles).
    pub level: f64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            samples: 1000,
            seed: 0,
            level: 0.95,
        }
    }
}

/// Accuracy of one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryAccuracy {
    /// The category.
    pub category: Category,
    /// Percent correct over all its records.
    pub accuracy: f64,
    /// Records.
    pub records: usize,
}

/// Accuracy of a reasoner, in percent.
///
/// A person's accuracy is the mean over the setups they were probed in of the fraction of that
/// setup's probes answered right (§2.2); with equally many probes per setup this is the mean over
/// all their probes. The overall accuracy and each setup's accuracy are means over people; a
/// category's accuracy is the fraction right over all records of the category. A prediction of
/// `None` counts as wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReport {
    /// People.
    pub people: usize,
    /// Records.
    pub records: usize,
    /// Records without a usable prediction.
    pub unanswered: usize,
    /// Mean of the people's accuracies.
    pub overall: f64,
    /// Lower end of the bootstrap interval over people.
    pub ci_low: f64,
    /// Upper end of the bootstrap interval over people.
    pub ci_high: f64,
    /// Mean over people, per setup.
    pub per_setup: BTreeMap<usize, f64>,
    /// Per category, catalog order of categories.
    pub per_category: Vec<CategoryAccuracy>,
    /// Every person's accuracy, ascending by id.
    pub per_person: Vec<(i64, f64)>,
    /// Mean negative log-probability of the gold option, when every record has probabilities.
    pub log_loss: Option<f64>,
    /// Mean Brier score (sum over options of squared error), when every record has
    /// probabilities.
    pub brier: Option<f64>,
}

impl AccuracyReport {
    /// Computes the report, validating every record against the catalog.
    pub fn compute(
        catalog: &Catalog,
        predictions: &[Prediction],
        bootstrap: &Bootstrap,
    ) -> Result<AccuracyReport> {
        if predictions.is_empty() {
            return Err(Error::Invalid("no predictions".into()));
        }
        // person -> setup -> (right, total)
        let mut by_person: BTreeMap<i64, BTreeMap<usize, (usize, usize)>> = BTreeMap::new();
        let mut by_category: BTreeMap<Category, (usize, usize)> = BTreeMap::new();
        let mut unanswered = 0;
        let mut seen = std::collections::HashSet::with_capacity(predictions.len());
        let (mut log_loss, mut brier, mut with_probs) = (0.0f64, 0.0f64, 0usize);
        for p in predictions {
            let q = catalog
                .question(&p.question)
                .ok_or_else(|| Error::Invalid(format!("unknown question {}", p.question)))?;
            let options = q.statements(p.granularity).len();
            if usize::from(p.gold) >= options
                || p.predicted.is_some_and(|v| usize::from(v) >= options)
            {
                return Err(Error::Invalid(format!(
                    "person {} question {}: index out of range (gold {}, predicted {:?}, {options} options)",
                    p.person, p.question, p.gold, p.predicted
                )));
            }
            if !seen.insert((p.person, p.setup, p.question.as_str())) {
                return Err(Error::Invalid(format!(
                    "person {} setup {} question {} is predicted twice",
                    p.person, p.setup, p.question
                )));
            }
            let right = usize::from(p.correct());
            unanswered += usize::from(p.predicted.is_none());
            let cell = by_person
                .entry(p.person)
                .or_default()
                .entry(p.setup)
                .or_default();
            cell.0 += right;
            cell.1 += 1;
            let cat = by_category.entry(q.category()).or_default();
            cat.0 += right;
            cat.1 += 1;
            if let Some(probs) = &p.probabilities {
                if probs.len() != options {
                    return Err(Error::Invalid(format!(
                        "person {} question {}: {} probabilities for {options} options",
                        p.person,
                        p.question,
                        probs.len()
                    )));
                }
                with_probs += 1;
                let gold = f64::from(probs[usize::from(p.gold)]);
                log_loss -= gold.max(1e-12).ln();
                brier += probs
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| {
                        let target = if j == usize::from(p.gold) { 1.0 } else { 0.0 };
                        (f64::from(v) - target).powi(2)
                    })
                    .sum::<f64>();
            }
        }
        let mut per_setup_sum: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
        let per_person: Vec<(i64, f64)> = by_person
            .iter()
            .map(|(&person, setups)| {
                let mut sum = 0.0;
                for (&setup, &(right, total)) in setups {
                    let acc = 100.0 * right as f64 / total as f64;
                    sum += acc;
                    let s = per_setup_sum.entry(setup).or_default();
                    s.0 += acc;
                    s.1 += 1;
                }
                (person, sum / setups.len() as f64)
            })
            .collect();
        let accuracies: Vec<f64> = per_person.iter().map(|&(_, a)| a).collect();
        let overall = mean(&accuracies);
        let (ci_low, ci_high) = bootstrap_interval(&accuracies, bootstrap);
        let all_probs = with_probs == predictions.len();
        Ok(AccuracyReport {
            people: per_person.len(),
            records: predictions.len(),
            unanswered,
            overall,
            ci_low,
            ci_high,
            per_setup: per_setup_sum
                .into_iter()
                .map(|(s, (sum, n))| (s, sum / n as f64))
                .collect(),
            per_category: by_category
                .into_iter()
                .map(|(category, (right, total))| CategoryAccuracy {
                    category,
                    accuracy: 100.0 * right as f64 / total as f64,
                    records: total,
                })
                .collect(),
            per_person,
            log_loss: all_probs.then(|| log_loss / with_probs as f64),
            brier: all_probs.then(|| brier / with_probs as f64),
        })
    }

    /// A few lines for a terminal: the accuracy with its interval over people, each setup's,
    /// and the log-loss and Brier score where every record has probabilities.
    ///
    /// ```
    /// # use indievalue_metrics::{AccuracyReport, Bootstrap, Prediction};
    /// # use indievalue_catalog::Granularity;
    /// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// let right = Prediction::new(1, 0, "V1", Granularity::Polar, Some(0), 0, None);
    /// let report = AccuracyReport::compute(&catalog, &[right], &Bootstrap::default()).unwrap();
    /// assert!(report.text_summary().starts_with("accuracy 100.00 %"));
    /// assert!(report.text_summary().contains("setup 1: 100.00 %"));
    /// ```
    pub fn text_summary(&self) -> String {
        let mut out = format!(
            "accuracy {:.2} % (95% CI {:.2}-{:.2}) over {} people\n",
            self.overall,
            self.ci_low,
            self.ci_high,
            self.per_person.len()
        );
        for (setup, acc) in &self.per_setup {
            out.push_str(&format!("  setup {}: {acc:.2} %\n", setup + 1));
        }
        if let Some(l) = self.log_loss {
            let brier = self.brier.unwrap_or(f64::NAN);
            out.push_str(&format!("log-loss {l:.4}, Brier {brier:.4}\n"));
        }
        out
    }

    /// The mean of the per-setup accuracies (the paper's "avg" column).
    pub fn setup_average(&self) -> f64 {
        crate::setup_average(self.per_setup.values())
    }

    /// Accuracy per category in the order of `categories` (0 where the report has none).
    pub fn category_series(&self, categories: &[indievalue_catalog::Category]) -> Vec<f64> {
        categories
            .iter()
            .map(|c| {
                self.per_category
                    .iter()
                    .find(|a| a.category == *c)
                    .map_or(0.0, |a| a.accuracy)
            })
            .collect()
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Percentile bootstrap of the mean over `values`.
fn bootstrap_interval(values: &[f64], settings: &Bootstrap) -> (f64, f64) {
    if settings.samples == 0 || values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = Rng::derive(
        settings.seed,
        &[indievalue_catalog::rng::label("bootstrap")],
    );
    let n = values.len();
    let mut means: Vec<f64> = (0..settings.samples)
        .map(|_| {
            let mut sum = 0.0;
            for _ in 0..n {
                sum += values[rng.below(n as u64) as usize];
            }
            sum / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - settings.level) / 2.0;
    let at = |q: f64| {
        let i = ((q * (settings.samples - 1) as f64).round() as usize).min(settings.samples - 1);
        means[i]
    };
    (at(tail), at(1.0 - tail))
}
