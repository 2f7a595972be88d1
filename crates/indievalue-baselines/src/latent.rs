//! A latent class model of the training pool's answers (a mixture of independent categorical
//! answers per class), fitted by expectation-maximisation, and the posterior predictive of a
//! person's probe answers given their demonstrations.
//!
//! Every valid answer of a training person enters the likelihood; a missing one simply does not
//! (so no masking is needed to train, and any number of demonstrations can condition it). The
//! answer probabilities are smoothed towards the pool's frequencies with one pseudo-person per
//! class. Classes start from the answers of `classes` pool people (the first by the order key),
//! each mixed half-and-half with the pool's frequencies. Matrix products are candle's.

use crate::Result;
use candle_core::{Device, Tensor};
use indievalue_catalog::{Catalog, Granularity, NO_ANSWER};
use indievalue_sampling::AnswerMatrix;
use rayon::prelude::*;
use std::ops::Range;

/// Rows per parallel chunk of the row-wise passes (fixed, so sums are taken in the same order on
/// every run).
const CHUNK_ROWS: usize = 256;

/// The features of the model: every question at the demonstrations' granularity, then (when the
/// probes are at another granularity) every probed question again at the probes'.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AnswerFeatures {
    demo_granularity: Granularity,
    probe_granularity: Granularity,
    /// Feature range of every question's demonstration view.
    demo_blocks: Vec<Range<usize>>,
    /// Feature range of every question's probe view (`None` if no probe view of its own).
    probe_blocks: Vec<Option<Range<usize>>>,
    features: usize,
}

impl AnswerFeatures {
    /// The features for tasks with these granularities, probing `probed` question positions.
    pub fn new(
        catalog: &Catalog,
        demo_granularity: Granularity,
        probe_granularity: Granularity,
        probed: &[bool],
    ) -> AnswerFeatures {
        let mut features = 0;
        let mut demo_blocks = Vec::with_capacity(catalog.questions().len());
        for q in catalog.questions() {
            let n = q.statements(demo_granularity).len();
            demo_blocks.push(features..features + n);
            features += n;
        }
        let mut probe_blocks = Vec::with_capacity(catalog.questions().len());
        for (i, q) in catalog.questions().iter().enumerate() {
            if probe_granularity == demo_granularity {
                probe_blocks.push(Some(demo_blocks[i].clone()));
            } else if probed.get(i).copied().unwrap_or(false) {
                let n = q.statements(probe_granularity).len();
                probe_blocks.push(Some(features..features + n));
                features += n;
            } else {
                probe_blocks.push(None);
            }
        }
        AnswerFeatures {
            demo_granularity,
            probe_granularity,
            demo_blocks,
            probe_blocks,
            features,
        }
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Every block (question view) of the features.
    fn blocks(&self) -> impl Iterator<Item = &Range<usize>> {
        let extra = self
            .probe_blocks
            .iter()
            .flatten()
            .filter(move |r| r.start >= self.demo_blocks.last().map_or(0, |b| b.end));
        self.demo_blocks.iter().chain(extra)
    }

    /// The feature range of question `q`'s probe view.
    pub fn probe_block(&self, q: usize) -> Option<Range<usize>> {
        self.probe_blocks.get(q).cloned().flatten()
    }

    /// Writes person `row`'s answers into `out` (`features` long, zeroed): every valid answer.
    fn encode_person(&self, answers: &AnswerMatrix, row: usize, out: &mut [f32]) {
        for (q, &v) in answers.row(row, self.demo_granularity).iter().enumerate() {
            if v != NO_ANSWER && usize::from(v) < self.demo_blocks[q].len() {
                out[self.demo_blocks[q].start + usize::from(v)] = 1.0;
            }
        }
        if self.probe_granularity != self.demo_granularity {
            for (q, &v) in answers.row(row, self.probe_granularity).iter().enumerate() {
                if let Some(b) = &self.probe_blocks[q]
                    && v != NO_ANSWER
                    && usize::from(v) < b.len()
                {
                    out[b.start + usize::from(v)] = 1.0;
                }
            }
        }
    }

    /// Writes demonstrations (question position, statement) into `out` (`features` long,
    /// zeroed); those out of range are left out.
    pub fn encode_demonstrations(&self, demos: &[(u16, u8)], out: &mut [f32]) {
        for &(q, s) in demos {
            if let Some(b) = self.demo_blocks.get(usize::from(q))
                && usize::from(s) < b.len()
            {
                out[b.start + usize::from(s)] = 1.0;
            }
        }
    }
}

/// Settings of one fit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatentSettings {
    /// Classes.
    pub classes: usize,
    /// EM iterations at most.
    pub max_iterations: usize,
    /// Stop when an iteration raises the mean log-likelihood per person by less than this.
    pub tolerance: f64,
}

/// A fitted latent class model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LatentClasses {
    classes: usize,
    /// `features x classes`, row-major: log answer probabilities.
    log_theta: Vec<f32>,
    /// Log class priors.
    log_prior: Vec<f32>,
}

/// Softmax of a row, in place.
fn softmax(row: &mut [f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    row.iter_mut().for_each(|v| *v /= sum);
    max + sum.ln()
}

impl LatentClasses {
    /// Fits the model by EM on the pool people `rows` (those with the first `classes` rows as
    /// the classes' starting points).
    pub fn fit(
        features: &AnswerFeatures,
        answers: &AnswerMatrix,
        rows: &[usize],
        settings: &LatentSettings,
    ) -> Result<(LatentClasses, usize)> {
        let (n, f) = (rows.len(), features.features);
        let k = settings.classes.clamp(1, n.max(1));
        let mut x = vec![0f32; n * f];
        x.par_chunks_mut(f)
            .zip(rows.par_iter())
            .for_each(|(out, &r)| features.encode_person(answers, r, out));
        // Pool frequencies per block (the smoothing target).
        let totals: Vec<f32> = {
            let chunks: Vec<Vec<f32>> = x
                .par_chunks(CHUNK_ROWS * f)
                .map(|c| {
                    let mut t = vec![0f32; f];
                    for row in c.chunks(f) {
                        t.iter_mut().zip(row).for_each(|(a, b)| *a += b);
                    }
                    t
                })
                .collect();
            let mut t = vec![0f32; f];
            for c in chunks {
                t.iter_mut().zip(c).for_each(|(a, b)| *a += b);
            }
            t
        };
        let mut frequency = vec![0f32; f];
        for b in features.blocks() {
            let sum: f32 = totals[b.clone()].iter().sum();
            for i in b.clone() {
                frequency[i] = (totals[i] + 1.0) / (sum + b.len() as f32);
            }
        }
        // Start: class j from person j's answers, half-and-half with the frequencies.
        let mut theta = vec![0f32; f * k];
        for j in 0..k {
            let person = &x[j * f..(j + 1) * f];
            for b in features.blocks() {
                let answered = person[b.clone()].iter().any(|&v| v > 0.0);
                for i in b.clone() {
                    theta[i * k + j] = if answered {
                        0.5 * person[i] + 0.5 * frequency[i]
                    } else {
                        frequency[i]
                    };
                }
            }
        }
        let mut model = LatentClasses {
            classes: k,
            log_theta: theta.iter().map(|v| v.ln()).collect(),
            log_prior: vec![-(k as f32).ln(); k],
        };
        let x = Tensor::from_vec(x, (n, f), &Device::Cpu)?;
        let mut previous = f64::NEG_INFINITY;
        let mut iterations = 0;
        for _ in 0..settings.max_iterations {
            iterations += 1;
            // E: responsibilities.
            let log_theta = Tensor::from_slice(&model.log_theta, (f, k), &Device::Cpu)?;
            let mut r = x.matmul(&log_theta)?.flatten_all()?.to_vec1::<f32>()?;
            let log_likelihood: f64 = r
                .par_chunks_mut(CHUNK_ROWS * k)
                .map(|c| {
                    let mut ll = 0f64;
                    for row in c.chunks_mut(k) {
                        row.iter_mut()
                            .zip(&model.log_prior)
                            .for_each(|(v, p)| *v += p);
                        ll += f64::from(softmax(row));
                    }
                    ll
                })
                .collect::<Vec<f64>>()
                .iter()
                .sum();
            // M: class sizes and answer probabilities.
            let mut sizes = vec![0f64; k];
            for row in r.chunks(k) {
                sizes
                    .iter_mut()
                    .zip(row)
                    .for_each(|(s, v)| *s += f64::from(*v));
            }
            let counts = x
                .t()?
                .matmul(&Tensor::from_vec(r, (n, k), &Device::Cpu)?)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            for b in features.blocks() {
                for j in 0..k {
                    let sum: f32 = b.clone().map(|i| counts[i * k + j]).sum();
                    for i in b.clone() {
                        model.log_theta[i * k + j] =
                            ((counts[i * k + j] + frequency[i]) / (sum + 1.0)).ln();
                    }
                }
            }
            let total: f64 = sizes.iter().sum::<f64>() + k as f64;
            model.log_prior = sizes
                .iter()
                .map(|s| ((s + 1.0) / total).ln() as f32)
                .collect();
            let mean = log_likelihood / n.max(1) as f64;
            if mean - previous < settings.tolerance {
                break;
            }
            previous = mean;
        }
        Ok((model, iterations))
    }

    /// Classes of the model.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Class posteriors of many people from their encoded demonstrations (`rows x features`,
    /// row-major), the log-likelihood scaled by `temperature`: `rows x classes`.
    pub fn posteriors(&self, inputs: Vec<f32>, temperature: f32) -> Result<Vec<f32>> {
        let (f, k) = (self.log_theta.len() / self.classes, self.classes);
        let rows = inputs.len() / f.max(1);
        if rows == 0 {
            return Ok(Vec::new());
        }
        let x = Tensor::from_vec(inputs, (rows, f), &Device::Cpu)?;
        let log_theta = Tensor::from_slice(&self.log_theta, (f, k), &Device::Cpu)?;
        let mut z = x.matmul(&log_theta)?.flatten_all()?.to_vec1::<f32>()?;
        z.par_chunks_mut(k).for_each(|row| {
            row.iter_mut()
                .zip(&self.log_prior)
                .for_each(|(v, p)| *v = temperature * *v + p);
            softmax(row);
        });
        Ok(z)
    }

    /// The predictive answer probabilities of a probe block (a feature range) given a class
    /// posterior.
    pub fn predictive(&self, posterior: &[f32], block: Range<usize>, out: &mut [f32]) {
        let k = self.classes;
        for (o, i) in out.iter_mut().zip(block) {
            *o = posterior
                .iter()
                .zip(&self.log_theta[i * k..(i + 1) * k])
                .map(|(p, l)| p * l.exp())
                .sum();
        }
        let sum: f32 = out.iter().sum();
        if sum > 0.0 {
            out.iter_mut().for_each(|v| *v /= sum);
        }
    }
}
