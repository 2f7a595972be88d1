//! Resemble top-1 and the top-k sweep over a one-hot index of the training pool.

use crate::global::{GlobalMajority, question_index};
use crate::{Error, Result};
use indievalue_catalog::{Catalog, Granularity, NO_ANSWER, Respondents};
use indievalue_metrics::Prediction;
use indievalue_sampling::{AnswerMatrix, ProbeTask};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

    /// Respondent rows of the pool in rank order (ascending id).
    pub(crate) fn rows(&self) -> &[usize] {
        &self.rows
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
                    Ok(Prediction::new(
                        task.person,
                        task.setup,
                        &probe.question,
                        g,
                        Some(predicted),
                        probe.gold,
                        None,
                    ))
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
                        list.push(Prediction::new(
                            task.person,
                            task.setup,
                            &probe.question,
                            g,
                            Some(prediction),
                            probe.gold,
                            None,
                        ));
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
        let average = indievalue_metrics::setup_average(per_setup.values());
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
