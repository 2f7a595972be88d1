//! The training loop: batches in a seeded order, gradient accumulation with the loss divided by
//! the supervised count of the whole step, clipping, AdamW, the linear schedule, step logs,
//! held-out loss, checkpoints written atomically and a resume that ends where an uninterrupted
//! run does.

use crate::data::SupervisedExample;
use crate::lora::LoraAdapter;
use crate::memory::PeakMemory;
use crate::optim::{AdamWConfig, Param, adamw_step, clip_factor, linear_schedule, warmup_steps};
use crate::pass::{self, PassOptions};
use crate::{Error, Result};
use candle_core::{Tensor, Var};
use indievalue_files::JsonLines;
use indievalue_llm::{DropoutStream, Llama};

use indievalue_rng::{Rng, label};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// File name of the step log in a run's directory.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// The marker a checkpoint directory gets last: a checkpoint without it is torn and ignored.
pub const CHECKPOINT_MARKER: &str = "COMPLETE";

fn candle(context: &'static str) -> impl FnOnce(candle_core::Error) -> Error {
    move |source| Error::Tensor { context, source }
}

/// How long and how a run trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// AdamW.
    pub optimizer: AdamWConfig,
    /// Examples per micro-batch (consecutive in the data order, right-padded).
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Optimizer steps; `None`: `ceil(epochs · steps per epoch)`.
    pub max_steps: Option<u64>,
    /// Epochs, when `max_steps` is not given.
    pub epochs: f64,
    /// Warmup steps = `ceil(ratio · total)`.
    pub warmup_ratio: f64,
    /// Clip gradients to this global L2 norm (`None` or 0: no clipping).
    pub max_grad_norm: Option<f64>,
    /// Seed of the data order and of dropout.
    pub seed: u64,
    /// Shuffle the examples every epoch (else file order).
    pub shuffle: bool,
    /// Write a checkpoint every this many steps (and always at the end).
    pub save_every: Option<u64>,
    /// Held-out loss every this many steps (and at step 0 and the end), with eval examples.
    pub eval_every: Option<u64>,
    /// Supervised positions projected onto the vocabulary (and backpropagated) at a time.
    pub loss_chunk: usize,
    /// Gradient checkpointing: keep only each layer's input, rerun the layer in the backward
    /// pass (less memory, one more forward pass of compute).
    #[serde(default)]
    pub gradient_checkpointing: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            optimizer: AdamWConfig::default(),
            batch_size: 1,
            grad_accum: 1,
            max_steps: None,
            epochs: 1.0,
            warmup_ratio: 0.0,
            max_grad_norm: Some(1.0),
            seed: 0,
            shuffle: true,
            save_every: None,
            eval_every: None,
            loss_chunk: 128,
            gradient_checkpointing: false,
        }
    }
}

impl TrainConfig {
    /// How each micro-batch's pass spends memory.
    pub fn pass_options(&self) -> PassOptions {
        PassOptions {
            loss_chunk: self.loss_chunk,
            checkpointing: self.gradient_checkpointing,
        }
    }
}

/// One optimizer step's log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    /// Optimizer steps done (1 for the first).
    pub step: u64,
    /// The step's loss, from its own forward pass before its update.
    pub loss: f64,
    /// The learning rate its update used.
    pub lr: f64,
    /// The global gradient norm before clipping.
    pub grad_norm: f64,
    /// Tokens run (padding excluded).
    pub tokens: usize,
    /// Tokens per second of the step.
    pub tokens_per_s: f64,
    /// Peak memory since training started, in bytes: the process's resident set on CPU, the
    /// device's memory in use on CUDA (absent where it cannot be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
}

/// A held-out loss line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalLog {
    /// Optimizer steps done when it was measured.
    pub step: u64,
    /// Summed loss over the held-out supervised targets divided by their number.
    pub eval_loss: f64,
}

/// A line of `metrics.jsonl`: a step or an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetricsLine {
    /// An optimizer step.
    Step(StepLog),
    /// A held-out loss.
    Eval(EvalLog),
}

impl MetricsLine {
    fn step(&self) -> u64 {
        match self {
            MetricsLine::Step(s) => s.step,
            MetricsLine::Eval(e) => e.step,
        }
    }
}

/// What is trained.
pub enum Trainable {
    /// A LoRA adapter (attached to the model); the base stays frozen.
    Lora(LoraAdapter),
    /// Every weight of the model, by Hugging Face name (the model computes with these variables).
    Full(Vec<(String, Var)>),
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct TrainOutcome {
    /// The step the run started from (0, or a checkpoint's).
    pub resumed_from: u64,
    /// The last step done.
    pub steps: u64,
    /// Total steps of the run.
    pub total_steps: u64,
    /// The last step's loss.
    pub last_loss: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CheckpointState {
    step: u64,
    total_steps: u64,
    warmup_steps: u64,
    examples: usize,
    config: TrainConfig,
}

/// A training run writing into one directory (`metrics.jsonl`, `checkpoint-STEP/`).
pub struct Trainer<'a> {
    model: &'a mut Llama,
    trainable: Trainable,
    params: Vec<Param>,
    config: TrainConfig,
    out: PathBuf,
}

impl<'a> Trainer<'a> {
    /// A trainer of `trainable` on `model`, writing into `out`. A LoRA adapter is attached to
    /// the model here.
    pub fn new(
        model: &'a mut Llama,
        trainable: Trainable,
        config: TrainConfig,
        out: impl Into<PathBuf>,
    ) -> Result<Trainer<'a>> {
        if config.batch_size == 0 || config.grad_accum == 0 {
            return Err(Error::Config(
                "batch size and accumulation must be at least 1".into(),
            ));
        }
        let params = match &trainable {
            Trainable::Lora(adapter) => {
                adapter.attach(model)?;
                adapter
                    .named_vars()
                    .into_iter()
                    .map(|(n, v)| Param::new(n, v, true))
                    .collect::<Result<Vec<_>>>()?
            }
            Trainable::Full(vars) => vars
                .iter()
                .map(|(n, v)| Param::new(n.clone(), v.clone(), crate::optim::decays(n)))
                .collect::<Result<Vec<_>>>()?,
        };
        Ok(Trainer {
            model,
            trainable,
            params,
            config,
            out: out.into(),
        })
    }

    /// The trained parameters.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// What is trained.
    pub fn trainable(&self) -> &Trainable {
        &self.trainable
    }

    /// The model.
    pub fn model(&self) -> &Llama {
        self.model
    }

    /// Optimizer steps per epoch and in all, and warmup steps, for `examples` examples.
    pub fn schedule(&self, examples: usize) -> (u64, u64, u64) {
        let micro = examples.div_ceil(self.config.batch_size);
        let per_epoch = (micro.div_ceil(self.config.grad_accum)).max(1) as u64;
        let total = self
            .config
            .max_steps
            .unwrap_or_else(|| (self.config.epochs * per_epoch as f64).ceil() as u64);
        (
            per_epoch,
            total,
            warmup_steps(self.config.warmup_ratio, total),
        )
    }

    /// The order of the examples in `epoch`: file order, or a shuffle seeded per epoch.
    fn epoch_order(&self, epoch: u64, examples: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..examples).collect();
        if self.config.shuffle {
            Rng::derive(self.config.seed, &[label("data-order"), epoch]).shuffle(&mut order);
        }
        order
    }

    /// The micro-batches (indices into the examples) of the step at `within` (0-based) of an
    /// epoch taken in `order`.
    fn step_batches(&self, order: &[usize], within: usize) -> Vec<Vec<usize>> {
        let per_step = self.config.batch_size * self.config.grad_accum;
        let start = (within * per_step).min(order.len());
        let end = (start + per_step).min(order.len());
        order[start..end]
            .chunks(self.config.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// Held-out loss: summed loss over every supervised target of `examples` divided by their
    /// number, without dropout and without gradients kept.
    pub fn eval_loss(&mut self, examples: &[SupervisedExample]) -> Result<f64> {
        let (mut sum, mut n) = (0f64, 0usize);
        for chunk in examples.chunks(self.config.batch_size) {
            let refs: Vec<&SupervisedExample> = chunk.iter().collect();
            let (s, k) = pass::summed_loss_no_grad(self.model, &refs, self.config.loss_chunk)?;
            sum += s;
            n += k;
        }
        Ok(sum / n.max(1) as f64)
    }

    /// Trains on `train` (held-out loss on `eval`, if any), resuming from the newest complete
    /// checkpoint in the output directory when `resume` is set. `on_step` hears of every step.
    pub fn train(
        &mut self,
        train: &[SupervisedExample],
        eval: &[SupervisedExample],
        resume: bool,
        on_step: &mut dyn FnMut(&StepLog, u64),
    ) -> Result<TrainOutcome> {
        if train.is_empty() {
            return Err(Error::Config("no training examples".into()));
        }
        indievalue_files::create_dir_all(&self.out)?;
        let (per_epoch, total, warmup) = self.schedule(train.len());
        let metrics = JsonLines::new(self.out.join(METRICS_FILE));
        let mut start = 0;
        if resume && let Some((step, dir)) = newest_checkpoint(&self.out)? {
            self.restore(&dir, train.len())?;
            start = step;
        }
        // The log keeps exactly the lines of the steps done (a killed run may have logged
        // steps after its last checkpoint).
        let kept: Vec<MetricsLine> = if start > 0 && metrics.exists() {
            metrics.recover()?;
            metrics
                .read_records::<MetricsLine>()?
                .into_iter()
                .filter(|l| l.step() <= start)
                .collect()
        } else {
            Vec::new()
        };
        metrics.write_records(&kept)?;
        if start == 0 && !eval.is_empty() {
            let eval_loss = self.eval_loss(eval)?;
            metrics.append(&[MetricsLine::Eval(EvalLog { step: 0, eval_loss })])?;
        }
        let mut outcome = TrainOutcome {
            resumed_from: start,
            steps: start,
            total_steps: total,
            last_loss: None,
        };
        let mut order: Option<(u64, Vec<usize>)> = None;
        let memory = PeakMemory::start(self.model.device());
        for s in start..total {
            let clock = Instant::now();
            let epoch = s / per_epoch;
            if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                order = Some((epoch, self.epoch_order(epoch, train.len())));
            }
            let batches = match &order {
                Some((_, o)) => self.step_batches(o, (s % per_epoch) as usize),
                None => Vec::new(),
            };
            let supervised: usize = batches
                .iter()
                .flatten()
                .map(|&i| train[i].supervised())
                .sum();
            let mut grads: Vec<Option<Tensor>> = vec![None; self.params.len()];
            let (mut step_loss, mut tokens) = (0f64, 0usize);
            let options = self.config.pass_options();
            let vars: Vec<&Var> = self.params.iter().map(Param::grad_var).collect();
            for (m, batch) in batches.iter().enumerate() {
                let seed = self.config.seed;
                let dropout = move |layer: usize| {
                    let path = [label("dropout"), s, m as u64, layer as u64];
                    DropoutStream::new(Rng::derive(seed, &path))
                };
                let refs: Vec<&SupervisedExample> = batch.iter().map(|&i| &train[i]).collect();
                tokens += refs.iter().map(|e| e.input_ids.len()).sum::<usize>();
                let scale = 1.0 / supervised.max(1) as f64;
                let (sum, _) = pass::forward_backward(
                    self.model,
                    &refs,
                    &vars,
                    &mut grads,
                    scale,
                    &options,
                    Some(&dropout),
                )?;
                step_loss += sum * scale;
            }
            drop(vars);
            let grads: Vec<Tensor> = grads
                .into_iter()
                .zip(&self.params)
                .map(|(g, p)| match g {
                    Some(g) => Ok(g),
                    None => p.master.zeros_like().map_err(candle("gradient")),
                })
                .collect::<Result<_>>()?;
            let (norm, factor) = clip_factor(&grads, self.config.max_grad_norm.unwrap_or(0.0))?;
            let clipping = self.config.max_grad_norm.is_some_and(|m| m > 0.0);
            let grad_scale = if clipping { factor } else { 1.0 };
            let lr = self.config.optimizer.lr * linear_schedule(s, warmup, total);
            let optimizer = &self.config.optimizer;
            adamw_step(&mut self.params, &grads, optimizer, lr, s + 1, grad_scale)?;
            let secs = clock.elapsed().as_secs_f64();
            let log = StepLog {
                step: s + 1,
                loss: step_loss,
                lr,
                grad_norm: norm,
                tokens,
                tokens_per_s: tokens as f64 / secs.max(1e-9),
                peak_memory_bytes: memory.peak(),
            };
            metrics.append(&[MetricsLine::Step(log.clone())])?;
            on_step(&log, total);
            outcome.steps = s + 1;
            outcome.last_loss = Some(step_loss);
            let last = s + 1 == total;
            if !eval.is_empty()
                && (last
                    || self
                        .config
                        .eval_every
                        .is_some_and(|e| e > 0 && (s + 1) % e == 0))
            {
                let eval_loss = self.eval_loss(eval)?;
                metrics.append(&[MetricsLine::Eval(EvalLog {
                    step: s + 1,
                    eval_loss,
                })])?;
            }
            if last
                || self
                    .config
                    .save_every
                    .is_some_and(|e| e > 0 && (s + 1) % e == 0)
            {
                self.save_checkpoint(s + 1, total, warmup, train.len())?;
            }
        }
        Ok(outcome)
    }

    /// Writes `OUT/checkpoint-STEP/`: the trained weights (f32 masters), the optimizer's
    /// moments, the step and schedule, then the completion marker, each file atomically.
    fn save_checkpoint(&self, step: u64, total: u64, warmup: u64, examples: usize) -> Result<()> {
        let dir = self.out.join(format!("checkpoint-{step}"));
        indievalue_files::create_dir_all(&dir)?;
        let _ = std::fs::remove_file(dir.join(CHECKPOINT_MARKER));
        let weights: Vec<(String, Tensor)> = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.master.as_tensor().clone()))
            .collect();
        crate::tensors::write_safetensors(&dir.join("trainable.safetensors"), &weights, None)?;
        let mut moments = Vec::with_capacity(self.params.len() * 2);
        for p in &self.params {
            moments.push((format!("{}.exp_avg", p.name), p.m.clone()));
            moments.push((format!("{}.exp_avg_sq", p.name), p.v.clone()));
        }
        crate::tensors::write_safetensors(&dir.join("optimizer.safetensors"), &moments, None)?;
        let state = CheckpointState {
            step,
            total_steps: total,
            warmup_steps: warmup,
            examples,
            config: self.config.clone(),
        };
        indievalue_files::write_json_atomic(&dir.join("state.json"), &state)?;
        indievalue_files::write_atomic(&dir.join(CHECKPOINT_MARKER), b"")?;
        Ok(())
    }

    fn restore(&mut self, dir: &Path, examples: usize) -> Result<()> {
        let state: CheckpointState = indievalue_files::read_json(&dir.join("state.json"))?;
        if state.config != self.config || state.examples != examples {
            return Err(Error::Config(format!(
                "{} was written by a run with other settings or data; use another --out or drop --resume",
                dir.display()
            )));
        }
        let device = self.model.device().clone();
        let mut weights =
            crate::tensors::read_safetensors(&dir.join("trainable.safetensors"), &device)?;
        let mut moments =
            crate::tensors::read_safetensors(&dir.join("optimizer.safetensors"), &device)?;
        for p in &mut self.params {
            let missing = |what: &str| {
                Error::Config(format!("{}: {what} of {} missing", dir.display(), p.name))
            };
            let w = weights.remove(&p.name).ok_or_else(|| missing("weights"))?;
            p.master.set(&w).map_err(candle("restoring weights"))?;
            if let Some(c) = &p.compute {
                c.set(&w.to_dtype(c.dtype()).map_err(candle("restoring"))?)
                    .map_err(candle("restoring"))?;
            }
            p.m = moments
                .remove(&format!("{}.exp_avg", p.name))
                .ok_or_else(|| missing("exp_avg"))?;
            p.v = moments
                .remove(&format!("{}.exp_avg_sq", p.name))
                .ok_or_else(|| missing("exp_avg_sq"))?;
        }
        Ok(())
    }
}

impl Trainable {
    /// Writes the result into `out`: a LoRA adapter as PEFT's `save_pretrained` does, or every
    /// weight as a Hugging Face model directory (`model.safetensors`, sharded past 5 GB, with
    /// `config.json` and the tokenizer's files when `files` gives them: see
    /// [`crate::export::config_and_tokenizer`]).
    pub fn save(
        &self,
        out: &Path,
        base_model: &str,
        files: Option<&crate::export::ConfigAndTokenizer>,
    ) -> Result<()> {
        match self {
            Trainable::Lora(adapter) => adapter.save(out, base_model),
            Trainable::Full(vars) => {
                let tensors: Vec<(String, Tensor)> = vars
                    .iter()
                    .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
                    .collect();
                let max = crate::export::MAX_SHARD_BYTES;
                match files {
                    Some(files) => {
                        crate::export::write_model_directory(out, &tensors, files, max)?;
                    }
                    None => crate::tensors::write_safetensors(
                        &out.join("model.safetensors"),
                        &tensors,
                        Some("pt"),
                    )?,
                }
                Ok(())
            }
        }
    }
}

/// A curve of `(step, loss)` points.
pub type LossCurve = Vec<(f64, f64)>;

/// The training and held-out loss curves of a run directory's `metrics.jsonl`.
pub fn loss_curves(out: &Path) -> Result<(LossCurve, LossCurve)> {
    let lines: Vec<MetricsLine> = JsonLines::new(out.join(METRICS_FILE)).read_records()?;
    let (mut train, mut eval) = (Vec::new(), Vec::new());
    for l in &lines {
        match l {
            MetricsLine::Step(s) => train.push((s.step as f64, s.loss)),
            MetricsLine::Eval(e) => eval.push((e.step as f64, e.eval_loss)),
        }
    }
    Ok((train, eval))
}

/// Loads a model for training: separate, differentiable weights; with `full`, every weight
/// registered as a variable (returned by Hugging Face name), else all frozen tensors.
pub fn load_for_training(
    source: &indievalue_llm::ModelSource,
    options: &indievalue_llm::LoadOptions,
    full: bool,
) -> Result<(indievalue_llm::LoadedModel, Vec<(String, Var)>)> {
    let mut options = options.clone();
    options.kernels = indievalue_llm::Kernels::Differentiable;
    let mut vars = Vec::new();
    let model = indievalue_llm::load_model_with(source, &options, |name, t| {
        if !full {
            return Ok(indievalue_llm::HookedWeight::Tensor(t));
        }
        let v = Var::from_tensor(&t).map_err(|source| indievalue_llm::Error::Candle {
            context: name.to_owned(),
            source,
        })?;
        vars.push((name.to_owned(), v.clone()));
        Ok(indievalue_llm::HookedWeight::Var(v))
    })?;
    Ok((model, vars))
}

/// The newest checkpoint of a run directory that has its completion marker.
pub fn newest_checkpoint(out: &Path) -> Result<Option<(u64, PathBuf)>> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(None);
    };
    let mut best: Option<(u64, PathBuf)> = None;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(step) = name
            .strip_prefix("checkpoint-")
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if !e.path().join(CHECKPOINT_MARKER).exists() {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| step > *b) {
            best = Some((step, e.path()));
        }
    }
    Ok(best)
}
