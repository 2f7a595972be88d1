//! The global majority baseline.

use crate::{Error, Result};
use indievalue_catalog::{Catalog, Granularity, NO_ANSWER};
use indievalue_metrics::Prediction;
use indievalue_sampling::{AnswerMatrix, ProbeTask};
use serde::{Deserialize, Serialize};

/// The most common valid answer of every question in the training pool, per granularity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalMajority {
    polar: Vec<u8>,
    refined: Vec<u8>,
}

impl GlobalMajority {
    /// Counts the pool's answers (rows of `answers`).
    pub fn fit(catalog: &Catalog, answers: &AnswerMatrix, pool: &[usize]) -> GlobalMajority {
        let majority = |g: Granularity| -> Vec<u8> {
            let mut counts: Vec<Vec<u64>> = catalog
                .questions()
                .iter()
                .map(|q| vec![0; q.statements(g).len()])
                .collect();
            for &r in pool {
                for (q, &v) in answers.row(r, g).iter().enumerate() {
                    if v != NO_ANSWER {
                        counts[q][usize::from(v)] += 1;
                    }
                }
            }
            counts
                .iter()
                .map(|c| {
                    // Smallest index among the maxima.
                    let mut best = 0;
                    for (i, &n) in c.iter().enumerate() {
                        if n > c[best] {
                            best = i;
                        }
                    }
                    best as u8
                })
                .collect()
        };
        GlobalMajority {
            polar: majority(Granularity::Polar),
            refined: majority(Granularity::Refined),
        }
    }

    /// The majority statement of question `q`.
    pub fn predict(&self, question: usize, granularity: Granularity) -> u8 {
        match granularity {
            Granularity::Polar => self.polar[question],
            Granularity::Refined => self.refined[question],
        }
    }

    /// Predictions for every probe of every task.
    pub fn predictions(&self, catalog: &Catalog, tasks: &[ProbeTask]) -> Result<Vec<Prediction>> {
        let mut out = Vec::new();
        for task in tasks {
            for probe in &task.probes {
                let q = question_index(catalog, task.person, &probe.question)?;
                out.push(Prediction::new(
                    task.person,
                    task.setup,
                    &probe.question,
                    task.probe_granularity,
                    Some(self.predict(q, task.probe_granularity)),
                    probe.gold,
                    None,
                ));
            }
        }
        Ok(out)
    }
}

pub(crate) fn question_index(catalog: &Catalog, person: i64, id: &str) -> Result<usize> {
    catalog
        .question_index(id)
        .ok_or_else(|| Error::UnknownQuestion {
            person,
            question: id.to_owned(),
        })
}
