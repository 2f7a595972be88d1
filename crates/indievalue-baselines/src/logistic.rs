//! A multinomial logistic regression per probe question over the one-hot demonstrations, all
//! probe questions of a setup fitted jointly: one shared input row, one softmax block per
//! question, so every step is two matrix products.
//!
//! The objective is the sum over training rows of the log-loss of every answered probe question
//! (a row of a person drawn `r` times weighs `1 / r`), plus `lambda / 2` times the squared
//! weights (the intercepts are not penalised): `lambda` is a prior precision, so the same value
//! means the same thing for any number of training people. It is minimised by argmin's L-BFGS
//! with a More-Thuente line search; the matrix products are candle's (its CPU backend is the
//! pure-Rust `gemm` crate).

use crate::layout::ProbeBlocks;
use crate::{Error, Result};
use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use candle_core::{Device, Tensor};
use indievalue_catalog::NO_ANSWER;
use rayon::prelude::*;
use std::cell::RefCell;

/// Rows per parallel chunk of the softmax pass (fixed, so sums are taken in the same order on
/// every run).
const CHUNK_ROWS: usize = 256;

/// L-BFGS history length.
const HISTORY: usize = 10;

/// Training rows: encoded demonstrations and the probe answers to predict.
#[derive(Debug, Clone)]
pub(crate) struct TrainingRows {
    /// `rows x columns` (one-hot features then the intercept), f32.
    inputs: Tensor,
    /// `rows x blocks`: the answer of every probe question, [`NO_ANSWER`] where missing.
    targets: Vec<u8>,
    /// The weight of a row in the objective (one over the person's replicates).
    row_weight: f32,
    rows: usize,
}

impl TrainingRows {
    /// Rows from `inputs` (`rows x columns`, row-major) and `targets` (`rows x blocks`).
    pub fn new(
        inputs: Vec<f32>,
        columns: usize,
        targets: Vec<u8>,
        row_weight: f32,
    ) -> Result<TrainingRows> {
        let rows = inputs.len() / columns.max(1);
        let inputs = Tensor::from_vec(inputs, (rows, columns), &Device::Cpu)?;
        Ok(TrainingRows {
            inputs,
            targets,
            row_weight,
            rows,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }
}

/// Settings of one fit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FitSettings {
    /// Prior precision of the weights.
    pub lambda: f64,
    /// L-BFGS iterations at most.
    pub max_iterations: u64,
    /// Stop when an iteration improves the objective by less than this per unit of row weight.
    pub cost_tolerance: f64,
}

/// A fitted model: `columns x width` weights, row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogisticModel {
    columns: usize,
    width: usize,
    weights: Vec<f32>,
}

/// One evaluation of the objective: the parameters, the cost and the gradient there.
struct Evaluated {
    param: Vec<f64>,
    cost: f64,
    gradient: Vec<f64>,
}

/// The objective, with the last evaluation kept: the line search asks for the cost and then the
/// gradient at the same point, and both come from one pass.
struct Objective<'a> {
    data: &'a TrainingRows,
    blocks: &'a ProbeBlocks,
    /// Penalised weights: the first `features x width` (not the intercept row).
    penalised: usize,
    lambda: f64,
    last: RefCell<Option<Evaluated>>,
}

impl Objective<'_> {
    fn evaluate(&self, param: &[f64]) -> Result<(f64, Vec<f64>)> {
        let width = self.blocks.width();
        let columns = param.len() / width;
        let w: Vec<f32> = param.iter().map(|&v| v as f32).collect();
        let w = Tensor::from_vec(w, (columns, width), &Device::Cpu)?;
        let mut z: Vec<f32> = self
            .data
            .inputs
            .matmul(&w)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let nb = self.blocks.len();
        let row_weight = self.data.row_weight;
        // Softmax per block, the loss, and the residuals (probabilities minus the answer).
        let losses: Vec<f64> = z
            .par_chunks_mut(CHUNK_ROWS * width)
            .zip(self.data.targets.par_chunks(CHUNK_ROWS * nb))
            .map(|(zs, ts)| {
                let mut loss = 0f64;
                for (row, targets) in zs.chunks_mut(width).zip(ts.chunks(nb)) {
                    loss += f64::from(softmax_residuals(row, targets, self.blocks, row_weight));
                }
                loss
            })
            .collect();
        let residuals = Tensor::from_vec(z, (self.data.rows, width), &Device::Cpu)?;
        let g = self
            .data
            .inputs
            .t()?
            .matmul(&residuals)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let mut cost: f64 = losses.iter().sum();
        let mut grad: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
        for (gi, &wi) in grad[..self.penalised]
            .iter_mut()
            .zip(&param[..self.penalised])
        {
            *gi += self.lambda * wi;
            cost += 0.5 * self.lambda * wi * wi;
        }
        Ok((cost, grad))
    }

    fn cached(&self, param: &[f64]) -> std::result::Result<(f64, Vec<f64>), argmin::core::Error> {
        if let Some(e) = self.last.borrow().as_ref()
            && e.param.as_slice() == param
        {
            return Ok((e.cost, e.gradient.clone()));
        }
        let (cost, gradient) = self
            .evaluate(param)
            .map_err(|e| argmin::core::Error::msg(e.to_string()))?;
        *self.last.borrow_mut() = Some(Evaluated {
            param: param.to_vec(),
            cost,
            gradient: gradient.clone(),
        });
        Ok((cost, gradient))
    }
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, param: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.cached(param)?.0)
    }
}

impl Gradient for Objective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, param: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.cached(param)?.1)
    }
}

/// Turns a row of logits into `row_weight x (probabilities - answer)` per answered block (zeros
/// for a missing answer) and returns the row's weighted log-loss.
fn softmax_residuals(
    row: &mut [f32],
    targets: &[u8],
    blocks: &ProbeBlocks,
    row_weight: f32,
) -> f32 {
    let mut loss = 0f32;
    for (j, &t) in targets.iter().enumerate() {
        let block = &mut row[blocks.range(j)];
        if t == NO_ANSWER || usize::from(t) >= block.len() {
            block.iter_mut().for_each(|v| *v = 0.0);
            continue;
        }
        let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for v in block.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let t = usize::from(t);
        loss -= row_weight * (block[t] / sum).max(f32::MIN_POSITIVE).ln();
        for v in block.iter_mut() {
            *v = row_weight * (*v / sum);
        }
        block[t] -= row_weight;
    }
    loss
}

/// Softmax of every block of a row of logits, in place.
fn softmax_blocks(row: &mut [f32], blocks: &ProbeBlocks) {
    for j in 0..blocks.len() {
        let block = &mut row[blocks.range(j)];
        let max = block.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for v in block.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        block.iter_mut().for_each(|v| *v /= sum);
    }
}

impl LogisticModel {
    /// Fits the model on `data` (`features` one-hot columns then the intercept), starting from
    /// `start` (a model of the same shape) or from zero weights; returns it with the L-BFGS
    /// iterations run.
    pub fn fit(
        data: &TrainingRows,
        blocks: &ProbeBlocks,
        features: usize,
        settings: &FitSettings,
        start: Option<&LogisticModel>,
    ) -> Result<(LogisticModel, u64)> {
        let (columns, width) = (features + 1, blocks.width());
        let init: Vec<f64> = match start {
            Some(m) if m.columns == columns && m.width == width => {
                m.weights.iter().map(|&v| f64::from(v)).collect()
            }
            _ => vec![0.0; columns * width],
        };
        if data.len() == 0 || width == 0 {
            return Ok((LogisticModel::from_params(columns, width, &init), 0));
        }
        let problem = Objective {
            data,
            blocks,
            penalised: features * width,
            lambda: settings.lambda,
            last: RefCell::new(None),
        };
        let person_weight = f64::from(data.row_weight) * data.len() as f64;
        let optimiser = |e: argmin::core::Error| Error::Optimiser(format!("{e:#}"));
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), HISTORY)
            .with_tolerance_grad(0.0)
            .map_err(optimiser)?
            .with_tolerance_cost(settings.cost_tolerance * person_weight)
            .map_err(optimiser)?;
        let mut result = Executor::new(problem, solver)
            .configure(|state| state.param(init).max_iters(settings.max_iterations))
            .run()
            .map_err(optimiser)?;
        let best = result
            .state
            .take_best_param()
            .ok_or_else(|| Error::Optimiser("L-BFGS returned no parameters".into()))?;
        let iterations = result.state.iter;
        Ok((
            LogisticModel::from_params(columns, width, &best),
            iterations,
        ))
    }

    fn from_params(columns: usize, width: usize, params: &[f64]) -> LogisticModel {
        LogisticModel {
            columns,
            width,
            weights: params.iter().map(|&v| v as f32).collect(),
        }
    }

    /// The probabilities of every block for `inputs` (`rows x columns`, row-major): `rows x
    /// width`, row-major.
    pub fn probabilities(&self, inputs: Vec<f32>, blocks: &ProbeBlocks) -> Result<Vec<f32>> {
        let rows = inputs.len() / self.columns;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let x = Tensor::from_vec(inputs, (rows, self.columns), &Device::Cpu)?;
        let w = Tensor::from_slice(&self.weights, (self.columns, self.width), &Device::Cpu)?;
        let mut z = x.matmul(&w)?.flatten_all()?.to_vec1::<f32>()?;
        z.par_chunks_mut(self.width)
            .for_each(|row| softmax_blocks(row, blocks));
        Ok(z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::ProbeBlocks;

    /// Two probe questions (2 and 3 options), three one-hot features and the intercept.
    fn problem() -> (TrainingRows, ProbeBlocks) {
        let blocks = ProbeBlocks::from_sizes(&[2, 3]);
        let inputs = vec![
            1.0, 0.0, 1.0, 1.0, //
            0.0, 1.0, 0.0, 1.0, //
            1.0, 1.0, 0.0, 1.0, //
            0.0, 0.0, 1.0, 1.0, //
            1.0, 0.0, 0.0, 1.0,
        ];
        let targets = vec![0, 2, 1, NO_ANSWER, 0, 1, 1, 0, 0, 2];
        (TrainingRows::new(inputs, 4, targets, 0.5).unwrap(), blocks)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (data, blocks) = problem();
        let objective = Objective {
            data: &data,
            blocks: &blocks,
            penalised: 3 * 5,
            lambda: 0.7,
            last: RefCell::new(None),
        };
        let param: Vec<f64> = (0..20)
            .map(|i| ((i * 7) % 11) as f64 / 10.0 - 0.5)
            .collect();
        let (_, grad) = objective.evaluate(&param).unwrap();
        for i in 0..param.len() {
            let h = 1e-2;
            let (mut up, mut down) = (param.clone(), param.clone());
            up[i] += h;
            down[i] -= h;
            let numeric = (objective.evaluate(&up).unwrap().0
                - objective.evaluate(&down).unwrap().0)
                / (2.0 * h);
            assert!(
                (numeric - grad[i]).abs() < 2e-3,
                "{i}: {numeric} vs {}",
                grad[i]
            );
        }
    }

    #[test]
    fn fitting_lowers_the_objective_and_predicts_the_training_answers() {
        let (data, blocks) = problem();
        let settings = FitSettings {
            lambda: 0.01,
            max_iterations: 200,
            cost_tolerance: 0.0,
        };
        let (model, _) = LogisticModel::fit(&data, &blocks, 3, &settings, None).unwrap();
        let objective = Objective {
            data: &data,
            blocks: &blocks,
            penalised: 15,
            lambda: 0.01,
            last: RefCell::new(None),
        };
        let start = objective.evaluate(&[0.0; 20]).unwrap().0;
        let params: Vec<f64> = model.weights.iter().map(|&w| f64::from(w)).collect();
        assert!(objective.evaluate(&params).unwrap().0 < 0.2 * start);
        // Rows 0 and 2 of the training data: first block 0 and 0, second 2 and 1.
        let p = model
            .probabilities(vec![1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0], &blocks)
            .unwrap();
        assert!(p[0] > 0.8 && p[4] > 0.8, "{p:?}");
        assert!(p[5] > 0.8 && p[8] > 0.8, "{p:?}");
        let sums: Vec<f32> = vec![p[0] + p[1], p[2] + p[3] + p[4]];
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
    }
}
