//! # indievalue-baselines
//!
//! The statistical baselines of Table 4, which are strong: the top-cluster baseline beats every
//! zero-shot language model in the paper.
//!
//! - [`random_accuracy`]: the exact expected accuracy of a uniform random choice.
//! - [`GlobalMajority`]: per probe question, the most common valid answer in the training pool.
//! - [`ResembleIndex`] and [`resemble_sweep`]: resemble top-1 and top-k for every k in `1..=K` in
//!   one pass.
//!
//! ## Semantics
//!
//! - *Similarity* of a training person to a task is the number of the task's demonstrations
//!   (question, statement) that the training person answered with the same statement, at the
//!   demonstrations' granularity. A missing answer never matches.
//! - Training people are ranked by similarity, descending; ties are broken by ascending
//!   `D_INTERVIEW`.
//! - *Top-k* for a probe question takes the `k` best-ranked training people **who answered that
//!   question** (missing answers never vote) and predicts the statement most of them chose; a tie
//!   between statements goes to the statement of the best-ranked voter among the tied ones. Top-1
//!   is the answer of the best-ranked training person who answered the question, so top-k with
//!   k = 1 equals top-1.
//! - *Global* ties go to the smaller statement index. When nobody in the pool answered a
//!   question, global predicts statement 0 and top-k falls back to global.
//!
//! ## Speed
//!
//! Every training person's answers are one-hot bits over all (question, statement) pairs (567
//! bits, 9 words, for the polar catalog). A task's demonstrations are the same kind of mask, so
//! a similarity is an AND and a popcount over a few words, for every training person; tasks run
//! in parallel with rayon. Memory is proportional to the pool, never people x people.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use indievalue_catalog::{Catalog, Granularity, NO_ANSWER, Respondents};
use indievalue_metrics::Prediction;
use indievalue_sampling::{AnswerMatrix, ProbeSetup, ProbeTask};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Errors of the baselines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A task names a question the catalog does not have.
    #[error("task of person {person}: unknown question {question}")]
    UnknownQuestion {
        /// The person.
        person: i64,
        /// The question id.
        question: String,
    },
    /// The training pool is empty.
    #[error("the training pool is empty")]
    EmptyPool,
    /// k must be at least 1.
    #[error("k must be at least 1")]
    ZeroK,
    /// A task's demonstrations are not at the index's granularity.
    #[error(
        "task of person {person}: {found} demonstrations, but the index holds {expected} answers"
    )]
    Granularity {
        /// The person.
        person: i64,
        /// The index's granularity.
        expected: Granularity,
        /// The task's.
        found: Granularity,
    },
    /// A demonstration names a statement the question does not have.
    #[error("demonstration statement {statement} of question {question} is out of range")]
    Statement {
        /// Question position.
        question: usize,
        /// The statement index.
        statement: u8,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The exact expected accuracy (percent) of choosing uniformly at random, per setup: the mean
/// over the setup's probes of `1 / options`.
///
/// ```
/// let catalog = indievalue_catalog::Catalog::load(indievalue_catalog::mini_catalog_dir()).unwrap();
/// let setups = indievalue_sampling::ProbeSetup::paper(&catalog);
/// let r = indievalue_baselines::random_accuracy(&catalog, &setups, indievalue_catalog::Granularity::Polar);
/// assert!(r[0] > 30.0 && r[0] <= 50.0);
/// ```
pub fn random_accuracy(
    catalog: &Catalog,
    setups: &[ProbeSetup],
    granularity: Granularity,
) -> Vec<f64> {
    setups
        .iter()
        .map(|s| {
            let sum: f64 = s
                .questions()
                .iter()
                .map(|&q| 1.0 / catalog.questions()[q].statements(granularity).len() as f64)
                .sum();
            100.0 * sum / s.questions().len().max(1) as f64
        })
        .collect()
}

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
                out.push(Prediction {
                    person: task.person,
                    setup: task.setup,
                    question: probe.question.clone(),
                    granularity: task.probe_granularity,
                    predicted: Some(self.predict(q, task.probe_granularity)),
                    gold: probe.gold,
                    probabilities: None,
                });
            }
        }
        Ok(out)
    }
}

fn question_index(catalog: &Catalog, person: i64, id: &str) -> Result<usize> {
    catalog
        .question_index(id)
        .ok_or_else(|| Error::UnknownQuestion {
            person,
            question: id.to_owned(),
        })
}

/// The training pool's answers as one-hot bits over (question, statement) pairs, at the
/// demonstrations' granularity, ranked by `D_INTERVIEW` for tie-breaking.
#[derive(Debug, Clone)]
pub struct ResembleIndex {
    granularity: Granularity,
    /// Bit offset of each question's first statement (one more entry: the total).
    offsets: Vec<usize>,
    words: usize,
    /// `pool.len() x words`.
    bits: Vec<u64>,
    /// Respondent rows of the pool, ascending by id.
    rows: Vec<usize>,
}

impl ResembleIndex {
    /// Packs the pool (respondent rows) at the demonstrations' granularity.
    pub fn build(
        catalog: &Catalog,
        people: &Respondents,
        answers: &AnswerMatrix,
        pool: &[usize],
        granularity: Granularity,
    ) -> Result<ResembleIndex> {
        if pool.is_empty() {
            return Err(Error::EmptyPool);
        }
        let mut offsets = Vec::with_capacity(catalog.questions().len());
        let mut total = 0;
        for q in catalog.questions() {
            offsets.push(total);
            total += q.statements(granularity).len();
        }
        offsets.push(total);
        let words = total.div_ceil(64);
        let mut rows = pool.to_vec();
        rows.sort_by_key(|&r| people.ids()[r]);
        let mut bits = vec![0u64; rows.len() * words];
        bits.par_chunks_mut(words)
            .zip(rows.par_iter())
            .for_each(|(out, &r)| {
                for (q, &v) in answers.row(r, granularity).iter().enumerate() {
                    if v != NO_ANSWER {
                        let bit = offsets[q] + usize::from(v);
                        out[bit / 64] |= 1 << (bit % 64);
                    }
                }
            });
        Ok(ResembleIndex {
            granularity,
            offsets,
            words,
            bits,
            rows,
        })
    }

    /// Training people in the pool.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the pool is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The granularity of the packed answers.
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }

    /// The mask of a list of (question position, statement) demonstrations, at the index's
    /// granularity; a question or statement out of range is an error.
    pub fn mask(&self, demonstrations: &[(usize, u8)]) -> Result<Vec<u64>> {
        let mut mask = vec![0u64; self.words];
        for &(q, s) in demonstrations {
            let out_of_range = Error::Statement {
                question: q,
                statement: s,
            };
            if q + 1 >= self.offsets.len() {
                return Err(out_of_range);
            }
            let bit = self.offsets[q] + usize::from(s);
            if bit >= self.offsets[q + 1] {
                return Err(out_of_range);
            }
            mask[bit / 64] |= 1 << (bit % 64);
        }
        Ok(mask)
    }

    /// The mask of a task's demonstrations, checking their granularity.
    fn task_mask(&self, catalog: &Catalog, task: &ProbeTask) -> Result<Vec<u64>> {
        if task.demo_granularity != self.granularity {
            return Err(Error::Granularity {
                person: task.person,
                expected: self.granularity,
                found: task.demo_granularity,
            });
        }
        let demos = task
            .demonstrations
            .iter()
            .map(|d| {
                Ok((
                    question_index(catalog, task.person, &d.question)?,
                    d.statement,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.mask(&demos)
    }

    /// Similarity of every pool member (in rank order) to a mask.
    pub fn similarities(&self, mask: &[u64], out: &mut Vec<u16>) {
        out.clear();
        out.extend(self.bits.chunks_exact(self.words).map(|person| {
            person
                .iter()
                .zip(mask)
                .map(|(a, b)| (a & b).count_ones())
                .sum::<u32>() as u16
        }));
    }

    /// Pool positions ordered by similarity (descending), ties by rank (ascending id).
    pub fn ranking(similarities: &[u16]) -> Vec<u32> {
        let max = similarities.iter().copied().max().unwrap_or(0) as usize;
        // Counting sort, stable: buckets from the highest similarity down.
        let mut starts = vec![0usize; max + 2];
        for &s in similarities {
            starts[max - s as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut order = vec![0u32; similarities.len()];
        for (i, &s) in similarities.iter().enumerate() {
            let b = max - s as usize;
            order[starts[b]] = i as u32;
            starts[b] += 1;
        }
        order
    }
}

/// Resemble top-1 on its own: for every probe, the answer of the best-ranked training person who
/// answered it (global majority when nobody did). [`resemble_sweep`] with k = 1 gives the same.
pub fn resemble_top1(
    catalog: &Catalog,
    answers: &AnswerMatrix,
    index: &ResembleIndex,
    global: &GlobalMajority,
    tasks: &[ProbeTask],
) -> Result<Vec<Prediction>> {
    let per_task: Vec<Vec<Prediction>> = tasks
        .par_iter()
        .map_init(Vec::new, |sims, task| -> Result<Vec<Prediction>> {
            index.similarities(&index.task_mask(catalog, task)?, sims);
            let order = ResembleIndex::ranking(sims);
            let g = task.probe_granularity;
            task.probes
                .iter()
                .map(|probe| {
                    let q = question_index(catalog, task.person, &probe.question)?;
                    let predicted = order
                        .iter()
                        .find_map(|&pos| answers.answer(index.rows[pos as usize], q, g))
                        .unwrap_or_else(|| global.predict(q, g));
                    Ok(Prediction {
                        person: task.person,
                        setup: task.setup,
                        question: probe.question.clone(),
                        granularity: g,
                        predicted: Some(predicted),
                        gold: probe.gold,
                        probabilities: None,
                    })
                })
                .collect()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(per_task.into_iter().flatten().collect())
}

/// Accuracy (percent) of one k of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// k.
    pub k: usize,
    /// Mean over people, per setup.
    pub per_setup: BTreeMap<usize, f64>,
    /// Mean of the per-setup accuracies.
    pub average: f64,
}

/// The result of [`resemble_sweep`].
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Accuracy for every k in `1..=max_k`.
    pub points: Vec<SweepPoint>,
    /// Full predictions for the k asked for in `keep`.
    pub predictions: BTreeMap<usize, Vec<Prediction>>,
}

/// Runs resemble top-k for every k in `1..=max_k` in one pass over the tasks, keeping the full
/// predictions for the k in `keep` (1 is top-1). Demonstrations must be at the index's
/// granularity; probes may be at either.
pub fn resemble_sweep(
    catalog: &Catalog,
    answers: &AnswerMatrix,
    index: &ResembleIndex,
    global: &GlobalMajority,
    tasks: &[ProbeTask],
    max_k: usize,
    keep: &[usize],
) -> Result<Sweep> {
    if max_k == 0 {
        return Err(Error::ZeroK);
    }
    struct TaskResult {
        /// right[k-1] over the task's probes.
        right: Vec<u32>,
        probes: u32,
        kept: Vec<(usize, Vec<Prediction>)>,
    }
    let results: Vec<TaskResult> = tasks
        .par_iter()
        .map_init(Vec::new, |sims, task| -> Result<TaskResult> {
            index.similarities(&index.task_mask(catalog, task)?, sims);
            let order = ResembleIndex::ranking(sims);
            let g = task.probe_granularity;
            let mut right = vec![0u32; max_k];
            let mut kept: Vec<(usize, Vec<Prediction>)> =
                keep.iter().map(|&k| (k, Vec::new())).collect();
            for probe in &task.probes {
                let q = question_index(catalog, task.person, &probe.question)?;
                let options = catalog.questions()[q].statements(g).len();
                let mut votes = vec![0u32; options];
                // First rank (position in the walk) at which each statement got a vote.
                let mut first_seen = vec![u32::MAX; options];
                let mut voters = 0;
                let mut prediction = global.predict(q, g);
                let mut walk = order.iter();
                for k in 1..=max_k {
                    // Next voter who answered q.
                    let mut found = false;
                    for &pos in walk.by_ref() {
                        let row = index.rows[pos as usize];
                        if let Some(s) = answers.answer(row, q, g) {
                            let s = usize::from(s);
                            votes[s] += 1;
                            if first_seen[s] == u32::MAX {
                                first_seen[s] = voters;
                            }
                            voters += 1;
                            found = true;
                            break;
                        }
                    }
                    if found {
                        let mut best = 0;
                        for s in 1..options {
                            if votes[s] > votes[best]
                                || (votes[s] == votes[best] && first_seen[s] < first_seen[best])
                            {
                                best = s;
                            }
                        }
                        prediction = best as u8;
                    }
                    // With fewer than k voters, the prediction of all voters stands.
                    right[k - 1] += u32::from(prediction == probe.gold);
                    if let Some((_, list)) = kept.iter_mut().find(|(kk, _)| *kk == k) {
                        list.push(Prediction {
                            person: task.person,
                            setup: task.setup,
                            question: probe.question.clone(),
                            granularity: g,
                            predicted: Some(prediction),
                            gold: probe.gold,
                            probabilities: None,
                        });
                    }
                }
            }
            Ok(TaskResult {
                right,
                probes: task.probes.len() as u32,
                kept,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // Person accuracy = mean over their setups; setup accuracy = mean over people.
    let mut points = Vec::with_capacity(max_k);
    for k in 1..=max_k {
        let mut per_setup: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
        for (task, r) in tasks.iter().zip(&results) {
            if r.probes > 0 {
                let e = per_setup.entry(task.setup).or_default();
                e.0 += 100.0 * f64::from(r.right[k - 1]) / f64::from(r.probes);
                e.1 += 1;
            }
        }
        let per_setup: BTreeMap<usize, f64> = per_setup
            .into_iter()
            .map(|(s, (sum, n))| (s, sum / n as f64))
            .collect();
        let average = per_setup.values().sum::<f64>() / per_setup.len().max(1) as f64;
        points.push(SweepPoint {
            k,
            per_setup,
            average,
        });
    }
    let mut predictions: BTreeMap<usize, Vec<Prediction>> = BTreeMap::new();
    for r in results {
        for (k, list) in r.kept {
            predictions.entry(k).or_default().extend(list);
        }
    }
    Ok(Sweep {
        points,
        predictions,
    })
}
