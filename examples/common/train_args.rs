//! The training flags (LoRA shape, optimizer, schedule, data order, checkpoints) shared by the
//! examples that fine-tune (`finetune`), and what they turn into.

use indievalue::finetune::plan::{PlanSpec, TrainingKernels};
use indievalue::finetune::{AdamWConfig, LoraConfig, LoraOverrides, TrainConfig};
use indievalue::llm::{DType, Projection, parse_dtype};

/// How to train.
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct TrainArgs {
    /// LoRA rank (default 16).
    #[arg(long)]
    pub lora_r: Option<usize>,
    /// LoRA alpha (default 2 x rank).
    #[arg(long)]
    pub lora_alpha: Option<f64>,
    /// LoRA dropout (default 0).
    #[arg(long)]
    pub lora_dropout: Option<f64>,
    /// Adapted modules (default all seven).
    #[arg(long)]
    pub target_modules: Option<String>,
    /// rsLoRA scaling alpha / sqrt(r).
    #[arg(long)]
    pub use_rslora: bool,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: f64,
    /// Optimizer steps (else --epochs).
    #[arg(long, conflicts_with = "epochs")]
    pub max_steps: Option<u64>,
    /// Epochs.
    #[arg(long, default_value_t = 1.0)]
    pub epochs: f64,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Warmup = ceil(ratio x steps); the first update then uses lr 0.
    #[arg(long, default_value_t = 0.0)]
    pub warmup_ratio: f64,
    /// Decoupled weight decay (not on norms or biases).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Clip gradients to this global norm (0: off).
    #[arg(long, default_value_t = 1.0)]
    pub max_grad_norm: f64,
    /// Longest example in tokens (prompts are cut from the left).
    #[arg(long, default_value_t = 4096)]
    pub max_seq_len: usize,
    /// Seed of the data order, dropout and a fresh adapter.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Examples in file order.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Checkpoint every N steps (and at the end).
    #[arg(long)]
    pub save_every: Option<u64>,
    /// Held-out loss every N steps.
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Keep only each layer's input and rerun the layer in the backward pass (less memory).
    #[arg(long)]
    pub gradient_checkpointing: bool,
    /// Supervised positions projected onto the vocabulary (and backpropagated) at a time.
    #[arg(long, default_value_t = TrainConfig::default().loss_chunk)]
    pub loss_chunk: usize,
}

impl TrainArgs {
    /// The trainer's settings.
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            optimizer: AdamWConfig {
                lr: self.lr,
                weight_decay: self.weight_decay,
                ..AdamWConfig::default()
            },
            batch_size: self.batch_size,
            grad_accum: self.grad_accum,
            max_steps: self.max_steps,
            epochs: self.epochs,
            warmup_ratio: self.warmup_ratio,
            max_grad_norm: Some(self.max_grad_norm).filter(|&g| g > 0.0),
            seed: self.seed,
            shuffle: !self.no_shuffle,
            save_every: self.save_every,
            eval_every: self.eval_every,
            loss_chunk: self.loss_chunk,
            gradient_checkpointing: self.gradient_checkpointing,
        }
    }

    /// The LoRA flags given (each `None` takes the default or the starting adapter's value).
    pub fn lora(&self) -> anyhow::Result<LoraOverrides> {
        let targets = self.target_modules.as_deref().map(LoraConfig::parse_targets).transpose()?;
        Ok(LoraOverrides {
            r: self.lora_r,
            alpha: self.lora_alpha,
            dropout: self.lora_dropout,
            targets,
            use_rslora: self.use_rslora,
        })
    }

    /// The memory plan of these settings for examples of `seq_len` tokens: full fine-tuning,
    /// or LoRA with these flags (or the starting adapter's rank and modules), in `dtype` on
    /// `device` (the CPU in f32 runs the fused kernels).
    #[allow(dead_code)]
    pub fn plan_spec(
        &self,
        full: bool,
        init_adapter: Option<&std::path::Path>,
        dtype: &str,
        device: &str,
        seq_len: usize,
    ) -> anyhow::Result<PlanSpec> {
        let dtype = parse_dtype(dtype)?;
        let lora = if full {
            None
        } else {
            let o = self.lora()?;
            let from = init_adapter.map(indievalue::finetune::read_config).transpose()?;
            let r = o.r.or(from.as_ref().map(|c| c.r)).unwrap_or(16);
            let targets: Vec<Projection> =
                o.targets.or(from.map(|c| c.targets)).unwrap_or_else(|| Projection::ALL.to_vec());
            Some((r, targets))
        };
        let kernels = if device == "cpu" && dtype == DType::F32 {
            TrainingKernels::Fused
        } else {
            TrainingKernels::Composed
        };
        Ok(PlanSpec {
            seq_len,
            batch_size: self.batch_size,
            lora,
            lora_dropout: !full && self.lora_dropout.is_some_and(|p| p > 0.0),
            dtype,
            checkpointing: self.gradient_checkpointing,
            loss_chunk: self.loss_chunk,
            supervised: None,
            kernels,
        })
    }
}
